/**
 * The training-free proxies as data: what each is, how to build it, and — once measured — its
 * Kendall τ against stand-alone accuracy (an ablation's "proxies" table). A search without data
 * uses the proxy with the best measured τ, else SNIP; `--proxy NAME` picks one.
 */
import { costOf } from '../space/cost.js';
import { VitasError } from '../space/errors.js';
import type { SearchSpace } from '../space/space.js';
import type { ArchSpec } from '../space/spec.js';
import { DssEvaluator } from './dss.js';
import type { Evaluator } from './evaluator.js';
import { ProxyEvaluator } from './proxy.js';

export const PROXY_NAMES = ['snip', 'dss', 'params', 'macs'] as const;
export type ProxyName = (typeof PROXY_NAMES)[number];

/** A ranking fidelity measurement: τ with its bootstrap 95 % interval, over how many subnets, and where it was measured. */
export interface MeasuredTau {
  tau: number;
  lo: number;
  hi: number;
  subnets: number;
  /** the ablation (file, run, date) that measured it */
  source: string;
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
  measuredTau?: MeasuredTau;
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
 * Measured by `vitas ablate searches/ablations-v1/private-class-token.json` (its "proxies" table,
 * results/ablations-v1/private-class-token/results.json; a test keeps these equal to it).
 * There were 20 subnets of the `fmnist` space at 10.8–12M MACs, each trained stand-alone for
 * 2 epochs on 10,000 Fashion-MNIST images. So this is a small-data CPU space: how far it carries
 * to `vitas-1g` at 224² is not measured.
 */
const SOURCE = 'searches/ablations-v1/private-class-token.json, 2026-12-02';
const MEASURED: Record<ProxyName, MeasuredTau> = {
  snip: { tau: 0.702, lo: 0.492, hi: 0.864, subnets: 20, source: SOURCE },
  dss: { tau: 0.48, lo: 0.196, hi: 0.706, subnets: 20, source: SOURCE },
  params: { tau: 0.596, lo: 0.282, hi: 0.844, subnets: 20, source: SOURCE },
  macs: { tau: -0.248, lo: -0.618, hi: 0.191, subnets: 20, source: SOURCE },
};

export const PROXIES: readonly ProxyDef[] = [
  {
    name: 'snip',
    description: 'SNIP synaptic saliency Σ|W ⊙ ∂L/∂W| of every weight matrix, random batch and labels',
    create: (space, o) => new ProxyEvaluator(space, { seed: o.seed, ...(o.batch ? { batch: o.batch } : {}) }),
    threaded: true,
    measuredTau: MEASURED.snip,
  },
  {
    name: 'dss',
    description: "TF-TAS's DSS: nuclear-norm synaptic diversity of the attention weights + synaptic saliency of the MLP weights",
    create: (space, o) => new DssEvaluator(space, { seed: o.seed }),
    threaded: true,
    measuredTau: MEASURED.dss,
  },
  { name: 'params', description: 'the parameter count', create: () => new CostProxy('params'), threaded: false, measuredTau: MEASURED.params },
  { name: 'macs', description: 'the MACs (convention macs)', create: () => new CostProxy('macs'), threaded: false, measuredTau: MEASURED.macs },
];

/** The proxy called `name`; anything else is one line naming `label` (a flag or file) and the allowed names. */
export function proxyByName(name: string, label = '--proxy', list: readonly ProxyDef[] = PROXIES): ProxyDef {
  const p = list.find((d) => d.name === name);
  if (!p) throw new VitasError(`${label}: "${name}" is not a proxy; allowed: ${list.map((d) => d.name).join(', ')}`);
  return p;
}

/** The proxy with the highest measured τ; SNIP while none has been measured. */
export function defaultProxy(list: readonly ProxyDef[] = PROXIES): ProxyDef {
  const measured = list.filter((d) => d.measuredTau).sort((a, b) => b.measuredTau!.tau - a.measuredTau!.tau);
  return measured[0] ?? proxyByName('snip', 'defaultProxy', list);
}

/** "dss (Kendall τ 0.45 [0.21, 0.63] over 20 subnets, <source>; <note>)" or "snip (no measured Kendall τ yet; <note>)". */
export function describeProxy(p: ProxyDef, note?: string): string {
  const m = p.measuredTau;
  const tau = m ? `Kendall τ ${m.tau.toFixed(2)} [${m.lo.toFixed(2)}, ${m.hi.toFixed(2)}] over ${m.subnets} subnets, ${m.source}` : 'no measured Kendall τ yet';
  return `${p.name} (${tau}${note ? `; ${note}` : ''})`;
}
