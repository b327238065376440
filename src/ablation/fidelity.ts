/**
 * supernetFidelity (`vitas supernet rank`): how well one *trained* supernet ranks subnets — Kendall
 * τ between inherited-weight and stand-alone validation top-1 over K subnets of matched cost, with a
 * bootstrap interval, and the data-free proxies against the same stand-alone accuracies. An
 * ablation trains a supernet per arm; this measures the supernet a search will actually use.
 */
import { join } from 'node:path';
import { loadData } from '../data/load.js';
import { budgetWindow } from '../definition/budget.js';
import { loadDefinition, resolveSpace } from '../definition/definition.js';
import { writeAtomic } from '../io.js';
import { prepareRunFolder } from '../run-folder.js';
import { markdownTable } from '../report/markdown.js';
import { median } from '../report/stats.js';
import { scatterSvg } from '../report/svg.js';
import { formatMacs } from '../space/budget.js';
import { costOf } from '../space/cost.js';
import { canonicalSpec, describeSpec } from '../space/spec.js';
import { calibrationImages } from '../supernet/batchnorm.js';
import { loadSupernet } from '../supernet/trainer.js';
import { inheritedScores, type InheritedScores } from './inherited.js';
import { DEFAULT_RETRAIN, type RetrainRecipe } from '../retrain/retrain.js';
import { kendallTauInterval, type TauInterval } from './kendall.js';
import { proxyFidelity, type ProxyFidelity } from './proxy-fidelity.js';
import { StandaloneCache } from './standalone-cache.js';
import { drawSubnets, standaloneOverSeeds } from './subnets.js';

export interface FidelityOptions {
  /** the search definition the supernet was trained with */
  config: string;
  /** run folder holding supernet.ckpt */
  supernet: string;
  out: string;
  /** how many matched-cost subnets (20) */
  subnets?: number;
  /** stand-alone epochs per subnet, with the definition's retrain recipe otherwise (2) */
  epochs?: number;
  /** stand-alone training reads only the first N training images (validation carved from them); default: all */
  limit?: number;
  /** inherited accuracy on the first N validation images (default: all) */
  valImages?: number;
  /** stand-alone trainings per subnet, seeds seed…seed+n−1 (1); with 2 or more the ground truth is their mean, and the τ between the first two seeds says how far any ranking can agree with it */
  seeds?: number;
  /** bootstrap resamples (2000) */
  bootstrap?: number;
  standaloneCache?: string;
  /** redis://…: train the stand-alone subnets on `vitas worker`s, all at once */
  queue?: string;
  force?: boolean;
  onLog?(m: string): void;
}

export interface FidelityResult extends TauInterval {
  out: string;
  /** the median subnet's inherited top-1 among the K: how well the supernet serves the subnets a search meets */
  inheritedMedian: number;
  /** `standalone`: the mean over `bySeed` (one accuracy per stand-alone seed) */
  /** `inheritedHalves`: inherited top-1 on the even- and the odd-numbered validation images */
  subnets: { spec: ReturnType<typeof canonicalSpec>; macs: number; params: number; inherited: number; inheritedHalves: [number, number]; standalone: number; bySeed: number[] }[];
  /** τ between the inherited accuracies on the two halves of the validation images: how far the inherited ranking is repeatable at half the images */
  inheritedRepeatability: TauInterval;
  proxies: ProxyFidelity[];
  standalone: { cache: string; reused: number; trained: number; epochs: number; seeds: number; limit?: number };
  /** with 2 or more seeds: τ between the first two seeds' stand-alone accuracies, the ceiling of any ranking's τ */
  repeatability?: TauInterval;
}

const pct = (v: number): string => `${(100 * v).toFixed(2)} %`;
const interval = (t: TauInterval): string => `[${t.lo.toFixed(3)}, ${t.hi.toFixed(3)}]`;

