/**
 * Checkpoints: one file — a 4-byte header length, a JSON header (metadata + tensor index), then
 * float32 data — written to a temp file and renamed, so a crash never leaves a broken one.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, readFileSync } from 'node:fs';
import { writeAtomic } from '../io.js';
import { VitasError } from '../space/errors.js';

export interface TensorIndex {
  name: string;
  shape: number[];
  offset: number;
}

/** A tensor, or plain values with their shape (optimizer state lives in JS arrays). */
export type CheckpointTensor = tf.Tensor | { shape: number[]; values: Float32Array };

export function saveCheckpoint(path: string, meta: object, tensors: Map<string, CheckpointTensor>): void {
  const index: TensorIndex[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    index.push({ name, shape: t.shape, offset });
    offset += t.shape.reduce((a, b) => a * b, 1);
  }
  const data = new Float32Array(offset);
  for (const [i, t] of [...tensors.values()].entries()) data.set(t instanceof tf.Tensor ? (t.dataSync() as Float32Array) : t.values, index[i]!.offset);
  const header = Buffer.from(JSON.stringify({ format: 'vitas-checkpoint-1', meta, tensors: index }), 'utf8');
  const pad = (4 - ((4 + header.length) % 4)) % 4;
  const out = Buffer.alloc(4 + header.length + pad + data.byteLength);
  out.writeUInt32LE(header.length + pad, 0);
  header.copy(out, 4);
  out.fill(0x20, 4 + header.length, 4 + header.length + pad);
  Buffer.from(data.buffer).copy(out, 4 + header.length + pad);
  writeAtomic(path, out);
}

export function loadCheckpoint<M>(path: string): { meta: M; tensors: Map<string, { shape: number[]; values: Float32Array }> } {
  if (!existsSync(path)) throw new VitasError(`${path}: no checkpoint here (nothing to resume)`);
  const buf = readFileSync(path);
  let header: { format: string; meta: M; tensors: TensorIndex[] };
  try {
    const len = buf.readUInt32LE(0);
    header = JSON.parse(buf.subarray(4, 4 + len).toString('utf8')) as typeof header;
    if (header.format !== 'vitas-checkpoint-1') throw new Error(`unknown format ${header.format}`);
    const data = new Float32Array(buf.buffer.slice(buf.byteOffset + 4 + len, buf.byteOffset + buf.length));
    const tensors = new Map<string, { shape: number[]; values: Float32Array }>();
    for (const t of header.tensors) {
      const size = t.shape.reduce((a, b) => a * b, 1);
      if (t.offset + size > data.length) throw new Error('truncated');
      tensors.set(t.name, { shape: t.shape, values: data.subarray(t.offset, t.offset + size) });
    }
    return { meta: header.meta, tensors };
  } catch (e) {
    throw new VitasError(`${path}: not a readable vitas checkpoint (${(e as Error).message})`);
  }
}
