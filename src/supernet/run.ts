/** `vitas supernet train` as one library call: definition → data → trained supernet in runs/<name>/. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadData } from '../data/load.js';
import { VitasError } from '../errors.js';
import { costOf } from '../space/cost.js';
import { sampleSpec } from '../space/genome.js';
import { reachableRange } from '../space/range.js';
import { Rng } from '../space/rng.js';
import type { SearchSpace } from '../space/space.js';
import type { ArchSpec } from '../space/spec.js';
import { writeAtomic } from '../io.js';
import { prepareRunFolder } from '../run-folder.js';
import { budgetWindow, reachableCheck } from '../definition/budget.js';
import { loadDefinition, resolveSpace, type SearchDefinition } from '../definition/definition.js';
import type { BudgetWindow } from '../space/identity-search.js';
import type { EpochRecord, TrainEvents } from '../train/events.js';
import { calibrationImages } from './batchnorm.js';
import { DEFAULT_RECIPE } from '../train/supernet-recipe.js';
import { evaluateSubnet, loadSupernetRun, trainedIdentityProbability, trainSupernet, type SupernetStartEvent, type TrainResult } from './trainer.js';
import { scatterSvg, type Point } from '../report/svg.js';
import { specKey } from '../space/spec.js';
import { defaultStepThreads } from './data-parallel.js';

export interface SupernetRunOptions {
  config: string;
  epochs?: number;
  budget?: string;
  min?: string;
  out?: string;
  resume?: boolean;
  /** start over in a folder that holds a run (its outputs are removed first) */
  force?: boolean;
  /** data directory override */
  data?: string;
  /** evaluate smallest / median / largest subnet on the validation split after training */
  evaluate?: boolean;
  events?: TrainEvents<SupernetStartEvent>;
  signal?: { stop: boolean };
  /** threads per training step (default: every core on wasm/cpu, see defaultStepThreads) */
  threads?: number;
  /** validation images for the per-epoch learning curve of the reference subnets (default 1000; 0: no curve) */
  valImages?: number;
  /** the sandwich rule on or off (overrides the definition; on resume it starts a new stage) */
  sandwich?: boolean;
  /** with `resume`: restart the cosine schedule at this learning rate (a new stage; see TrainSupernetOptions.resumeWith) */
  restartLr?: number;
}

export interface ReferenceScore {
  name: 'smallest' | 'median' | 'largest';
  macs: number;
  valAccuracy: number;
  spec: ArchSpec;
}

/**
 * Smallest and largest subnets of the space, and the median-cost one of 101 seeded samples drawn the
 * way the supernet's random subnets are: with `pId`, the identity probability it trains with. A
 * median drawn otherwise can have a depth pattern the supernet never trains (with ViTAS's identity
 * search at p_id = 0, every random subnet is full depth) and would measure the sampler, not the weights.
 */
export function referenceSubnets(space: SearchSpace, seed = 0, pId?: number): { name: ReferenceScore['name']; spec: ArchSpec }[] {
  const range = reachableRange(space);
  const rng = new Rng(`reference:${seed}`);
  const samples = Array.from({ length: 101 }, () => sampleSpec(space, rng, pId === undefined ? {} : { pId })).sort((a, b) => costOf(a).macs - costOf(b).macs);
  return [
    { name: 'smallest', spec: range.minSpec },
    { name: 'median', spec: samples[50]! },
    { name: 'largest', spec: range.maxSpec },
  ];
}

/** The identity probability the definition's supernet samples with: ViTAS's identity search for `budget`, else the sampler's default. */
export function samplingPId(def: SearchDefinition, space: SearchSpace, budget: BudgetWindow): number | undefined {
  return trainedIdentityProbability(space, { ...DEFAULT_RECIPE, ...def.supernet }, budget);
}

