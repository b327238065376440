/**
 * The one training loop: supernet training and retraining both run it. It owns what every
 * training shares — epochs of batches, the warm-up + cosine learning rate, a checkpoint after
 * every epoch and on stop, exact resume, Ctrl-C (`signal.stop`), the stop on a non-finite loss,
 * progress events — and leaves to its task what a step trains and what an epoch records.
 *
 * Resume is exact because a task draws everything (data order, augmentation, subnet samples,
 * drop-path masks) from RNGs keyed by the seed and the epoch (and step): a resumed epoch's
 * batches are drawn again and the ones the checkpoint had trained are skipped, so skipping is
 * replaying.
 */
import { VitasError } from '../errors.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import type { StartEvent, StepEvent } from './events.js';
import { learningRate, type Schedule } from './recipe.js';
import { restoreState, stateTensors, type TrainingState } from './state.js';

/** What the loop reports when an epoch's steps are done; the task turns it into its record. */
export interface EpochStats {
  /** 1-based */
  epoch: number;
  meanLoss: number;
  /** the epoch's wall time: in this process (replay included), plus what a stopped run had spent on it before the stop */
  seconds: number;
  /** images trained on, and seconds spent in steps, in this process */
  images: number;
  trainSeconds: number;
}

/** What one kind of training does; `B`: a batch as its `batches` yield it, `R`: an epoch's record. */
export interface TrainingTask<B extends { size: number }, R> {
  /** names the run in messages (`supernet`, `retrain`) */
  name: string;
  stepsPerEpoch: number;
  /** the epoch's batches, drawn from RNGs keyed by (seed, epoch): the same ones every time */
  batches(epoch: number): Iterable<B>;
  /** one optimiser step at learning rate `lr`; the loss it returns is checked (non-finite: the run stops) */
  step(batch: B, lr: number, epoch: number, step: number): number | Promise<number>;
  /** the epoch's record (validation may be measured here); it goes into the history and the checkpoint */
  endOfEpoch(e: EpochStats): R;
  /** a word about the batch that gave a non-finite loss (the subnet it trained) */
  describe?(batch: B): string;
}

/** Where a run stands: the next epoch and step to run (0-based), the records so far, the epoch in progress's loss sum, steps and wall time. */
export interface LoopPosition<R> {
  epoch: number;
  step: number;
  history: R[];
  /** `seconds`: the epoch in progress's wall time before the stop (absent in checkpoints from before it was kept) */
  partial: { sum: number; n: number; seconds?: number };
}

export interface LoopEvents<R> {
  onStart?(e: StartEvent): void;
  onStep?(e: StepEvent): void;
  onEpoch?(record: R, history: readonly R[]): void;
  onLog?(message: string): void;
}

export interface LoopOptions<B extends { size: number }, R> {
  task: TrainingTask<B, R>;
  /** the learning rate's schedule; its `epochs` is where the run ends */
  schedule: Schedule;
  /** the checkpoint file; `meta()` is the task's own metadata, written beside the loop's position */
  checkpoint?: { path: string; meta(): object; state: TrainingState };
  /** a resumed run's position (openCheckpoint) */
  from?: LoopPosition<R>;
  /** set `.stop = true` (e.g. on SIGINT): a checkpoint after the current step, and return */
  signal?: { stop: boolean };
  events?: LoopEvents<R>;
}

export interface LoopResult<R> {
  history: R[];
  /** the per-step losses of this process */
  losses: number[];
  stopped: boolean;
}

/** The loop's part of a checkpoint's metadata. */
interface PositionMeta<R> {
  epoch: number;
  step: number;
  history: R[];
  partial?: { sum: number; n: number };
  /** supernet checkpoints written before the loop was shared kept the epoch's loss sum alone */
  epochLossSum?: number;
}

/**
 * Read a checkpoint to resume from: `check` sees its metadata first (a checkpoint of another
 * space is named as such), then its tensors go back into `state`.
 */
