/** Evaluators share one interface (NNI-style): score a batch of specs. Swappable from code. */
import { specKey, type ArchSpec } from '../space/spec.js';

export interface Evaluator {
  readonly name: string;
  /** true when a larger score is better (accuracy, proxy); false for costs and latency */
  readonly higherIsBetter: boolean;
  evaluate(specs: ArchSpec[]): Promise<number[]>;
  dispose?(): void;
}

/** Score each spec once: a repeated spec (evolution revisits them) is answered from `cache`. */
export function scoreOnce(cache: Map<string, number>, specs: readonly ArchSpec[], score: (spec: ArchSpec) => number): number[] {
  return specs.map((s) => {
    const key = specKey(s);
    let v = cache.get(key);
    if (v === undefined) {
      v = score(s);
      cache.set(key, v);
    }
    return v;
  });
}