export async function runSupernetTraining(o: SupernetRunOptions): Promise<{ result: TrainResult; out: string; scores: ReferenceScore[] }> {
  if (o.restartLr !== undefined && !o.resume) throw new VitasError('--restart-lr starts a new stage of a run: it needs --resume');
  const def = loadDefinition(o.config);
  const space = resolveSpace(def, o.config);
  const budget = budgetWindow(o.budget ?? def.budget.max, o.budget ? o.min : o.min ?? def.budget.min, def.budget.convention ?? 'macs');
  reachableCheck(space, budget);
  const out = o.out ?? join('runs', `${def.name}-supernet`);
  prepareRunFolder({ dir: out, what: 'supernet run', markers: ['supernet.ckpt'], outputs: ['supernet.ckpt', 'supernet.json', 'curve.svg', 'config.json'], ...(o.resume ? { resume: true } : {}), ...(o.force ? { force: true } : {}) });
  const data = loadData({ ...def.data, ...(o.data ? { dir: o.data } : {}) }, { validationFrom: `${o.config}: data.validation` });
  const recipe = { ...def.supernet, ...(o.epochs ? { epochs: o.epochs } : {}), ...(o.sandwich !== undefined ? { sandwich: o.sandwich } : {}) };
  const refs = referenceSubnets(space, def.supernet?.seed ?? 0, samplingPId(def, space, budget));
  const valImages = o.valImages ?? 1000;
  const events: TrainEvents<SupernetStartEvent> = {
    ...o.events,
    onStart(e) {
      // what the run trains with: after a resume, the checkpoint's recipe and its stages, not the definition's
      writeAtomic(join(out, 'config.json'), JSON.stringify({ definition: def, budget, recipe: e.recipe, stages: e.stages, data: { train: data.train.count, val: data.val.count } }, null, 2) + '\n');
      o.events?.onStart?.(e);
    },
    onEpoch(e, history) {
      if (history?.some((h) => h.val)) writeAtomic(join(out, 'curve.svg'), learningCurveSvg(history, def.name));
      o.events?.onEpoch?.(e, history);
    },
  };
  const result = await trainSupernet({
    space, data, recipe, budget, out, resume: o.resume ?? false, threads: o.threads ?? defaultStepThreads(), events,
    resumeWith: { ...(o.sandwich !== undefined ? { sandwich: o.sandwich } : {}), ...(o.restartLr !== undefined ? { lr: o.restartLr } : {}) },
    ...(valImages > 0 ? { validate: { data: data.val, subnets: refs, images: valImages } } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  const scores: ReferenceScore[] = [];
  if (!result.stopped && o.evaluate !== false) {
    const calibration = calibrationImages(data.train);
    for (const r of refs) {
      const valAccuracy = evaluateSubnet(result.supernet, r.spec, data.val, { slicing: recipe.slicing ?? 'left', calibration });
      scores.push({ name: r.name, macs: costOf(r.spec).macs, valAccuracy, spec: r.spec });
      o.events?.onLog?.(`${r.name} subnet (${(costOf(r.spec).macs / 1e6).toFixed(2)}M MACs): validation accuracy ${(100 * valAccuracy).toFixed(2)} %`);
    }
    writeFileSync(join(out, 'supernet.json'), JSON.stringify({ history: result.history, pId: result.pId, scores }, null, 2) + '\n');
  }
  return { result, out, scores };
}

/** Validation top-1 of the watched subnets after each epoch, one line per subnet. */
export function learningCurveSvg(history: readonly EpochRecord[], name: string): string {
  const points: Point[] = history.flatMap((h) => Object.entries(h.val ?? {}).map(([series, acc]) => ({ x: h.epoch, y: 100 * acc, series })));
  return scatterSvg(points, { title: `${name}: inherited-weight validation top-1 after each epoch`, xLabel: 'epoch', yLabel: 'validation top-1 (%)', connect: true, format: (x) => x.toFixed(0) });
}

export interface SupernetEvalOptions {
  config: string;
  /** run folder holding supernet.ckpt */
  supernet: string;
  /** specs to measure (default: the smallest, median and largest subnet) */
  specs?: { name: string; spec: ArchSpec }[];
  /** the first N validation images (default: all) */
  valImages?: number;
  data?: string;
}

/** Inherited-weight validation top-1 of subnets of a trained supernet (`vitas supernet eval`). */
export function evaluateSupernetRun(o: SupernetEvalOptions): { name: string; macs: number; valAccuracy: number; spec: ArchSpec }[] {
  const def = loadDefinition(o.config);
  const space = resolveSpace(def, o.config);
  // a given spec the supernet cannot run is named by its file, before the checkpoint and data are read
  for (const s of o.specs ?? []) {
    if (s.spec.input.join() !== space.input.join()) throw new VitasError(`${s.name}: input ${s.spec.input.join('×')} does not match the supernet's ${space.input.join('×')} (space "${space.name}")`);
  }
  const { net, pId } = loadSupernetRun(space, join(o.supernet, 'supernet.ckpt'));
  try {
    const data = loadData({ ...def.data, ...(o.data ? { dir: o.data } : {}) }, { validationFrom: `${o.config}: data.validation` });
    const budget = budgetWindow(def.budget.max, def.budget.min, def.budget.convention ?? 'macs');
    // the median subnet as training drew it: the p_id it trained with (a --budget at training changes it)
    const trainedPId = pId === undefined ? samplingPId(def, space, budget) : (pId ?? undefined);
    const specs = o.specs ?? referenceSubnets(space, def.supernet?.seed ?? 0, trainedPId);
    const calibration = calibrationImages(data.train);
    const seen = new Map<string, number>();
    return specs.map((s) => {
      const key = specKey(s.spec);
      const valAccuracy = seen.get(key) ?? evaluateSubnet(net, s.spec, data.val, { slicing: def.supernet?.slicing ?? 'left', calibration, ...(o.valImages ? { limit: o.valImages } : {}) });
      seen.set(key, valAccuracy);
      return { name: s.name, macs: costOf(s.spec).macs, valAccuracy, spec: s.spec };
    });
  } finally {
    net.dispose();
  }
}
