/**
 * What a `vitas search` will do, worked out and checked before anything is started (no worker
 * thread, no data, no supernet): a fresh run from its flags, or a resumed one from its run folder,
 * whose saved settings the given flags may not contradict.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { prepareRunFolder } from '../run-folder.js';
import { formatMacs, parseBudget } from '../space/budget.js';
import type { Convention } from '../space/cost.js';
import { VitasError } from '../errors.js';
import { loadSpace } from '../space/load.js';
import { presetSpace } from '../space/presets.js';
import type { SearchSpace } from '../space/space.js';
import { searchIdentityProbability } from '../space/identity-search.js';
import { budgetWindow, reachableCheck } from '../definition/budget.js';
import { loadDefinition, resolveSpace, type SearchDefinition } from '../definition/definition.js';
import { checkFeasible, DEFAULT_EVOLUTION, initialState, type Constraints, type EvolutionConfig, type SearchState } from './evolution.js';
import { defaultProxy, proxyByName, type ProxyName } from '../evaluators/proxies.js';
import { checkStateBelongs, loadRunConfig, loadSearchState, type SearchCommand } from './state.js';

/** The flags of a search (SearchOptions without the callbacks and objects): the saved command's, typed, plus the run-folder flags. */
export interface SearchFlags extends Omit<SearchCommand, 'evaluator' | 'proxy' | 'strategy' | 'convention'> {
  evaluator?: 'supernet' | 'proxy';
  /** the training-free proxy (default: the one with the best mean measured τ, else snip) */
  proxy?: ProxyName;
  strategy?: 'evolution' | 'random';
  convention?: Convention;
  out?: string;
  resume?: boolean;
  force?: boolean;
}

export interface SearchPlan {
  out: string;
  space: SearchSpace;
  window: Constraints['macs'];
  def?: SearchDefinition;
  /** the definition's file: a supernet trained for this search is trained from it */
  defPath?: string;
  /** a trained supernet given by the person */
  supernet?: string;
  /** the evaluator to build; undefined when the caller gives its own */
  evaluator?: 'supernet' | 'proxy';
  /** the proxy the proxy evaluator scores with */
  proxy?: ProxyName;
  /** dataset folder overriding the definition's */
  data?: string;
  state: SearchState;
  /** the flags, saved in config.json for the resume command */
  command: SearchCommand;
  resumed: boolean;
  /** what a resume changed, to say on stderr */
  notes: string[];
}

/** Files whose presence means a search run lives in a folder; `--force` removes the outputs first. */
const SEARCH_MARKERS = ['state.json', 'history.jsonl', 'best-arch.json', 'supernet/supernet.ckpt'];
const SEARCH_OUTPUTS = ['state.json', 'history.jsonl', 'best-arch.json', 'pareto.svg', 'summary.md', 'config.json'];

function defaultOut(name: string, strategy: string): string {
  return join('runs', `${name}-${strategy}`);
}

function commandOf(o: SearchFlags): SearchCommand {
  const keys = ['budget', 'min', 'config', 'space', 'data', 'supernet', 'evaluator', 'proxy', 'strategy', 'population', 'generations', 'seed', 'convention', 'minParams', 'maxParams', 'maxLatencyMs', 'queue'] as const;
  const c: Record<string, unknown> = {};
  for (const k of keys) if (o[k] !== undefined) c[k] = o[k];
  return c as SearchCommand;
}

/** The proxy of a fresh search: --proxy (only with the proxy evaluator), else the registry's default. */
function proxyOf(flag: string | undefined, evaluator: 'supernet' | 'proxy' | undefined): ProxyName | undefined {
  if (flag !== undefined) {
    proxyByName(flag);
    if (evaluator !== 'proxy') throw new VitasError(`--proxy: picks the training-free proxy, but this search scores with ${evaluator === 'supernet' ? 'the supernet (--config or --supernet given); add --evaluator proxy' : "the caller's evaluator"}`);
  }
  return evaluator === 'proxy' ? proxyByName(flag ?? defaultProxy().name).name : undefined;
}

