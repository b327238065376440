/** How well each data-free proxy ranks an ablation's stand-alone-trained subnets: Kendall τ with its bootstrap interval. */
import { PROXIES, type ProxyDef, type ProxyName } from '../evaluators/proxies.js';
import type { SearchSpace } from '../space/space.js';
import type { ArchSpec } from '../space/spec.js';
import { kendallTauInterval, type TauInterval } from './kendall.js';

export interface ProxyFidelity extends TauInterval {
  name: ProxyName;
  description: string;
  /** the proxy's score of each subnet, in the ablation's subnet order */
  scores: number[];
}

/** Score `subnets` with every proxy (weights drawn from `seed`, as a search with that seed would) and rank against `standalone`. */
export function proxyFidelity(space: SearchSpace, subnets: ArchSpec[], standalone: number[], opts: { seed: number; bootstrap?: number; proxies?: readonly ProxyDef[] }): ProxyFidelity[] {
  return (opts.proxies ?? PROXIES).map((p) => {
    // batch 1: the proxies as `vitas search` runs them
    const scorer = p.create(space, { seed: opts.seed, batch: 1 });
    try {
      const scores = subnets.map((s) => scorer.score(s));
      return { name: p.name, description: p.description, ...kendallTauInterval(scores, standalone, { seed: opts.seed, ...(opts.bootstrap ? { samples: opts.bootstrap } : {}) }), scores };
    } finally {
      scorer.dispose?.();
    }
  });
}
