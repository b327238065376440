import { costOf, type Convention } from '../space/cost.js';
import type { ArchSpec } from '../space/spec.js';
import type { Evaluator } from './evaluator.js';

/** MACs or parameters from the analytic cost model. */
export class CostEvaluator implements Evaluator {
  readonly name: string;
  readonly higherIsBetter = false;
  constructor(private readonly metric: 'macs' | 'params' = 'macs', private readonly convention: Convention = 'macs') {
    this.name = `cost:${metric}`;
  }
  async evaluate(specs: ArchSpec[]): Promise<number[]> {
    return specs.map((s) => costOf(s, this.convention)[this.metric]);
  }
}