export function freshPlan(o: SearchFlags, custom: boolean): SearchPlan {
  const def = o.config ? loadDefinition(o.config) : undefined;
  const space = o.space ? loadSpace(o.space) : def ? resolveSpace(def, o.config!) : presetSpace('vitas-1g');
  const convention = o.convention ?? def?.budget.convention ?? 'macs';
  const maxBudget = o.budget ?? def?.budget.max;
  if (maxBudget === undefined) throw new VitasError('--budget: required (e.g. --budget 1.3G) when no --config gives one');
  const window = budgetWindow(maxBudget, o.budget ? o.min : o.min ?? def?.budget.min, convention);
  reachableCheck(space, window);
  const evaluator = o.evaluator ?? (custom ? undefined : def || o.supernet ? 'supernet' : 'proxy');
  if (evaluator === 'supernet' && !def) throw new VitasError('--evaluator supernet: needs --config (the data to score subnets on)');
  const proxy = proxyOf(o.proxy, evaluator);
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
  const constraints: Constraints = {
    macs: window,
    ...(o.minParams || o.maxParams ? { params } : {}),
    ...(o.maxLatencyMs ? { latency: { maxMs: o.maxLatencyMs, batch: 1 } } : {}),
  };
  checkFeasible(space, cfg, constraints);
  const out = o.out ?? defaultOut(def?.name ?? `${space.name}-${formatMacs(window.max)}`, cfg.strategy);
  prepareRunFolder({ dir: out, what: 'search run', markers: SEARCH_MARKERS, outputs: SEARCH_OUTPUTS, ...(o.force ? { force: true } : {}) });
  return {
    out, space, window, ...(def ? { def, defPath: o.config! } : {}), ...(o.supernet ? { supernet: o.supernet } : {}), ...(evaluator ? { evaluator } : {}), ...(proxy ? { proxy } : {}),
    ...(o.data ? { data: o.data } : {}), state: initialState(cfg, constraints), command: commandOf(o), resumed: false, notes: [],
  };
}

