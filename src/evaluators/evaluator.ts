/** Evaluators share one interface (NNI-style): score a batch of specs. Swappable from code. */
import type { ArchSpec } from '../space/spec.js';

export interface Evaluator {
  readonly name: string;
  /** true when a larger score is better (accuracy, proxy); false for costs and latency */
  readonly higherIsBetter: boolean;
  evaluate(specs: ArchSpec[]): Promise<number[]>;
  dispose?(): void;
}