export async function supernetFidelity(o: FidelityOptions): Promise<FidelityResult> {
  const log = (m: string): void => o.onLog?.(m);
  const def = loadDefinition(o.config);
  const space = resolveSpace(def, o.config);
  const window = budgetWindow(def.budget.max, def.budget.min, def.budget.convention ?? 'macs');
  // the stand-alone accuracies live in the cache, so a stopped run keeps them and a rerun picks up there
  prepareRunFolder({ dir: o.out, what: 'ranking-fidelity run', markers: ['results.json', 'report.md'], outputs: ['results.json', 'kendall.svg', 'report.md'], resumable: false, ...(o.force ? { force: true } : {}) });
  const seed = def.supernet?.seed ?? 0;
  const count = o.subnets ?? 20;
  const epochs = o.epochs ?? 2;
  const subnets = drawSubnets(space, window, count, seed);
  log(`${subnets.length} subnets in [${formatMacs(window.min)}, ${formatMacs(window.max)}]`);

  // stand-alone: the definition's retrain recipe, shortened to `epochs` (warm-up at most half of them)
  const { epochs: _e, seeds: _s, augment, ...rest } = def.retrain ?? {};
  const recipe: Partial<RetrainRecipe> = {
    ...rest,
    ...(augment ? { augment: { ...DEFAULT_RETRAIN.augment, ...augment } } : {}),
    epochs,
    seed,
    warmupEpochs: Math.min(rest.warmupEpochs ?? DEFAULT_RETRAIN.warmupEpochs, epochs / 2),
  };
  const standaloneData = { ...def.data, ...(o.limit ? { limit: o.limit } : {}) };
  const cache = new StandaloneCache(o.standaloneCache ?? join('runs', 'standalone-cache'));
  // the checkpoint first: a wrong --supernet fails now, not after the stand-alone trainings
  const net = loadSupernet(space, join(o.supernet, 'supernet.ckpt'));
  let scores: InheritedScores;
  const boot = { seed, ...(o.bootstrap ? { samples: o.bootstrap } : {}) };
  const seeds = o.seeds ?? 1;
  let sa: Awaited<ReturnType<typeof standaloneOverSeeds>>;
  try {
    const splits = loadData(standaloneData, { validationFrom: `${o.config}: data.validation` });
    sa = await standaloneOverSeeds(subnets, { config: standaloneData, splits }, recipe, seeds, { cache, log, ...(o.queue ? { queue: o.queue } : {}), ...(o.bootstrap ? { bootstrap: o.bootstrap } : {}) });
    // each side is scored on images its own weights never trained on: the supernet on the
    // definition's validation split, each stand-alone network on the split of its (--limit) data
    const data = loadData(def.data, { validationFrom: `${o.config}: data.validation` });
    const calibration = calibrationImages(data.train);
    scores = inheritedScores(net, subnets, data.val, { slicing: def.supernet?.slicing ?? 'left', calibration, ...(o.valImages ? { limit: o.valImages } : {}) }, boot, (i, a) => log(`inherited ${i + 1}/${subnets.length}: ${formatMacs(costOf(subnets[i]!).macs)} → ${pct(a)}`));
  } finally {
    net.dispose();
  }
  const { accuracies: standalone, bySeed, repeatability, reused, trained } = sa;
  const inherited = scores.accuracies;
  const tau = kendallTauInterval(inherited, standalone, boot);
  log(`supernet: Kendall τ = ${tau.tau.toFixed(3)} ${interval(tau)}`);
  const proxies = proxyFidelity(space, subnets, standalone, { seed, ...(o.bootstrap ? { bootstrap: o.bootstrap } : {}) });
  for (const p of proxies) log(`proxy ${p.name}: Kendall τ = ${p.tau.toFixed(3)} ${interval(p)}`);

  const result: FidelityResult = {
    out: o.out,
    ...tau,
    inheritedMedian: median(inherited),
    subnets: subnets.map((s, i) => ({ spec: canonicalSpec(s), macs: costOf(s, window.convention).macs, params: costOf(s).params, inherited: inherited[i]!, inheritedHalves: scores.halves[i]!, standalone: standalone[i]!, bySeed: bySeed.map((acc) => acc[i]!) })),
    inheritedRepeatability: scores.repeatability,
    proxies,
    standalone: { cache: cache.dir, reused, trained, epochs, seeds, ...(o.limit ? { limit: o.limit } : {}) },
    ...(repeatability ? { repeatability } : {}),
  };
  writeFidelityReports(def.name, o, window, result);
  return result;
}

