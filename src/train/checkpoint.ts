/**
 * Checkpoints: one file — a 4-byte header length, a JSON header (format, sha256, metadata, tensor
 * index), then float32 data — written to a temp file and renamed, so a crash never leaves a broken
 * one. The header's sha256 covers every byte of the file (its own 64 hex digits counted as "0"s),
 * so a flipped bit anywhere is refused at load instead of training or scoring on damaged weights.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { readBytes, sha256, warn, writeAtomic } from '../io.js';
import { VitasError } from '../errors.js';

export interface TensorIndex {
  name: string;
  shape: number[];
  offset: number;
}

/** A tensor, or plain values with their shape (optimizer state lives in JS arrays). */
export type CheckpointTensor = tf.Tensor | { shape: number[]; values: Float32Array };

const FORMAT = 'vitas-checkpoint-2';
/** written before checkpoints carried a checksum: still read, with a warning */
const FORMAT_UNCHECKED = 'vitas-checkpoint-1';
const HEX_ZEROS = '0'.repeat(64);
/** the header starts with these bytes, the checksum's hex digits right after them */
const SHA_AT = `{"format":"${FORMAT}","sha256":"`;

export function saveCheckpoint(path: string, meta: object, tensors: Map<string, CheckpointTensor>): void {
  const index: TensorIndex[] = [];
  let total = 0;
  for (const [name, t] of tensors) {
    index.push({ name, shape: t.shape, offset: total });
    total += t.shape.reduce((a, b) => a * b, 1);
  }
  const header = Buffer.from(JSON.stringify({ format: FORMAT, sha256: HEX_ZEROS, meta, tensors: index }), 'utf8');
  const pad = (4 - ((4 + header.length) % 4)) % 4;
  const start = 4 + header.length + pad;
  // the floats go straight into the file's buffer (no second copy of a large supernet)
  const out = Buffer.alloc(start + 4 * total);
  out.writeUInt32LE(header.length + pad, 0);
  header.copy(out, 4);
  out.fill(0x20, 4 + header.length, start);
  const data = new Float32Array(out.buffer, out.byteOffset + start, total);
  for (const [i, t] of [...tensors.values()].entries()) data.set(t instanceof tf.Tensor ? (t.dataSync() as Float32Array) : t.values, index[i]!.offset);
  // (copied in: Buffer.write silently writes nothing into a buffer past 2 GiB)
  Buffer.from(sha256(out), 'latin1').copy(out, 4 + SHA_AT.length);
  writeAtomic(path, out);
}

export function loadCheckpoint<M>(path: string): { meta: M; tensors: Map<string, { shape: number[]; values: Float32Array }> } {
  if (!existsSync(path)) throw new VitasError(`${path}: no checkpoint here (nothing to resume)`);
  const buf = readBytes(path, 'checkpoint');
  let header: { format: string; sha256?: string; meta: M; tensors: TensorIndex[] };
  let len: number;
  try {
    if (buf.length < 4) throw new Error(`${buf.length} bytes`);
    len = buf.readUInt32LE(0);
    if (4 + len > buf.length) throw new Error('truncated header');
    header = JSON.parse(buf.subarray(4, 4 + len).toString('utf8')) as typeof header;
    if (header.format !== FORMAT && header.format !== FORMAT_UNCHECKED) throw new Error(`unknown format ${JSON.stringify(header.format)}`);
  } catch (e) {
    throw new VitasError(`${path}: not a readable vitas checkpoint (${(e as Error).message})`);
  }
  if (header.format === FORMAT) {
    const at = 4 + SHA_AT.length;
    const want = buf.subarray(at, at + 64).toString('latin1');
    const got = sha256(buf.subarray(0, at), Buffer.from(HEX_ZEROS, 'latin1'), buf.subarray(at + 64));
    if (header.sha256 !== want || got !== want) throw new VitasError(`${path}: checksum mismatch (sha256 ${got.slice(0, 12)}…, the header says ${want.slice(0, 12)}…): the file is damaged; refusing to load it`);
  } else warn(`${path}: checkpoint without a checksum (written before vitas checked them); loaded unverified`);
  try {
    const start = buf.byteOffset + 4 + len;
    if ((buf.length - 4 - len) % 4 !== 0) throw new Error('truncated');
    // a view, not a copy, where the floats are aligned (they are in every file vitas writes)
    const data = start % 4 === 0 ? new Float32Array(buf.buffer, start, (buf.length - 4 - len) / 4) : new Float32Array(buf.buffer.slice(start, buf.byteOffset + buf.length));
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