export function openCheckpoint<M extends object, R>(path: string, state: TrainingState, fits: string, check?: (meta: M) => void): { meta: M; from: LoopPosition<R> } {
  const ck = loadCheckpoint<M & PositionMeta<R>>(path);
  check?.(ck.meta);
  restoreState(state, ck.tensors, path, fits);
  const { epoch, step, history } = ck.meta;
  return { meta: ck.meta, from: { epoch, step, history, partial: ck.meta.partial ?? { sum: ck.meta.epochLossSum ?? 0, n: step } } };
}

export async function trainingLoop<B extends { size: number }, R>(o: LoopOptions<B, R>): Promise<LoopResult<R>> {
  const { task, schedule, events, checkpoint: ckpt } = o;
  const from = o.from ?? { epoch: 0, step: 0, history: [], partial: { sum: 0, n: 0 } };
  const history = [...from.history];
  const losses: number[] = [];
  const perEpoch = task.stepsPerEpoch;
  // the checkpoint on disk, for the message of a run that fails (a resumed run starts from one)
  let saved = o.from && ckpt ? { epoch: from.epoch, step: from.step } : undefined;
  const save = (epoch: number, step: number, partial: LoopPosition<R>['partial']): void => {
    if (!ckpt) return;
    saveCheckpoint(ckpt.path, { ...ckpt.meta(), epoch, step, history, partial }, stateTensors(ckpt.state));
    saved = { epoch, step };
  };
  const failed = (loss: number, epoch: number, step: number, batch: B): VitasError => {
    const at = saved && (saved.step === 0 ? `after epoch ${saved.epoch}` : `epoch ${saved.epoch + 1}, step ${saved.step}`);
    const kept = !ckpt ? 'no checkpoint (no run folder)' : at ? `the last good checkpoint (${at}) is kept at ${ckpt.path}` : 'no checkpoint was written yet';
    const about = task.describe ? ` (${task.describe(batch)})` : '';
    return new VitasError(`${task.name}: loss became ${loss} at epoch ${epoch + 1}, step ${step + 1}${about}; stopped; ${kept}; try a lower --lr`);
  };

  events?.onStart?.({ epochs: schedule.epochs, stepsPerEpoch: perEpoch, startEpoch: from.epoch, startStep: from.step });
  for (let epoch = from.epoch; epoch < schedule.epochs; epoch++) {
    const resumed = epoch === from.epoch && from.step > 0;
    let { sum, n } = resumed ? from.partial : { sum: 0, n: 0 };
    const t0 = performance.now();
    const before = resumed ? from.partial.seconds ?? 0 : 0;
    const elapsed = (): number => before + (performance.now() - t0) / 1000;
    let step = 0;
    let images = 0;
    let stepMs = 0;
    for (const batch of task.batches(epoch)) {
      if (resumed && step < from.step) {
        step++;
        continue; // replaying up to where the checkpoint stopped
      }
      const lr = learningRate(schedule, epoch * perEpoch + step, perEpoch);
      const ts = performance.now();
      const loss = await task.step(batch, lr, epoch, step);
      if (!Number.isFinite(loss)) throw failed(loss, epoch, step, batch);
      const ms = performance.now() - ts;
      losses.push(loss);
      sum += loss;
      n++;
      step++;
      images += batch.size;
      stepMs += ms;
      events?.onStep?.({ epoch, step, stepsPerEpoch: perEpoch, loss, imagesPerSecond: (batch.size * 1000) / ms, lr });
      if (o.signal?.stop) {
        save(epoch, step, { sum, n, seconds: elapsed() });
        events?.onLog?.(`stopped at epoch ${epoch + 1}, step ${step}${ckpt ? `; checkpoint saved to ${ckpt.path}` : ' (no run folder: nothing saved)'}`);
        return { history, losses, stopped: true };
      }
      await new Promise((r) => setImmediate(r)); // let SIGINT handlers run
    }
    const record = task.endOfEpoch({ epoch: epoch + 1, meanLoss: sum / Math.max(1, n), seconds: elapsed(), images, trainSeconds: stepMs / 1000 });
    history.push(record);
    save(epoch + 1, 0, { sum: 0, n: 0 });
    events?.onEpoch?.(record, history);
  }
  return { history, losses, stopped: false };
}