/** The folder a resume continues: --out, or the default a fresh run with these flags would have used. */
function resumeOut(o: SearchFlags): string {
  if (o.out) return o.out;
  try {
    const def = o.config ? loadDefinition(o.config) : undefined;
    const space = o.space ? loadSpace(o.space) : def ? resolveSpace(def, o.config!) : presetSpace('vitas-1g');
    const max = o.budget ?? def?.budget.max;
    if (max === undefined) throw new VitasError('no budget');
    return defaultOut(def?.name ?? `${space.name}-${formatMacs(parseBudget(max))}`, o.strategy ?? 'evolution');
  } catch {
    throw new VitasError('--resume: give --out DIR, the run folder to continue');
  }
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

export function resumePlan(o: SearchFlags, custom: boolean): SearchPlan {
  const out = resumeOut(o);
  prepareRunFolder({ dir: out, what: 'search run', markers: SEARCH_MARKERS, resume: true });
  const configPath = join(out, 'config.json');
  const statePath = join(out, 'state.json');
  if (!existsSync(configPath) && !existsSync(statePath)) throw new VitasError(`${statePath}: no search state to resume; start without --resume`);
  const loaded = existsSync(statePath) ? loadSearchState(statePath) : undefined;
  const saved = loadRunConfig(configPath);
  if (loaded) checkStateBelongs(loaded, saved, statePath, configPath);
  // no state.json yet: stopped before its first generation (while training its supernet)
  const state = loaded ?? initialState(saved.evolution, saved.constraints ?? { macs: saved.budget });

  const conflict = (flag: string, given: unknown, was: unknown): never => {
    throw new VitasError(`${flag}: ${String(given)} conflicts with the run being resumed (${String(was)}, in ${configPath}); leave ${flag} out to keep it, or start a new run (--force or another --out)`);
  };
  const w = state.constraints.macs;
  if (o.budget !== undefined) {
    const max = parseBudget(o.budget, '--budget');
    if (max !== w.max) conflict('--budget', o.budget, formatMacs(w.max) === formatMacs(max) ? w.max : formatMacs(w.max));
  }
  if (o.min !== undefined) {
    const min = parseBudget(o.min, '--min');
    if (min !== w.min) conflict('--min', o.min, formatMacs(w.min) === formatMacs(min) ? w.min : formatMacs(w.min));
  }
  if (o.convention !== undefined && o.convention !== w.convention) conflict('--convention', o.convention, w.convention);
  if (o.space !== undefined && !same(loadSpace(o.space), saved.space)) conflict('--space', o.space, `space "${saved.space.name}"`);
  if (o.config !== undefined) {
    const def = loadDefinition(o.config);
    if (!same(def, saved.definition)) conflict('--config', o.config, saved.definition ? `definition "${saved.definition.name}"` : 'no --config');
  }
  if (o.supernet !== undefined && (saved.supernet === null || resolve(o.supernet) !== resolve(saved.supernet))) conflict('--supernet', o.supernet, saved.supernet ?? 'no --supernet');
  if (!custom && o.evaluator !== undefined && o.evaluator !== saved.evaluator) conflict('--evaluator', o.evaluator, saved.evaluator);
  // a proxy run from before the choice existed scored with snip
  const savedProxy = saved.proxy ?? (saved.evaluator === 'proxy' ? 'snip' : undefined);
  if (o.proxy !== undefined) {
    proxyByName(o.proxy);
    if (o.proxy !== savedProxy) conflict('--proxy', o.proxy, savedProxy ?? `evaluator ${saved.evaluator}, no proxy`);
  }
  const c = state.config;
  if (o.strategy !== undefined && o.strategy !== c.strategy) conflict('--strategy', o.strategy, c.strategy);
  if (o.population !== undefined && o.population !== c.population) conflict('--population', o.population, c.population);
  if (o.seed !== undefined && o.seed !== c.seed) conflict('--seed', o.seed, c.seed);
  const p = state.constraints.params;
  if (o.minParams !== undefined && parseBudget(o.minParams, '--min-params') !== p?.min) conflict('--min-params', o.minParams, p?.min ?? 'none');
  if (o.maxParams !== undefined && parseBudget(o.maxParams, '--max-params') !== p?.max) conflict('--max-params', o.maxParams, p?.max ?? 'none');
  if (o.maxLatencyMs !== undefined && o.maxLatencyMs !== state.constraints.latency?.maxMs) conflict('--max-latency-ms', o.maxLatencyMs, state.constraints.latency?.maxMs ?? 'none');

  // what may change: the number of generations (not below those run), where the data lives, where scoring runs
  const notes: string[] = [];
  const command: SearchCommand = { ...saved.command };
  if (o.generations !== undefined && o.generations !== c.generations) {
    if (o.generations < state.generation) {
      throw new VitasError(`--generations: ${o.generations} is fewer than the ${state.generation} generations ${statePath} has already run; give ${state.generation} or more, or leave it out`);
    }
    notes.push(`--generations ${o.generations} instead of the saved ${c.generations}: ${o.generations > state.generation ? `running on to generation ${o.generations}` : 'nothing more to run'}`);
    c.generations = o.generations;
    command.generations = o.generations;
  }
  if (o.data !== undefined && o.data !== saved.command?.data) {
    notes.push(`--data ${o.data}: reading the data from there (saved: ${saved.command?.data ?? "the definition's"})`);
    command.data = o.data;
  }
  if (o.queue !== saved.command?.queue) {
    if (o.queue) command.queue = o.queue;
    else delete command.queue;
  }
  const evaluator = custom ? undefined : saved.evaluator === 'supernet' || saved.evaluator === 'proxy' ? saved.evaluator : undefined;
  if (!custom && !evaluator) throw new VitasError(`${configPath}: evaluator: "${saved.evaluator}" was given by a program; resume it from that program`);
  const proxy = evaluator === 'proxy' && savedProxy ? proxyByName(savedProxy, `${configPath}: proxy`).name : undefined;
  const defPath = o.config ?? saved.command?.config;
  const data = o.data ?? saved.command?.data;
  return {
    out, space: saved.space, window: w, ...(saved.definition ? { def: saved.definition } : {}), ...(defPath ? { defPath } : {}),
    ...(saved.supernet ? { supernet: saved.supernet } : {}), ...(evaluator ? { evaluator } : {}), ...(proxy ? { proxy } : {}), ...(data ? { data } : {}),
    state, command, resumed: true, notes,
  };
}
