/**
 * runAblation: every arm of an ablation trained and measured the same way, from code or
 * `vitas ablate FILE`. Arms share the data, the K matched-cost subnets and their stand-alone
 * accuracies (which do not depend on the arm), so only what the factor changes is recomputed.
 */
import { isAbsolute, join, resolve } from 'node:path';
import { loadData, type DataConfig } from '../data/load.js';
import { SupernetEvaluator } from '../evaluators/supernet.js';
import { prepareRunFolder } from '../run-folder.js';
import { budgetWindow } from '../definition/budget.js';
import type { SearchDefinition } from '../definition/definition.js';
import { bestOf, DEFAULT_EVOLUTION, initialState, runSearch } from '../search/evolution.js';
import { costOf } from '../space/cost.js';
import { formatMacs } from '../space/budget.js';
import { loadSpace } from '../space/load.js';
import { presetSpace, SPACES } from '../space/presets.js';
import type { SearchSpace } from '../space/space.js';
import { canonicalSpec, type ArchSpec } from '../space/spec.js';
import { searchIdentityProbability, type BudgetWindow } from '../space/identity-search.js';
import { calibrationImages } from '../supernet/batchnorm.js';
import { trainedIdentityProbability, trainSupernet } from '../supernet/trainer.js';
import { DEFAULT_RECIPE, type SupernetRecipe } from '../train/supernet-recipe.js';
import type { TrainEvents } from '../train/events.js';
import { defaultStepThreads } from '../supernet/data-parallel.js';
import { evaluateModel } from '../retrain/evaluate.js';
import { retrain } from '../retrain/retrain.js';
import { absoluteData, fileRef, QueueEvaluator, runJobs, stableJson, type StandaloneJob, type StandaloneResult } from '../queue/index.js';
import { inheritedScores } from './inherited.js';
import { kendallTauDifference, kendallTauInterval, type TauInterval } from './kendall.js';
import { armName, armsOf, loadAblation, type AblationDefinition, type FactorValue } from './definition.js';
import { proxyFidelity } from './proxy-fidelity.js';
import { formatPId, writeReports, type RankingCheck } from './report.js';
import { StandaloneCache } from './standalone-cache.js';
import { drawSubnets, standaloneOverSeeds } from './subnets.js';

/** Where stand-alone accuracies are kept across ablations unless `standaloneCache` says otherwise. */
export const DEFAULT_STANDALONE_CACHE = join('runs', 'standalone-cache');

export interface ArmResult {
  name: string;
  factors: Record<string, FactorValue>;
  /** τ-b between inherited and stand-alone accuracy, with its bootstrap 95 % interval [lo, hi] */
  /** `repeatability`: τ of the inherited ranking on the even against the odd validation images (inheritedScores) */
  kendall?: { tau: number; lo: number; hi: number; inherited: number[]; standalone: number[]; macs: number[]; repeatability: TauInterval; vsFirst?: TauInterval };
  search?: { spec: ArchSpec; macs: number; inherited: number };
  retrain?: { valAccuracy: number; testAccuracy: number };
  /** the probability that a sampled block is identity during supernet training (spaces with identity "anywhere") */
  pId?: number;
  /** the arm (1-based) whose supernet this one used: the same space and recipe once p_id is resolved */
  supernetOf?: number;
  seconds: number;
}

export interface AblationResult {
  name: string;
  out: string;
  arms: ArmResult[];
  /** the subnets, their stand-alone accuracies (how many reused from the cache) and the proxies' τ; with metrics.kendall */
  ranking?: RankingCheck;
}

export interface AblationEvents {
  onLog?(m: string): void;
  training?: TrainEvents;
}

function armSpace(base: SearchSpace, arm: Record<string, FactorValue>): SearchSpace {
  if (arm.recursion === false) return { ...base, name: `${base.name}-norecursion`, recursion: [1] };
  return base;
}

/** The identity probability an arm's supernet samples with (the recipe filled in as training fills it). */
function samplingPId(space: SearchSpace, recipe: Partial<SupernetRecipe>, window: BudgetWindow): number | undefined {
  return trainedIdentityProbability(space, { ...DEFAULT_RECIPE, ...recipe }, window);
}

