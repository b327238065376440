import type { Dataset } from '../data/dataset.js';
import type { ArchSpec } from '../space/spec.js';
import type { Supernet } from '../supernet/supernet.js';
import { evaluateSubnet, type SubnetEvalOptions } from '../supernet/trainer.js';
import { scoreOnce, type Evaluator } from './evaluator.js';

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
    return scoreOnce(this.cache, specs, (s) => evaluateSubnet(this.net, s, this.val, this.opts));
  }
}
