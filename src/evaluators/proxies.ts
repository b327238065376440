/**
 * The training-free proxies as data: what each is, how to build it, and — once measured — its
 * Kendall τ against stand-alone accuracy (an ablation's "proxies" table). A search without data
 * uses the proxy with the best mean measured τ over the windows measured, else SNIP; `--proxy NAME` picks one.
 */
import { costOf } from '../space/cost.js';
import { VitasError } from '../errors.js';
import type { SearchSpace } from '../space/space.js';
import type { ArchSpec } from '../space/spec.js';
import { DssEvaluator } from './dss.js';
import type { Evaluator } from './evaluator.js';
import { ProxyEvaluator } from './proxy.js';

export const PROXY_NAMES = ['snip', 'dss', 'params', 'macs'] as const;
export type ProxyName = (typeof PROXY_NAMES)[number];

/** A ranking fidelity measurement in one window: τ with its bootstrap 95 % interval, over how many subnets, and where it was measured. */
export interface MeasuredTau {
  tau: number;
  lo: number;
  hi: number;
  subnets: number;
  /** the window's space, MAC range and stand-alone ground truth, e.g. "fmnist-a at 5.4–6M MACs (2 epochs × 2 seeds)" */
  window: string;
  /** the command's definition and date */
  source: string;
  /** the results.json it was read from, relative to the repository (a test keeps the numbers equal to it) */
  file: string;
}

/** A proxy's evaluator: higher is better; `score` is one spec in this thread (worker threads call it). */
export interface ProxyScorer extends Evaluator {
  score(spec: ArchSpec): number;
}

export interface ProxyDef {
  name: ProxyName;
  description: string;
  create(space: SearchSpace, opts: { seed: number; batch?: number }): ProxyScorer;
  /** heavy enough (a forward and backward pass per spec) to spread over worker threads in a search */
  threaded: boolean;
  /** its Kendall τ in each window measured so far (none: not measured) */
  measured?: readonly MeasuredTau[];
}

/** Parameters or MACs from the cost model, as a proxy: more capacity ranks higher. */
class CostProxy implements ProxyScorer {
  readonly name = 'proxy';
  readonly higherIsBetter = true;
  constructor(private readonly metric: 'params' | 'macs') {}
  score(spec: ArchSpec): number {
    return costOf(spec)[this.metric];
  }
  async evaluate(specs: ArchSpec[]): Promise<number[]> {
    return specs.map((s) => this.score(s));
  }
}

/**
 * Five windows, each 20 subnets of matched cost trained stand-alone for 2 epochs on Fashion-MNIST
 * (the "proxies" table of each results.json): small 28×28 CPU spaces, so how far any of this
 * carries to `vitas-1g` at 224² is not measured. The windows disagree, which is why the choice
 * goes by the mean over them, not by one.
 */
const WINDOWS = {
  a: { window: 'fmnist-a at 5.4–6M MACs (2 epochs × 2 seeds)', source: 'searches/ablations/private-class-token.json, 2026-12-03', file: 'results/ablations/private-class-token/results.json' },
  v1: { window: 'fmnist at 10.8–12M MACs (2 epochs × 1 seed)', source: 'searches/ablations-v1/private-class-token.json, 2026-12-02', file: 'results/ablations-v1/private-class-token/results.json' },
  c: { window: 'fmnist-c at 10.9–12M MACs (2 epochs × 2 seeds)', source: 'vitas supernet rank --config searches/fashion-mnist.json, 2026-12-02', file: 'results/campaign/rank/results.json' },
  a1: { window: 'fmnist-a at 5.4–6M MACs, another 20 (2 epochs × 2 seeds)', source: 'searches/ablations/recipe-replicate.json, 2026-12-03', file: 'results/ablations/recipe-replicate/results.json' },
  a45: { window: 'fmnist-a at 4.05–4.5M MACs (2 epochs × 2 seeds)', source: 'searches/ablations/identity-search-4.5m.json, 2026-12-03', file: 'results/ablations/identity-search-4.5m/results.json' },
};
const at = (w: keyof typeof WINDOWS, tau: number, lo: number, hi: number): MeasuredTau => ({ tau, lo, hi, subnets: 20, ...WINDOWS[w] });
const MEASURED: Record<ProxyName, MeasuredTau[]> = {
  snip: [at('a', 0.074, -0.337, 0.43), at('v1', 0.702, 0.492, 0.864), at('c', -0.158, -0.538, 0.251), at('a1', 0.221, -0.191, 0.605), at('a45', 0.305, -0.121, 0.68)],
  dss: [at('a', 0.453, 0.151, 0.692), at('v1', 0.48, 0.196, 0.706), at('c', -0.295, -0.536, -0.017), at('a1', 0.158, -0.225, 0.534), at('a45', 0.421, 0.05, 0.727)],
  params: [at('a', 0.466, 0.111, 0.738), at('v1', 0.596, 0.282, 0.844), at('c', -0.174, -0.577, 0.244), at('a1', 0.466, 0.09, 0.788), at('a45', 0.402, 0.011, 0.727)],
  macs: [at('a', -0.137, -0.44, 0.169), at('v1', -0.248, -0.618, 0.191), at('c', 0.011, -0.389, 0.424), at('a1', -0.074, -0.394, 0.233), at('a45', 0.021, -0.281, 0.33)],
};

