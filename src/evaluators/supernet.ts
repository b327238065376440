import type { Dataset } from '../data/dataset.js';
import { specKey, type ArchSpec } from '../space/spec.js';
import type { Supernet } from '../supernet/supernet.js';
import { evaluateSubnet, type SubnetEvalOptions } from '../supernet/trainer.js';
import type { Evaluator } from './evaluator.js';

/**
 * Top-1 on the validation split with inherited supernet weights; cached by canonical spec. With
 * `calibration` (a sample of training images, `calibrationImages`), a subnet's BatchNorm
 * statistics are recalibrated on it before it is scored.
 */
export class SupernetEvaluator implements Evaluator {
  readonly name = 'supernet';
  readonly higherIsBetter = true;
  private readonly cache = new Map<string, number>();
  constructor(
    private readonly net: Supernet,
    private readonly val: Dataset,
    private readonly opts: SubnetEvalOptions = {},
  ) {}
  async evaluate(specs: ArchSpec[]): Promise<number[]> {
    return specs.map((s) => {
      const key = specKey(s);
      let acc = this.cache.get(key);
      if (acc === undefined) {
        acc = evaluateSubnet(this.net, s, this.val, this.opts);
        this.cache.set(key, acc);
      }
      return acc;
    });
  }
}
