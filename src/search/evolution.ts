/**
 * Evolutionary search (DESIGN §7) and its random-search baseline, behind one state machine so
 * both save and resume the same way. Every candidate is sampled inside the constraints (bounded
 * resampling), duplicates are removed by canonical spec, and the whole state — population,
 * history, RNG — is plain JSON after each generation.
 */
import { costOf, type Convention } from '../space/cost.js';
import { VitasError } from '../errors.js';
import { crossover, mutate, sampleSpec } from '../space/genome.js';
import { Rng, type RngState } from '../space/rng.js';
import type { SearchSpace } from '../space/space.js';
import { specKey, type ArchSpec } from '../space/spec.js';
import { formatMacs } from '../space/budget.js';
import type { Evaluator } from '../evaluators/evaluator.js';
import { measureLatency } from '../evaluators/latency.js';

export interface Constraints {
  macs: { min: number; max: number; convention: Convention };
  params?: { min?: number; max?: number };
  /** median forward time of the standalone subnet on this backend, measured per candidate */
  latency?: { maxMs: number; batch: number };
}

export interface EvolutionConfig {
  strategy: 'evolution' | 'random';
  population: number;
  generations: number;
  parents: number;
  mutations: number;
  crossovers: number;
  mutationProb: number;
  depthEmbedProb: number;
  /** identity probability for random samples (tuned to the window by the caller) */
  pId?: number;
  /** resampling attempts per candidate before giving up */
  maxTries: number;
  seed: number;
}

export const DEFAULT_EVOLUTION: EvolutionConfig = {
  strategy: 'evolution',
  population: 50,
  generations: 20,
  parents: 10,
  mutations: 25,
  crossovers: 25,
  mutationProb: 0.2,
  depthEmbedProb: 0.4,
  maxTries: 2000,
  seed: 0,
};

export interface Candidate {
  spec: ArchSpec;
  macs: number;
  params: number;
  score: number;
  generation: number;
}

export interface SearchState {
  version: 1;
  config: EvolutionConfig;
  constraints: Constraints;
  /** generations completed */
  generation: number;
  history: Candidate[];
  population: string[];
  rng: RngState;
}

export interface SearchEvents {
  onGeneration?(e: { generation: number; generations: number; best: Candidate; evaluated: number }): void;
}

function violation(spec: ArchSpec, c: Constraints): string | undefined {
  const { macs, params } = costOf(spec, c.macs.convention);
  if (macs < c.macs.min || macs > c.macs.max) return 'macs';
  if (c.params?.min !== undefined && params < c.params.min) return 'params';
  if (c.params?.max !== undefined && params > c.params.max) return 'params';
  // measured last: it is the only expensive check
  if (c.latency && measureLatency(spec, c.latency.batch) > c.latency.maxMs) return 'latency';
  return undefined;
}

/** Draw from `make` until the spec satisfies the constraints and is new; undefined when starved. */
function tryDraw(make: () => ArchSpec, c: Constraints, seen: Set<string>, tries: number, misses: Record<string, number>): ArchSpec | undefined {
  for (let i = 0; i < tries; i++) {
    const s = make();
    const v = violation(s, c);
    if (v) {
      misses[v] = (misses[v] ?? 0) + 1;
      continue;
    }
    const key = specKey(s);
    if (seen.has(key)) {
      misses.duplicate = (misses.duplicate ?? 0) + 1;
      continue;
    }
    seen.add(key);
    return s;
  }
  return undefined;
}

/** Like tryDraw, but starving is an error that names the constraint that rejected most. */
function draw(make: () => ArchSpec, c: Constraints, seen: Set<string>, tries: number, what: string): ArchSpec {
  const misses: Record<string, number> = { macs: 0, params: 0, latency: 0, duplicate: 0 };
  const got = tryDraw(make, c, seen, tries, misses);
  if (got) return got;
  const worst = Object.entries(misses).sort((a, b) => b[1] - a[1])[0]!;
  const limits: Record<string, string> = {
    macs: ` [${formatMacs(c.macs.min)}, ${formatMacs(c.macs.max)}] (${c.macs.convention})`,
    params: ` [${c.params?.min ?? 0}, ${c.params?.max ?? '∞'}]`,
    latency: c.latency ? ` ≤ ${c.latency.maxMs} ms` : '',
  };
  const window = limits[worst[0]] ?? '';
  throw new VitasError(`search: no ${what} satisfied the constraints in ${tries} tries; the "${worst[0]}" constraint${window} rejected ${worst[1]} of them — widen it (--min) or raise the tries`);
}

