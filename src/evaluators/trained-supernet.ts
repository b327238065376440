/**
 * The trained supernet a search scores with: the one given (`--supernet`), or one trained for the
 * search first, from its definition. This wiring sits one layer above supernet training and
 * search, so that neither imports the other.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Splits } from '../data/dataset.js';
import type { BudgetWindow } from '../space/identity-search.js';
import type { SearchSpace } from '../space/space.js';
import { calibrationImages } from '../supernet/batchnorm.js';
import { runSupernetTraining } from '../supernet/run.js';
import { loadSupernet, type SupernetStartEvent } from '../supernet/trainer.js';
import type { Slicing } from '../train/supernet-recipe.js';
import type { TrainEvents } from '../train/events.js';
import { SupernetEvaluator } from './supernet.js';

export interface SearchSupernetOptions {
  /** the search definition's file (a supernet trained here is trained from it) */
  config: string;
  /** a trained supernet's run folder or checkpoint; absent: train one in `out`/supernet */
  supernet?: string;
  /** the search's run folder */
  out: string;
  window: BudgetWindow;
  /** dataset folder overriding the definition's */
  data?: string;
  /** continue the supernet trained for this search, when its checkpoint is there */
  resume: boolean;
  force?: boolean;
  events?: TrainEvents<SupernetStartEvent>;
  signal?: { stop: boolean };
  log(m: string): void;
}

/** The checkpoint to score with and where it came from; undefined when Ctrl-C stopped the training it needed first. */
export async function searchSupernet(o: SearchSupernetOptions): Promise<{ checkpoint: string; reason: string } | undefined> {
  if (o.supernet) {
    const checkpoint = existsSync(join(o.supernet, 'supernet.ckpt')) ? join(o.supernet, 'supernet.ckpt') : o.supernet;
    return { checkpoint, reason: `inherited weights of ${checkpoint}` };
  }
  const dir = join(o.out, 'supernet');
  const resume = o.resume && existsSync(join(dir, 'supernet.ckpt'));
  o.log(resume ? `continuing the supernet trained for this search (${dir})` : 'no --supernet: training one first (identity probability tuned to the budget window)');
  const trained = await runSupernetTraining({
    config: o.config, out: dir, budget: String(o.window.max), min: String(o.window.min), ...(o.data ? { data: o.data } : {}), evaluate: false, resume, ...(o.force ? { force: true } : {}),
    ...(o.events ? { events: o.events } : {}), ...(o.signal ? { signal: o.signal } : {}),
  });
  trained.result.supernet.dispose();
  if (trained.result.stopped) return undefined;
  const checkpoint = join(dir, 'supernet.ckpt');
  return { checkpoint, reason: `inherited weights of the supernet trained for this search (${checkpoint})` };
}

/** The supernet evaluator of a checkpoint: validation top-1, BatchNorm statistics recalibrated on training images. */
export function supernetEvaluatorOf(space: SearchSpace, checkpoint: string, data: Splits, opts: { slicing: Slicing; limit?: number }): SupernetEvaluator {
  return new SupernetEvaluator(loadSupernet(space, checkpoint), data.val, { slicing: opts.slicing, calibration: calibrationImages(data.train), ...(opts.limit ? { limit: opts.limit } : {}) });
}