/**
 * What a supernet's training depends on, as a key: arms with equal keys train the same weights
 * step for step, so they share one. The sampling rule enters only through the p_id it resolves
 * to: identity search that lands on uniform sampling's p_id trains what uniform sampling does.
 */
export function supernetKey(space: SearchSpace, recipe: Partial<SupernetRecipe>, window: BudgetWindow): string {
  return keyWithPId(space, recipe, samplingPId(space, recipe, window));
}

function keyWithPId(space: SearchSpace, recipe: Partial<SupernetRecipe>, pId: number | undefined): string {
  // filled in as trainSupernet fills it, so a value given equal to its default changes nothing
  const { sampling: _sampling, ...rest } = { ...DEFAULT_RECIPE, ...recipe, augment: { ...DEFAULT_RECIPE.augment, ...recipe.augment } };
  return stableJson({ space, recipe: rest, pId: pId ?? null });
}

/** The supernet recipe of an arm: the base's, with the arm's factors applied. */
function armRecipe(base: SearchDefinition['supernet'], arm: Record<string, FactorValue>): Partial<SupernetRecipe> {
  return {
    ...base,
    ...(arm.privateTokens !== undefined ? { privateTokens: arm.privateTokens as boolean } : {}),
    ...(arm.privateAttention !== undefined ? { privateAttention: arm.privateAttention as boolean } : {}),
    ...(arm.privateGroups !== undefined ? { privateGroups: arm.privateGroups as boolean } : {}),
    ...(arm.identitySearch !== undefined ? { sampling: arm.identitySearch ? ('identity-search' as const) : ('uniform' as const) } : {}),
    ...(arm.slicing !== undefined ? { slicing: arm.slicing as 'left' | 'two-sided' } : {}),
    // the teacher is the sandwich's largest subnet: the off arm keeps the sandwich, so only distillation differs
    ...(arm.distillation !== undefined ? { distill: arm.distillation as boolean, sandwich: true } : {}),
  };
}

export interface AblationOptions {
  out: string;
  events?: AblationEvents;
  queue?: string;
  /** replace the report of an earlier run in `out` */
  force?: boolean;
  /** folder of stand-alone accuracies shared by ablations (DEFAULT_STANDALONE_CACHE) */
  standaloneCache?: string;
}