export const PROXIES: readonly ProxyDef[] = [
  {
    name: 'snip',
    description: 'SNIP synaptic saliency Σ|W ⊙ ∂L/∂W| of every weight matrix, random batch and labels',
    create: (space, o) => new ProxyEvaluator(space, { seed: o.seed, ...(o.batch ? { batch: o.batch } : {}) }),
    threaded: true,
    measured: MEASURED.snip,
  },
  {
    name: 'dss',
    description: "TF-TAS's DSS: nuclear-norm synaptic diversity of the attention weights + synaptic saliency of the MLP weights",
    create: (space, o) => new DssEvaluator(space, { seed: o.seed }),
    threaded: true,
    measured: MEASURED.dss,
  },
  { name: 'params', description: 'the parameter count', create: () => new CostProxy('params'), threaded: false, measured: MEASURED.params },
  { name: 'macs', description: 'the MACs (convention macs)', create: () => new CostProxy('macs'), threaded: false, measured: MEASURED.macs },
];

/** The proxy called `name`; anything else is one line naming `label` (a flag or file) and the allowed names. */
export function proxyByName(name: string, label = '--proxy', list: readonly ProxyDef[] = PROXIES): ProxyDef {
  const p = list.find((d) => d.name === name);
  if (!p) throw new VitasError(`${label}: "${name}" is not a proxy; allowed: ${list.map((d) => d.name).join(', ')}`);
  return p;
}

/** The mean of a proxy's τ over the windows it was measured in; undefined when none. */
export function meanTau(p: ProxyDef): number | undefined {
  const m = p.measured ?? [];
  return m.length ? m.reduce((sum, w) => sum + w.tau, 0) / m.length : undefined;
}

/** The proxy with the highest mean measured τ; SNIP while none has been measured. */
export function defaultProxy(list: readonly ProxyDef[] = PROXIES): ProxyDef {
  const measured = list.filter((d) => meanTau(d) !== undefined).sort((a, b) => meanTau(b)! - meanTau(a)!);
  return measured[0] ?? proxyByName('snip', 'defaultProxy', list);
}

const fixed = (x: number): string => x.toFixed(2).replace(/^-/, '−');

/**
 * "params (Kendall τ mean 0.35 over 5 windows of 20 subnets: 0.47 [0.11, 0.74] in fmnist-a …,
 * 0.60 […] in fmnist …; <note>)", or "snip (no measured Kendall τ yet; <note>)".
 */
export function describeProxy(p: ProxyDef, note?: string): string {
  const m = p.measured ?? [];
  const n = [...new Set(m.map((w) => w.subnets))].join('/');
  const windows = m.map((w) => `${fixed(w.tau)} [${fixed(w.lo)}, ${fixed(w.hi)}] in ${w.window}`).join(', ');
  const tau = m.length ? `Kendall τ mean ${fixed(meanTau(p)!)} over ${m.length} window${m.length > 1 ? 's' : ''} of ${n} subnets: ${windows}` : 'no measured Kendall τ yet';
  return `${p.name} (${tau}${note ? `; ${note}` : ''})`;
}