function writeFidelityReports(name: string, o: FidelityOptions, window: ReturnType<typeof budgetWindow>, r: FidelityResult): void {
  writeAtomic(join(r.out, 'results.json'), JSON.stringify({ definition: o.config, supernet: o.supernet, window, ...r }, null, 2) + '\n');
  const points = r.subnets.map((s) => ({ x: s.standalone, y: s.inherited, series: `supernet (τ ${r.tau.toFixed(2)})` }));
  writeAtomic(join(r.out, 'kendall.svg'), scatterSvg(points, { title: `${name}: inherited vs stand-alone accuracy`, xLabel: 'stand-alone validation top-1', yLabel: 'inherited (supernet) validation top-1', format: (v) => `${(100 * v).toFixed(1)}%` }));
  const s = r.standalone;
  const lines = [
    `# Ranking fidelity: ${name}`,
    '',
    `Supernet \`${o.supernet}\` (definition \`${o.config}\`), ${r.subnets.length} subnets of matched cost in [${formatMacs(window.min)}, ${formatMacs(window.max)}] MACs.`,
    `Stand-alone: the definition's retrain recipe for ${s.epochs} epoch(s)${s.limit ? ` on the first ${s.limit} training images` : ''}${s.seeds > 1 ? `, the mean of ${s.seeds} seeds` : ''} (${s.reused} trainings from the cache ${s.cache}, ${s.trained} trained now).`,
    `Inherited top-1 of the ${r.subnets.length} subnets: median ${pct(r.inheritedMedian)}, ${pct(Math.min(...r.subnets.map((x) => x.inherited)))} – ${pct(Math.max(...r.subnets.map((x) => x.inherited)))}.`,
    `Inherited: BatchNorm recalibrated, ${o.valImages ? `first ${o.valImages}` : 'all'} images of the definition's validation split${s.limit ? ' (the stand-alone networks are scored on the validation split of their own first ' + s.limit + ' images; each side on images its weights never trained on)' : ''}. [95 %]: percentile bootstrap over ${o.bootstrap ?? 2000} resamples of the subnets.`,
    '',
    markdownTable(['ranking by', 'Kendall τ', '95 % interval'], [
      ['supernet (inherited weights)', r.tau.toFixed(3), interval(r)],
      ...r.proxies.map((p) => [`proxy: ${p.name}`, p.tau.toFixed(3), interval(p)]),
      // how well one stand-alone seed ranks another: no ranking can be expected to agree better
      ...(r.repeatability ? [['stand-alone seed 1 vs seed 2 (the ceiling)', r.repeatability.tau.toFixed(3), interval(r.repeatability)]] : []),
      // the same for the supernet's side: validation images split in two
      ['inherited, even vs odd validation images', r.inheritedRepeatability.tau.toFixed(3), interval(r.inheritedRepeatability)],
    ]),
    '',
    '![inherited vs stand-alone accuracy](kendall.svg)',
    '',
    markdownTable(['MACs', 'params', 'inherited', 'stand-alone', 'spec'], r.subnets.map((x) => [formatMacs(x.macs), formatMacs(x.params), pct(x.inherited), x.bySeed.length > 1 ? `${pct(x.standalone)} (${x.bySeed.map(pct).join(', ')})` : pct(x.standalone), describeSpec(x.spec)]), ['right', 'right', 'right', 'right', 'left']),
    '',
  ];
  writeAtomic(join(r.out, 'report.md'), lines.join('\n'));
}
