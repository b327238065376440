/**
 * runAblation: every arm of an ablation trained and measured the same way, from code or
 * `vitas ablate FILE`. Arms share the data, the K matched-cost subnets and their stand-alone
 * accuracies (which do not depend on the arm), so only what the factor changes is recomputed.
 */
import { isAbsolute, join, resolve } from 'node:path';
import { loadData, type DataConfig } from '../data/load.js';
import { SupernetEvaluator } from '../evaluators/supernet.js';
import { writeAtomic } from '../io.js';
import { prepareRunFolder } from '../run-folder.js';
import { markdownTable } from '../report/markdown.js';
import { scatterSvg } from '../report/svg.js';
import { budgetWindow } from '../definition/budget.js';
import { bestOf, DEFAULT_EVOLUTION, initialState, runSearch } from '../search/evolution.js';
import { costOf } from '../space/cost.js';
import { formatMacs } from '../space/budget.js';
import { sampleSpec } from '../space/genome.js';
import { loadSpace } from '../space/load.js';
import { presetSpace, SPACES } from '../space/presets.js';
import { Rng } from '../space/rng.js';
import type { SearchSpace } from '../space/space.js';
import { canonicalSpec, specKey, type ArchSpec } from '../space/spec.js';
import { searchIdentityProbability } from '../space/identity-search.js';
import { calibrationImages } from '../supernet/batchnorm.js';
import { evaluateSubnet, trainSupernet } from '../supernet/trainer.js';
import type { TrainEvents } from '../train/events.js';
import { defaultStepThreads } from '../supernet/data-parallel.js';
import { evaluateModel } from '../train/evaluate.js';
import { retrain } from '../train/retrain.js';
import { absoluteData, fileRef, QueueEvaluator, runJobs, type StandaloneJob, type StandaloneResult } from '../queue/index.js';
import { kendallTau } from './kendall.js';
import { armName, arms as allArms, loadAblation, type AblationDefinition, type FactorValue } from './definition.js';

export interface ArmResult {
  name: string;
  factors: Record<string, FactorValue>;
  kendall?: { tau: number; inherited: number[]; standalone: number[]; macs: number[] };
  search?: { spec: ArchSpec; macs: number; inherited: number };
  retrain?: { valAccuracy: number; testAccuracy: number };
  seconds: number;
}

export interface AblationResult {
  name: string;
  out: string;
  arms: ArmResult[];
}

export interface AblationEvents {
  onLog?(m: string): void;
  training?: TrainEvents;
}

function armSpace(base: SearchSpace, arm: Record<string, FactorValue>): SearchSpace {
  if (arm.recursion === false) return { ...base, name: `${base.name}-norecursion`, recursion: [1] };
  return base;
}