export async function runAblation(definition: string | AblationDefinition, opts: AblationOptions): Promise<AblationResult> {
  const { def, base, baseDir } = loadAblation(definition);
  const log = (m: string): void => opts.events?.onLog?.(m);
  const out = opts.out;
  const baseSpace = SPACES[base.space] ? presetSpace(base.space) : loadSpace(isAbsolute(base.space) ? base.space : resolve(baseDir, base.space));
  const window = budgetWindow(base.budget.max, base.budget.min, base.budget.convention ?? 'macs');
  prepareRunFolder({ dir: out, what: 'finished ablation', markers: ['results.json', 'report.md'], outputs: ['results.json', 'results.csv', 'kendall.svg', 'report.md'], resumable: false, ...(opts.force ? { force: true } : {}) });
  const data = loadData(base.data);
  const seed = base.supernet?.seed ?? 0;
  const arms = armsOf(def);

  // K subnets of matched cost, inside every arm's space (no recursion if any arm forbids it)
  const k = def.metrics.kendall;
  let subnets: ArchSpec[] = [];
  let standalone: number[] = [];
  let ranking: RankingCheck | undefined;
  if (k) {
    const common = arms.some((a) => a.recursion === false) ? armSpace(baseSpace, { recursion: false }) : baseSpace;
    subnets = drawSubnets(common, window, k.subnets, seed);
    log(`${subnets.length} subnets in [${formatMacs(window.min)}, ${formatMacs(window.max)}]`);
    const recipe = { epochs: k.epochs, seed, warmupEpochs: Math.min(1, k.epochs / 2) };
    const cache = new StandaloneCache(opts.standaloneCache ?? DEFAULT_STANDALONE_CACHE);
    // with seeds ≥ 2 the ground truth is the mean over seeds seed…seed+n−1 (seed alone is the cache of earlier runs)
    const sa = await standaloneOverSeeds(subnets, { config: base.data, splits: data }, recipe, k.seeds ?? 1, { cache, log, ...(opts.queue ? { queue: opts.queue } : {}), ...(k.bootstrap ? { bootstrap: k.bootstrap } : {}) });
    standalone = sa.accuracies;
    const { bySeed, repeatability } = sa;
    const proxies = proxyFidelity(common, subnets, standalone, { seed, ...(k.bootstrap ? { bootstrap: k.bootstrap } : {}) });
    for (const p of proxies) log(`proxy ${p.name}: Kendall τ = ${p.tau.toFixed(3)} [${p.lo.toFixed(3)}, ${p.hi.toFixed(3)}]`);
    ranking = {
      subnets: subnets.map((s, i) => ({ spec: canonicalSpec(s), macs: costOf(s, window.convention).macs, params: costOf(s).params, standalone: standalone[i]!, ...(bySeed.length > 1 ? { bySeed: bySeed.map((acc) => acc[i]!) } : {}) })),
      standalone: { cache: cache.dir, reused: sa.reused, trained: sa.trained, epochs: k.epochs, seeds: bySeed.length },
      proxies,
      ...(repeatability ? { repeatability } : {}),
    };
  }

  const results: ArmResult[] = [];
  const supernets = new Map<string, { arm: number; trained: Awaited<ReturnType<typeof trainSupernet>> }>();
  // each arm's p_id once (identity search samples 1,000 subnets a step), then its supernet's key
  const pIds = arms.map((a) => samplingPId(armSpace(baseSpace, a), armRecipe(base.supernet, a), window));
  const keys = arms.map((a, i) => keyWithPId(armSpace(baseSpace, a), armRecipe(base.supernet, a), pIds[i]));
  for (const [i, arm] of arms.entries()) {
    const t0 = performance.now();
    const name = armName(arm);
    const space = armSpace(baseSpace, arm);
    log(`arm ${i + 1}/${arms.length} (${name}): training the supernet`);
    const recipe = armRecipe(base.supernet, arm);
    // arms that differ only after training (the search strategy), or whose factor changes nothing
    // here (identity search landing on uniform's p_id), share one supernet
    const key = keys[i]!;
    const shared = supernets.get(key);
    const pId = pIds[i];
    if (shared) log(`arm ${i + 1}/${arms.length} (${name}): the supernet of arm ${shared.arm} (the same space and recipe${pId !== undefined ? `, p_id ${formatPId(pId)}` : ''})`);
    const trained = shared?.trained ?? (await trainSupernet({ space, data, recipe, budget: window, out: join(out, `arm-${i + 1}`), threads: defaultStepThreads(), ...(opts.events?.training ? { events: opts.events.training } : {}) }));
    if (!shared) supernets.set(key, { arm: i + 1, trained });
    const net = trained.supernet;
    const res: ArmResult = { name, factors: arm, ...(pId !== undefined ? { pId } : {}), ...(shared ? { supernetOf: shared.arm } : {}), seconds: 0 };
    const calibration = calibrationImages(data.train);
    const evalOpts = { slicing: recipe.slicing ?? 'left', calibration, ...(k?.valImages ? { limit: k.valImages } : {}) };
    if (k) {
      const boot = { seed, ...(k.bootstrap ? { samples: k.bootstrap } : {}) };
      const { accuracies: inherited, repeatability } = inheritedScores(net, subnets, data.val, evalOpts, boot);
      const first = results[0]?.kendall;
      res.kendall = { ...kendallTauInterval(inherited, standalone, boot), inherited, standalone, macs: subnets.map((s) => costOf(s).macs), repeatability, ...(first ? { vsFirst: kendallTauDifference(first.inherited, inherited, standalone, boot) } : {}) };
      log(`arm ${name}: Kendall τ = ${res.kendall.tau.toFixed(3)} [${res.kendall.lo.toFixed(3)}, ${res.kendall.hi.toFixed(3)}]`);
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
    if (keys.indexOf(key, i + 1) < 0) net.dispose(); // no later arm shares it
    res.seconds = (performance.now() - t0) / 1000;
    results.push(res);
  }
  writeReports(out, def, results, window, ranking);
  return { name: def.name, out, arms: results, ...(ranking ? { ranking } : {}) };
}

function standaloneJob(spec: ArchSpec, data: DataConfig, recipe: StandaloneJob['recipe'], test: boolean): StandaloneJob {
  return { kind: 'standalone', spec: canonicalSpec(spec), data: absoluteData(data), recipe, test };
}