/**
 * Fail now, naming the constraint, when random samples cannot fill a generation — before any
 * worker, data or supernet is loaded. A separate RNG leaves the search's own untouched; latency
 * is left to the search (measuring it is the slow part).
 */
export function checkFeasible(space: SearchSpace, config: EvolutionConfig, constraints: Constraints): void {
  const rng = new Rng(`feasible:${config.seed}`);
  const { latency: _slow, ...cheap } = constraints;
  const seen = new Set<string>();
  for (let i = 0; i < config.population; i++) draw(() => sampleSpec(space, rng, config.pId === undefined ? {} : { pId: config.pId }), cheap, seen, config.maxTries, 'random sample');
}

export function initialState(config: EvolutionConfig, constraints: Constraints): SearchState {
  return { version: 1, config, constraints, generation: 0, history: [], population: [], rng: new Rng(`search:${config.seed}`).state() };
}

const better = (a: Candidate, b: Candidate): number => b.score - a.score || a.macs - b.macs;

export function bestOf(history: Candidate[]): Candidate | undefined {
  return [...history].sort(better)[0];
}

/**
 * Run generations until `config.generations` are done or `signal.stop` is set; `save` is called
 * after every generation with the state to persist. Scores are maximised.
 */
export async function runSearch(space: SearchSpace, evaluator: Evaluator, state: SearchState, opts: { save?: (s: SearchState) => void; events?: SearchEvents; signal?: { stop: boolean } } = {}): Promise<SearchState> {
  const cfg = state.config;
  const sign = evaluator.higherIsBetter ? 1 : -1;
  const seen = new Set(state.history.map((c) => specKey(c.spec)));
  while (state.generation < cfg.generations) {
    if (opts.signal?.stop) break;
    const rng = new Rng(0, state.rng);
    const g = state.generation;
    const random = (): ArchSpec => sampleSpec(space, rng, cfg.pId === undefined ? {} : { pId: cfg.pId });
    const children: ArchSpec[] = [];
    if (cfg.strategy === 'evolution' && g > 0) {
      const parents = [...state.history].sort(better).slice(0, cfg.parents).map((c) => c.spec);
      // scaled down when the population is smaller than mutations + crossovers
      const nMut = Math.min(cfg.mutations, Math.floor(cfg.population / 2));
      const nCross = Math.min(cfg.crossovers, cfg.population - nMut);
      // a parent set that has converged may yield no new child: the slot is topped up with a random spec below
      const misses = {};
      const tries = Math.max(1, Math.floor(cfg.maxTries / 10));
      for (let i = 0; i < nMut; i++) {
        const c = tryDraw(() => mutate(space, rng.pick(parents), rng, { prob: cfg.mutationProb, depthEmbedProb: cfg.depthEmbedProb }), state.constraints, seen, tries, misses);
        if (c) children.push(c);
      }
      for (let i = 0; i < nCross; i++) {
        const c = tryDraw(() => crossover(space, rng.pick(parents), rng.pick(parents), rng), state.constraints, seen, tries, misses);
        if (c) children.push(c);
      }
    }
    // first generation, random search, and top-up: random specs inside the window
    while (children.length < cfg.population) children.push(draw(random, state.constraints, seen, cfg.maxTries, 'random sample'));
    const scores = await evaluator.evaluate(children);
    const fresh = children.map((spec, i) => {
      const c = costOf(spec, state.constraints.macs.convention);
      return { spec, macs: c.macs, params: c.params, score: sign * scores[i]!, generation: g };
    });
    state.history.push(...fresh);
    state.population = fresh.map((c) => specKey(c.spec));
    state.rng = rng.state();
    state.generation = g + 1;
    opts.save?.(state);
    opts.events?.onGeneration?.({ generation: g + 1, generations: cfg.generations, best: bestOf(state.history)!, evaluated: state.history.length });
  }
  return state;
}
