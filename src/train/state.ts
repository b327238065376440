/**
 * What a training checkpoint holds besides its metadata, and the one routine that puts it back —
 * for resuming (weights, optimiser moments, kept copies) and for loading weights alone. Tensors
 * are named `kind/key`: a group of variables per kind (a supernet's `param` and `running`, a
 * model's `w`), the optimiser's moments `m`, `v`, `t`, and host-side copies shaped like a group
 * (retrain's best-epoch weights, `best`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { VitasError } from '../errors.js';
import type { MaskedAdamW } from './adamw.js';
import type { CheckpointTensor } from './checkpoint.js';

const MOMENTS = ['m', 'v', 't'] as const;
type Moment = (typeof MOMENTS)[number];
const isMoment = (kind: string): kind is Moment => (MOMENTS as readonly string[]).includes(kind);

export interface TrainingState {
  /** kind → key → variable, written in this order */
  variables: Record<string, ReadonlyMap<string, tf.Variable>>;
  /** the optimiser and the kind of variables it trains (its moments have their shapes) */
  optimizer?: { opt: MaskedAdamW; of: string };
  /** kind → host-side copies of the variables of kind `of` (filled in place on restore) */
  copies?: Record<string, { of: string; values: Map<string, Float32Array> }>;
}

/** The checkpoint tensors of a training state: the variables, then the optimiser's moments, then the copies. */
export function stateTensors(s: TrainingState): Map<string, CheckpointTensor> {
  const out = new Map<string, CheckpointTensor>();
  for (const [kind, vars] of Object.entries(s.variables)) for (const [k, v] of vars) out.set(`${kind}/${k}`, v);
  for (const [k, m] of s.optimizer?.opt.state ?? []) for (const kind of MOMENTS) out.set(`${kind}/${k}`, { shape: m.shape, values: m[kind] });
  for (const [kind, c] of Object.entries(s.copies ?? {})) {
    const like = s.variables[c.of]!;
    for (const [k, values] of c.values) out.set(`${kind}/${k}`, { shape: like.get(k)!.shape, values });
  }
  return out;
}

/**
 * Put a checkpoint's tensors back into `s`. Every tensor must fit a variable of its kind (`fits`
 * says what it failed to fit: `space "fmnist"`); without an optimiser in `s` (loading weights
 * alone) the moments are skipped.
 */
export function restoreState(s: TrainingState, tensors: ReadonlyMap<string, { shape: number[]; values: Float32Array }>, path: string, fits: string): void {
  for (const [name, t] of tensors) {
    const slash = name.indexOf('/');
    const kind = name.slice(0, slash);
    const key = name.slice(slash + 1);
    const copy = s.copies?.[kind];
    const group = isMoment(kind) ? (s.optimizer ? s.variables[s.optimizer.of] : undefined) : copy ? s.variables[copy.of] : s.variables[kind];
    if (!group) {
      if (isMoment(kind)) continue;
      throw new VitasError(`${path}: unknown tensor ${name}`);
    }
    const v = group.get(key);
    if (!v || v.shape.join() !== t.shape.join()) throw new VitasError(`${path}: tensor ${name} [${t.shape}] does not fit ${fits}`);
    if (isMoment(kind)) s.optimizer!.opt.restore(key, t.shape, kind, t.values);
    else if (copy) copy.values.set(key, Float32Array.from(t.values));
    else tf.tidy(() => v.assign(tf.tensor(t.values, t.shape)));
  }
}
