/** `vitas search` as one library call: a checked plan, then the evaluator (supernet trained or loaded), the search, and the run folder. */
import { join } from 'node:path';
import { loadData } from '../data/load.js';
import type { Evaluator } from '../evaluators/evaluator.js';
import { ParallelProxyEvaluator } from '../evaluators/parallel-proxy.js';
import { describeProxy, proxyByName } from '../evaluators/proxies.js';
import { searchSupernet, supernetEvaluatorOf } from '../evaluators/trained-supernet.js';
import { writeAtomic } from '../io.js';
import { VERSION } from '../version.js';
import { VitasError } from '../errors.js';
import { canonicalSpec } from '../space/spec.js';
import type { TrainEvents } from '../train/events.js';
import { bestOf, runSearch, type Candidate, type SearchEvents, type SearchState } from './evolution.js';
import { freshPlan, resumePlan, type SearchFlags, type SearchPlan } from './plan.js';
import { writeReport } from './report.js';
import { resumeCommand } from './state.js';
import { absoluteData, describeQueue, fileRef, QueueEvaluator, type QueueEvaluatorOptions } from '../queue/index.js';

export interface SearchOptions extends SearchFlags {
  /** backend for worker threads (the caller initialises its own) */
  backend?: string;
  /** evaluator built by the caller (ablations, notebooks) instead of the default choice */
  customEvaluator?: Evaluator;
  queueOptions?: QueueEvaluatorOptions;
  events?: SearchEvents & { onLog?(m: string): void; training?: TrainEvents };
  signal?: { stop: boolean };
}

interface SearchOutcome {
  out: string;
  evaluator: string;
  reason: string;
  state: SearchState;
  /** the command that continues this run (`vitas search … --out DIR --resume`), built from its saved flags */
  resumeCommand: string;
}

/** A finished search has a best candidate; a stopped one (Ctrl-C) may not, when it stopped while training its supernet. */
export type SearchResult = SearchOutcome & ({ stopped: false; best: Candidate } | { stopped: true; best?: Candidate });

/** config.json: everything needed to rerun, and what `--resume` checks its flags against. */
function writeRunConfig(plan: SearchPlan, evaluator: string, reason: string | null): void {
  const config = { vitas: VERSION, space: plan.space, budget: plan.window, constraints: plan.state.constraints, evolution: plan.state.config, evaluator, ...(plan.proxy && evaluator === 'proxy' ? { proxy: plan.proxy } : {}), reason, definition: plan.def ?? null, supernet: plan.supernet ?? null, command: plan.command };
  writeAtomic(join(plan.out, 'config.json'), JSON.stringify(config, null, 2) + '\n');
}

/** The evaluator the plan names, and why; undefined when Ctrl-C stopped the supernet training it needed first. */
async function buildEvaluator(o: SearchOptions, plan: SearchPlan, log: (m: string) => void): Promise<{ evaluator: Evaluator; reason: string } | undefined> {
  const queueOpts: QueueEvaluatorOptions = { ...o.queueOptions, onLog: log };
  const { space, def, out } = plan;
  if (o.customEvaluator) return { evaluator: o.customEvaluator, reason: 'given by the caller' };
  if (plan.evaluator === 'proxy') {
    const seed = plan.state.config.seed;
    const proxy = proxyByName(plan.proxy ?? 'snip');
    const evaluator = o.queue
      ? new QueueEvaluator(o.queue, { name: 'proxy', space, seed, batch: 1, ...(proxy.name !== 'snip' ? { proxy: proxy.name } : {}) }, queueOpts)
      : proxy.threaded ? new ParallelProxyEvaluator(space, { seed, batch: 1, proxy: proxy.name, ...(o.backend ? { backend: o.backend } : {}) }) : proxy.create(space, { seed, batch: 1 });
    // why this proxy: asked for, the best measured, or the default while none is measured
    const which = plan.command.proxy ? 'chosen by --proxy' : proxy.measured?.length ? 'the best mean measured τ' : 'the default';
    const why = plan.command.evaluator ? '--evaluator proxy' : 'no --config and no --supernet: no data and no trained weights, so a training-free proxy';
    return { evaluator, reason: `${why}: ${describeProxy(proxy, which)}` };
  }
  const where = plan.defPath ?? 'search definition';
  const dataCfg = { ...def!.data, ...(plan.data ? { dir: plan.data } : {}) };
  const data = loadData(dataCfg, { validationFrom: `${where}: data.validation` });
  const trained = await searchSupernet({
    config: plan.defPath!, out, window: plan.window, resume: plan.resumed, log, ...(plan.supernet ? { supernet: plan.supernet } : {}), ...(plan.data ? { data: plan.data } : {}), ...(o.force ? { force: true } : {}),
    ...(o.events?.training ? { events: o.events.training } : {}), ...(o.signal ? { signal: o.signal } : {}),
  });
  if (!trained) return undefined;
  const { checkpoint: ckpt, reason } = trained;
  const limit = def!.search?.valImages;
  const slicing = def!.supernet?.slicing ?? 'left';
  const evaluator = o.queue
    ? new QueueEvaluator(o.queue, { name: 'supernet', space, checkpoint: await fileRef(ckpt), data: absoluteData(dataCfg), slicing, ...(limit ? { limit } : {}) }, queueOpts)
    : supernetEvaluatorOf(space, ckpt, data, { slicing, ...(limit ? { limit } : {}) });
  return { evaluator, reason: `supernet: top-1 on ${limit ? `${Math.min(limit, data.val.count)} of ` : ''}${data.val.count} validation images with ${reason}` };
}