export async function runAblation(definition: string | AblationDefinition, opts: { out: string; events?: AblationEvents; queue?: string; /** replace the report of an earlier run in `out` */ force?: boolean }): Promise<AblationResult> {
  const { def, base, baseDir } = loadAblation(definition);
  const log = (m: string): void => opts.events?.onLog?.(m);
  const out = opts.out;
  const baseSpace = SPACES[base.space] ? presetSpace(base.space) : loadSpace(isAbsolute(base.space) ? base.space : resolve(baseDir, base.space));
  const window = budgetWindow(base.budget.max, base.budget.min, base.budget.convention ?? 'macs');
  prepareRunFolder({ dir: out, what: 'finished ablation', markers: ['results.json', 'report.md'], outputs: ['results.json', 'results.csv', 'kendall.svg', 'report.md'], resumable: false, ...(opts.force ? { force: true } : {}) });
  const data = loadData(base.data);
  const seed = base.supernet?.seed ?? 0;
  const arms = allArms(def.factors);

  // K subnets of matched cost, inside every arm's space (no recursion if any arm forbids it)
  const k = def.metrics.kendall;
  let subnets: ArchSpec[] = [];
  let standalone: number[] = [];
  if (k) {
    const common = arms.some((a) => a.recursion === false) ? armSpace(baseSpace, { recursion: false }) : baseSpace;
    const rng = new Rng(`ablation:${def.name}:${seed}`);
    const pId = common.identity === 'anywhere' ? searchIdentityProbability(common, window, { seed }).pId : undefined;
    const seen = new Set<string>();
    for (let tries = 0; subnets.length < k.subnets && tries < 100_000; tries++) {
      const s = sampleSpec(common, rng, pId === undefined ? {} : { pId });
      const m = costOf(s, window.convention).macs;
      if (m >= window.min && m <= window.max && !seen.has(specKey(s))) {
        seen.add(specKey(s));
        subnets.push(s);
      }
    }
    subnets = subnets.sort((a, b) => costOf(a).macs - costOf(b).macs);
    log(`${subnets.length} subnets in [${formatMacs(window.min)}, ${formatMacs(window.max)}]: training each stand-alone for ${k.epochs} epoch(s)`);
    const recipe = { epochs: k.epochs, seed, warmupEpochs: Math.min(1, k.epochs / 2) };
    // through the queue: all K at once on the workers
    if (opts.queue) standalone = (await runJobs<StandaloneResult>(opts.queue, subnets.map((s) => standaloneJob(s, base.data, recipe, false)), { onLog: log })).results.map((r) => r.bestValAccuracy);
    else for (const [i, s] of subnets.entries()) {
      const r = await retrain({ spec: s, train: data.train, val: data.val, recipe });
      standalone.push(r.bestValAccuracy);
      r.model.dispose();
      log(`stand-alone ${i + 1}/${subnets.length}: ${formatMacs(costOf(s).macs)} → ${(100 * r.bestValAccuracy).toFixed(2)} %`);
    }
  }

  const results: ArmResult[] = [];
  for (const [i, arm] of arms.entries()) {
    const t0 = performance.now();
    const name = armName(arm);
    const space = armSpace(baseSpace, arm);
    log(`arm ${i + 1}/${arms.length} (${name}): training the supernet`);
    const recipe = {
      ...base.supernet,
      ...(arm.privateTokens !== undefined ? { privateTokens: arm.privateTokens as boolean } : {}),
      ...(arm.privateAttention !== undefined ? { privateAttention: arm.privateAttention as boolean } : {}),
      ...(arm.identitySearch !== undefined ? { sampling: arm.identitySearch ? ('identity-search' as const) : ('uniform' as const) } : {}),
      ...(arm.slicing !== undefined ? { slicing: arm.slicing as 'left' | 'two-sided' } : {}),
    };
    const trained = await trainSupernet({ space, data, recipe, budget: window, out: join(out, `arm-${i + 1}`), threads: defaultStepThreads(), ...(opts.events?.training ? { events: opts.events.training } : {}) });
    const net = trained.supernet;
    const res: ArmResult = { name, factors: arm, seconds: 0 };
    const calibration = calibrationImages(data.train);
    const evalOpts = { slicing: recipe.slicing ?? 'left', calibration, ...(k?.valImages ? { limit: k.valImages } : {}) };
    if (k) {
      const inherited = subnets.map((s) => evaluateSubnet(net, s, data.val, evalOpts));
      res.kendall = { tau: kendallTau(inherited, standalone), inherited, standalone, macs: subnets.map((s) => costOf(s).macs) };
      log(`arm ${name}: Kendall τ = ${res.kendall.tau.toFixed(3)}`);
    }
    if (def.metrics.search) {
      const s = base.search ?? {};
      const cfg = { ...DEFAULT_EVOLUTION, ...Object.fromEntries(Object.entries(s).filter(([key]) => key !== 'valImages')), strategy: (arm.strategy as 'evolution' | 'random' | undefined) ?? 'evolution', ...(space.identity === 'anywhere' ? { pId: searchIdentityProbability(space, window, { seed }).pId } : {}) };
      const slicing = recipe.slicing ?? 'left';
      const evaluator = opts.queue && trained.checkpoint
        ? new QueueEvaluator(opts.queue, { name: 'supernet', space, checkpoint: await fileRef(trained.checkpoint), data: absoluteData(base.data), slicing, ...(s.valImages ? { limit: s.valImages } : {}) }, { onLog: log })
        : new SupernetEvaluator(net, data.val, { slicing, calibration, ...(s.valImages ? { limit: s.valImages } : {}) });
      const st = await runSearch(space, evaluator, initialState(cfg, { macs: window }));
      const best = bestOf(st.history)!;
      res.search = { spec: best.spec, macs: best.macs, inherited: best.score };
      log(`arm ${name}: searched ${formatMacs(best.macs)} spec, inherited ${(100 * best.score).toFixed(2)} %`);
      if (def.metrics.retrain && opts.queue) {
        const [r] = (await runJobs<StandaloneResult>(opts.queue, [standaloneJob(best.spec, base.data, { epochs: def.metrics.retrain.epochs, seed }, true)], { onLog: log })).results;
        res.retrain = { valAccuracy: r!.bestValAccuracy, testAccuracy: r!.test?.top1 ?? NaN };
      } else if (def.metrics.retrain) {
        const r = await retrain({ spec: best.spec, train: data.train, val: data.val, recipe: { epochs: def.metrics.retrain.epochs, seed } });
        const test = loadData(base.data, { withTest: true }).test;
        res.retrain = { valAccuracy: r.bestValAccuracy, testAccuracy: test ? evaluateModel(r.model, test, 'test').top1 : NaN };
        r.model.dispose();
      }
    }
    net.dispose();
    res.seconds = (performance.now() - t0) / 1000;
    results.push(res);
  }
  writeReports(out, def, results, window);
  return { name: def.name, out, arms: results };
}

