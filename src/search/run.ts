/** `vitas search` as one library call: evaluator choice, supernet (trained or loaded), search, and the run folder. */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadData } from '../data/load.js';
import type { Evaluator } from '../evaluators/evaluator.js';
import { ParallelProxyEvaluator } from '../evaluators/parallel-proxy.js';
import { SupernetEvaluator } from '../evaluators/supernet.js';
import { writeAtomic } from '../io.js';
import { VERSION } from '../version.js';
import { formatMacs, parseBudget } from '../space/budget.js';
import type { Convention } from '../space/cost.js';
import { VitasError } from '../space/errors.js';
import { presetSpace } from '../space/presets.js';
import type { SearchSpace } from '../space/space.js';
import { canonicalSpec } from '../space/spec.js';
import { reachableCheck } from '../supernet/budget-check.js';
import { searchIdentityProbability } from '../supernet/identity-search.js';
import { runSupernetTraining, resolveSpace } from '../supernet/run.js';
import { calibrationImages } from '../supernet/batchnorm.js';
import { loadSupernet, type TrainEvents } from '../supernet/trainer.js';
import { budgetWindow, loadDefinition, type SearchDefinition } from './definition.js';
import { bestOf, DEFAULT_EVOLUTION, initialState, runSearch, type Candidate, type EvolutionConfig, type SearchEvents, type SearchState } from './evolution.js';
import { writeReport } from './report.js';
import { loadSpace } from '../space/load.js';
import { absoluteData, describeQueue, fileRef, QueueEvaluator, type QueueEvaluatorOptions } from '../queue/index.js';

export interface SearchOptions {
  budget?: string;
  min?: string;
  config?: string;
  space?: string;
  data?: string;
  supernet?: string;
  evaluator?: 'supernet' | 'proxy';
  strategy?: 'evolution' | 'random';
  population?: number;
  generations?: number;
  seed?: number;
  convention?: Convention;
  out?: string;
  resume?: boolean;
  /** parameter window and latency limit, beside the MACs window */
  minParams?: string;
  maxParams?: string;
  maxLatencyMs?: number;
  /** backend for worker threads (the caller initialises its own) */
  backend?: string;
  /** evaluator built by the caller (ablations, notebooks) instead of the default choice */
  customEvaluator?: Evaluator;
  /** `redis://HOST:PORT`: score on `vitas worker` processes through the queue instead of in process */
  queue?: string;
  queueOptions?: QueueEvaluatorOptions;
  events?: SearchEvents & { onLog?(m: string): void; training?: TrainEvents };
  signal?: { stop: boolean };
}

export interface SearchResult {
  out: string;
  best: Candidate;
  evaluator: string;
  reason: string;
  state: SearchState;
  stopped: boolean;
}