export async function search(o: SearchOptions): Promise<SearchResult> {
  const log = (m: string): void => o.events?.onLog?.(m);
  // every check first: a bad flag or file fails here, before a thread, a dataset or a supernet is loaded
  if (o.resume && o.force) throw new VitasError('--resume continues a run, --force starts one over: give one of them');
  const plan = o.resume ? resumePlan(o, Boolean(o.customEvaluator)) : freshPlan(o, Boolean(o.customEvaluator));
  const { out, state: planned } = plan;
  const statePath = join(out, 'state.json');
  const hint = resumeCommand(out, plan.command);
  if (plan.resumed) {
    const left = planned.generation >= planned.config.generations ? `: all ${planned.config.generations} generations are done, nothing left to run (more with --generations N)` : '';
    log(planned.generation > 0 ? `resuming ${statePath} after generation ${planned.generation}${left}` : `resuming ${out}: no generation finished yet`);
  }
  for (const n of plan.notes) log(`resume: ${n}`);
  writeRunConfig(plan, o.customEvaluator?.name ?? plan.evaluator!, null);
  const built = await buildEvaluator(o, plan, log);
  if (!built) return { out, evaluator: plan.evaluator!, reason: 'stopped while training the supernet', state: planned, resumeCommand: hint, stopped: true };
  const { evaluator } = built;
  let reason = built.reason;
  // the evaluator may hold worker threads, a queue connection or a supernet: released on every path out
  try {
    if (o.queue) reason += `; scored by vitas workers through the queue at ${describeQueue(o.queue)}`;
    log(`evaluator: ${evaluator.name} — ${reason}`);
    writeRunConfig(plan, evaluator.name, reason);
    const save = (s: SearchState): void => {
      writeAtomic(statePath, JSON.stringify(s));
      writeAtomic(join(out, 'history.jsonl'), s.history.map((c) => JSON.stringify({ generation: c.generation, macs: c.macs, params: c.params, score: c.score, spec: c.spec })).join('\n') + '\n');
    };
    const state = await runSearch(plan.space, evaluator, planned, { save, ...(o.events ? { events: o.events } : {}), ...(o.signal ? { signal: o.signal } : {}) });
    const best = bestOf(state.history);
    const common = { out, evaluator: evaluator.name, reason, state, resumeCommand: hint };
    if (state.generation < state.config.generations || !best) return { ...common, stopped: true, ...(best ? { best } : {}) };
    const window = plan.window;
    writeAtomic(
      join(out, 'best-arch.json'),
      JSON.stringify({ ...canonicalSpec(best.spec), meta: { macs: best.macs, params: best.params, convention: window.convention, score: best.score, evaluator: evaluator.name, strategy: state.config.strategy, seed: state.config.seed, vitas: VERSION } }, null, 2) + '\n',
    );
    writeReport(out, state, window, evaluator.name, reason);
    return { ...common, stopped: false, best };
  } finally {
    evaluator.dispose?.();
  }
}
