/** IDX files (MNIST, Fashion-MNIST), gzip-compressed or raw. */
import { existsSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { readBytes } from '../io.js';
import { VitasError } from '../errors.js';
import { normalise, type Dataset, type Norm, type RawImages } from './dataset.js';

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** gunzip, or one line naming the file when the gzip stream is cut short or damaged. */
function gunzip(buf: Uint8Array, where: string): Uint8Array {
  try {
    return new Uint8Array(gunzipSync(buf));
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why = code === 'Z_BUF_ERROR' ? 'truncated: the gzip stream ends early' : `corrupt gzip data${code ? ` (${code})` : ''}`;
    throw new VitasError(`${where}: ${why}; download or copy the file again`);
  }
}

export function parseIdx(buf: Uint8Array, where: string): IdxArray {
  const bytes = buf[0] === 0x1f && buf[1] === 0x8b ? gunzip(buf, where) : buf;
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) throw new VitasError(`${where}: not an IDX file (bad magic number)`);
  if (bytes[2] !== 0x08) throw new VitasError(`${where}: IDX element type 0x${bytes[2]!.toString(16)} is not supported; only unsigned bytes (0x08)`);
  const rank = bytes[3]!;
  if (rank === 0 || bytes.length < 4 + 4 * rank) throw new VitasError(`${where}: truncated IDX header (${bytes.length} bytes for ${rank} dimension(s))`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const offset = 4 + 4 * rank;
  const total = dims.reduce((a, b) => a * b, 1);
  if (bytes.length - offset < total) throw new VitasError(`${where}: truncated IDX file (${bytes.length - offset} of ${total} bytes)`);
  return { dims, data: bytes.subarray(offset, offset + total) };
}

/** `prefix` is e.g. `train` or `t10k`; finds `<prefix>-images-idx3-ubyte(.gz)` and labels in `dir`. Normalised with `opts.norm`, or the images' own statistics. */
export function readIdxPair(dir: string, prefix: string, name: string, classes: number, opts: { flip: boolean; norm?: Norm; limit?: number; classNames?: string[] }): Dataset {
  return normalise(readIdxPairRaw(dir, prefix, name, classes, opts), opts.norm);
}

/** readIdxPair's images before normalisation. */
export function readIdxPairRaw(dir: string, prefix: string, name: string, classes: number, opts: { flip: boolean; limit?: number; classNames?: string[] }): RawImages {
  const find = (kind: string): string => {
    for (const f of [`${prefix}-${kind}.gz`, `${prefix}-${kind}`, `${prefix}-${kind.replace(/-idx/, '.idx')}.gz`]) {
      const p = join(dir, f);
      if (existsSync(p)) return p;
    }
    throw new VitasError(`${dir}: no ${prefix}-${kind}(.gz) found`);
  };
  const imgPath = find('images-idx3-ubyte');
  const lblPath = find('labels-idx1-ubyte');
  const img = parseIdx(readBytes(imgPath, 'IDX file'), imgPath);
  const lbl = parseIdx(readBytes(lblPath, 'IDX file'), lblPath);
  if (img.dims.length !== 3) throw new VitasError(`${imgPath}: expected 3 dimensions (count, rows, cols), got ${img.dims.length}`);
  if (img.dims[0] !== lbl.dims[0]) throw new VitasError(`${lblPath}: ${lbl.dims[0]} labels for ${img.dims[0]} images`);
  const n = Math.min(img.dims[0]!, opts.limit ?? Infinity);
  const [, h, w] = img.dims as [number, number, number];
  const labels = Int32Array.from(lbl.data.subarray(0, n));
  for (const l of labels) if (l >= classes) throw new VitasError(`${lblPath}: label ${l} ≥ ${classes} classes`);
  return { name, pixels: img.data.subarray(0, n * h * w), labels, shape: [h, w, 1], classes, flip: opts.flip, ...(opts.classNames ? { classNames: opts.classNames } : {}) };
}