export async function search(o: SearchOptions): Promise<SearchResult> {
  const log = (m: string): void => o.events?.onLog?.(m);
  const def: SearchDefinition | undefined = o.config ? loadDefinition(o.config) : undefined;
  const space: SearchSpace = o.space ? loadSpace(o.space) : def ? resolveSpace(def, o.config!) : presetSpace('vitas-1g');
  const convention = o.convention ?? def?.budget.convention ?? 'macs';
  const maxBudget = o.budget ?? def?.budget.max;
  if (maxBudget === undefined) throw new VitasError('--budget: required (e.g. --budget 1.3G) when no --config gives one');
  const window = budgetWindow(maxBudget, o.budget ? o.min : o.min ?? def?.budget.min, convention);
  reachableCheck(space, window);
  const name = def?.name ?? `${space.name}-${formatMacs(window.max)}`;
  const out = o.out ?? join('runs', `${name}-${o.strategy ?? 'evolution'}`);
  mkdirSync(out, { recursive: true });
  const statePath = join(out, 'state.json');

  // the evaluator, and why
  let evaluator: Evaluator;
  let reason: string;
  const queueOpts: QueueEvaluatorOptions = { ...o.queueOptions, onLog: log };
  const wanted = o.evaluator ?? (o.customEvaluator ? undefined : def || o.supernet ? 'supernet' : 'proxy');
  if (o.customEvaluator) {
    evaluator = o.customEvaluator;
    reason = 'given by the caller';
  } else if (wanted === 'proxy') {
    const seed = o.seed ?? def?.search?.seed ?? 0;
    evaluator = o.queue ? new QueueEvaluator(o.queue, { name: 'proxy', space, seed, batch: 1 }, queueOpts) : new ParallelProxyEvaluator(space, { seed, batch: 1, ...(o.backend ? { backend: o.backend } : {}) });
    reason = o.evaluator ? '--evaluator proxy' : 'no --config and no --supernet: no data and no trained weights, so a training-free proxy';
  } else {
    if (!def) throw new VitasError('--evaluator supernet: needs --config (the data to score subnets on)');
    const data = loadData({ ...def.data, ...(o.data ? { dir: o.data } : {}) });
    let ckpt: string;
    if (o.supernet) {
      ckpt = existsSync(join(o.supernet, 'supernet.ckpt')) ? join(o.supernet, 'supernet.ckpt') : o.supernet;
      reason = `inherited weights of ${ckpt}`;
    } else {
      log('no --supernet: training one first (identity probability tuned to the budget window)');
      const trained = await runSupernetTraining({ config: o.config!, out: join(out, 'supernet'), budget: String(window.max), min: String(window.min), ...(o.data ? { data: o.data } : {}), evaluate: false, ...(o.events?.training ? { events: o.events.training } : {}), ...(o.signal ? { signal: o.signal } : {}) });
      if (trained.result.stopped) throw new VitasError(`stopped while training the supernet; continue with vitas supernet train --config ${o.config} --out ${join(out, 'supernet')} --resume`);
      trained.result.supernet.dispose();
      ckpt = join(out, 'supernet', 'supernet.ckpt');
      reason = `inherited weights of the supernet trained for this search (${ckpt})`;
    }
    const limit = def.search?.valImages;
    const slicing = def.supernet?.slicing ?? 'left';
    evaluator = o.queue
      ? new QueueEvaluator(o.queue, { name: 'supernet', space, checkpoint: await fileRef(ckpt), data: absoluteData({ ...def.data, ...(o.data ? { dir: o.data } : {}) }), slicing, ...(limit ? { limit } : {}) }, queueOpts)
      : new SupernetEvaluator(loadSupernet(space, ckpt), data.val, { slicing, calibration: calibrationImages(data.train), ...(limit ? { limit } : {}) });
    reason = `supernet: top-1 on ${limit ? `${Math.min(limit, data.val.count)} of ` : ''}${data.val.count} validation images with ${reason}`;
  }
  if (o.queue) reason += `; scored by vitas workers through the queue at ${describeQueue(o.queue)}`;
  log(`evaluator: ${evaluator.name} — ${reason}`);

  let state: SearchState;
  if (o.resume) {
    if (!existsSync(statePath)) throw new VitasError(`${statePath}: no search state to resume`);
    state = JSON.parse(readFileSync(statePath, 'utf8')) as SearchState;
    log(`resumed ${statePath} after generation ${state.generation}`);
  } else {
    const s = def?.search ?? {};
    const cfg: EvolutionConfig = {
      ...DEFAULT_EVOLUTION,
      ...Object.fromEntries(Object.entries(s).filter(([k]) => k !== 'valImages')),
      ...(o.population ? { population: o.population } : {}),
      ...(o.generations ? { generations: o.generations } : {}),
      ...(o.seed !== undefined ? { seed: o.seed } : {}),
      strategy: o.strategy ?? 'evolution',
    };
    if (space.identity === 'anywhere') cfg.pId = searchIdentityProbability(space, window, { seed: cfg.seed }).pId;
    const params = {
      ...(o.minParams ? { min: parseBudget(o.minParams, '--min-params') } : {}),
      ...(o.maxParams ? { max: parseBudget(o.maxParams, '--max-params') } : {}),
    };
    state = initialState(cfg, {
      macs: window,
      ...(o.minParams || o.maxParams ? { params } : {}),
      ...(o.maxLatencyMs ? { latency: { maxMs: o.maxLatencyMs, batch: 1 } } : {}),
    });
    writeAtomic(join(out, 'config.json'), JSON.stringify({ vitas: VERSION, space, budget: window, evolution: cfg, evaluator: evaluator.name, reason, definition: def ?? null, supernet: o.supernet ?? null }, null, 2) + '\n');
  }
  const save = (s: SearchState): void => {
    writeAtomic(statePath, JSON.stringify(s));
    writeAtomic(join(out, 'history.jsonl'), s.history.map((c) => JSON.stringify({ generation: c.generation, macs: c.macs, params: c.params, score: c.score, spec: c.spec })).join('\n') + '\n');
  };
  state = await runSearch(space, evaluator, state, { save, ...(o.events ? { events: o.events } : {}), ...(o.signal ? { signal: o.signal } : {}) });
  evaluator.dispose?.();
  const best = bestOf(state.history);
  if (!best) throw new VitasError('search: stopped before any candidate was evaluated');
  const stopped = state.generation < state.config.generations;
  if (!stopped) {
    writeAtomic(
      join(out, 'best-arch.json'),
      JSON.stringify({ ...canonicalSpec(best.spec), meta: { macs: best.macs, params: best.params, convention: window.convention, score: best.score, evaluator: evaluator.name, strategy: state.config.strategy, seed: state.config.seed, vitas: VERSION } }, null, 2) + '\n',
    );
    writeReport(out, state, window, evaluator.name, reason);
  }
  return { out, best, evaluator: evaluator.name, reason, state, stopped };
}