function standaloneJob(spec: ArchSpec, data: DataConfig, recipe: StandaloneJob['recipe'], test: boolean): StandaloneJob {
  return { kind: 'standalone', spec: canonicalSpec(spec), data: absoluteData(data), recipe, test };
}

const pct = (v: number | undefined): string => (v === undefined || Number.isNaN(v) ? '–' : `${(100 * v).toFixed(2)} %`);

function writeReports(out: string, def: AblationDefinition, arms: ArmResult[], window: { min: number; max: number; convention: string }): void {
  writeAtomic(join(out, 'results.json'), JSON.stringify({ name: def.name, definition: def, window, arms }, null, 2) + '\n');
  const factorNames = Object.keys(def.factors);
  const header = [...factorNames, 'Kendall τ', 'subnets', 'searched MACs', 'inherited top-1', 'retrained val', 'retrained test', 'seconds'];
  const rows = arms.map((a) => [
    ...factorNames.map((f) => String(a.factors[f])),
    a.kendall ? a.kendall.tau.toFixed(3) : '–',
    a.kendall ? String(a.kendall.inherited.length) : '–',
    a.search ? formatMacs(a.search.macs) : '–',
    pct(a.search?.inherited),
    pct(a.retrain?.valAccuracy),
    pct(a.retrain?.testAccuracy),
    a.seconds.toFixed(0),
  ]);
  writeAtomic(join(out, 'results.csv'), [header.join(','), ...rows.map((r) => r.map((c) => (c.includes(',') ? `"${c}"` : c)).join(','))].join('\n') + '\n');
  const parts = [`# Ablation: ${def.name}`, '', def.description ?? '', '', `Budget window [${formatMacs(window.min)}, ${formatMacs(window.max)}] MACs (${window.convention}).`, '', markdownTable(header, rows), ''];
  if (arms.some((a) => a.kendall)) {
    const points = arms.flatMap((a) => (a.kendall ? a.kendall.inherited.map((y, i) => ({ x: a.kendall!.standalone[i]!, y, series: `${a.name} (τ ${a.kendall!.tau.toFixed(2)})` })) : []));
    writeAtomic(join(out, 'kendall.svg'), scatterSvg(points, { title: `${def.name}: inherited vs stand-alone accuracy`, xLabel: 'stand-alone validation top-1', yLabel: 'inherited (supernet) validation top-1', format: (v) => `${(100 * v).toFixed(1)}%` }));
    parts.push('![inherited vs stand-alone accuracy](kendall.svg)', '');
  }
  writeAtomic(join(out, 'report.md'), parts.join('\n'));
}
