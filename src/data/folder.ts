/** An image folder: one sub-folder per class, PNG/JPEG files decoded (pngjs, jpeg-js) and resized (bilinear). */
import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { readBytes } from '../io.js';
import { VitasError } from '../errors.js';
import { normalise, type Dataset, type Norm, type RawImages } from './dataset.js';

/** Decode to RGBA bytes. */
function decode(file: string): { width: number; height: number; data: Uint8Array } {
  const buf = readBytes(file, 'image');
  const ext = extname(file).toLowerCase();
  try {
    if (ext === '.png') return PNG.sync.read(buf);
    return jpeg.decode(buf, { useTArray: true, formatAsRGBA: true });
  } catch (e) {
    throw new VitasError(`${file}: cannot decode image (${(e as Error).message})`);
  }
}

/** Bilinear resize of RGBA to size×size with `channels` (1 = luminance, 3 = RGB). */
export function resizeBilinear(src: { width: number; height: number; data: Uint8Array }, h: number, w: number, channels: 1 | 3): Uint8Array {
  const out = new Uint8Array(h * w * channels);
  const sy = src.height / h, sx = src.width / w;
  for (let y = 0; y < h; y++) {
    const fy = Math.max(0, (y + 0.5) * sy - 0.5);
    const y0 = Math.min(src.height - 1, Math.floor(fy)), y1 = Math.min(src.height - 1, y0 + 1), dy = fy - y0;
    for (let x = 0; x < w; x++) {
      const fx = Math.max(0, (x + 0.5) * sx - 0.5);
      const x0 = Math.min(src.width - 1, Math.floor(fx)), x1 = Math.min(src.width - 1, x0 + 1), dx = fx - x0;
      const px = (yy: number, xx: number, c: number): number => src.data[(yy * src.width + xx) * 4 + c]!;
      const sample = (c: number): number =>
        (1 - dy) * ((1 - dx) * px(y0, x0, c) + dx * px(y0, x1, c)) + dy * ((1 - dx) * px(y1, x0, c) + dx * px(y1, x1, c));
      if (channels === 3) for (let c = 0; c < 3; c++) out[(y * w + x) * 3 + c] = Math.round(sample(c));
      else out[y * w + x] = Math.round(0.299 * sample(0) + 0.587 * sample(1) + 0.114 * sample(2));
    }
  }
  return out;
}

/** An image folder (one sub-folder per class), normalised with `opts.norm` or the images' own statistics. */
export function readImageFolder(dir: string, opts: { size: [number, number]; channels?: 1 | 3; flip?: boolean; norm?: Norm }): Dataset {
  return normalise(readImageFolderRaw(dir, opts), opts.norm);
}

/** readImageFolder's images before normalisation. */
export function readImageFolderRaw(dir: string, opts: { size: [number, number]; channels?: 1 | 3; flip?: boolean }): RawImages {
  let classNames: string[];
  try {
    classNames = readdirSync(dir).filter((d) => statSync(join(dir, d)).isDirectory()).sort();
  } catch {
    throw new VitasError(`${dir}: cannot read image folder (expects one sub-folder per class)`);
  }
  if (classNames.length < 2) throw new VitasError(`${dir}: needs at least 2 class sub-folders, found ${classNames.length}`);
  const channels = opts.channels ?? 3;
  const [h, w] = opts.size;
  const chunks: Uint8Array[] = [];
  const labels: number[] = [];
  classNames.forEach((cls, label) => {
    for (const f of readdirSync(join(dir, cls)).sort()) {
      if (!/\.(png|jpe?g)$/i.test(f)) continue;
      chunks.push(resizeBilinear(decode(join(dir, cls, f)), h, w, channels));
      labels.push(label);
    }
  });
  if (labels.length === 0) throw new VitasError(`${dir}: no .png/.jpg images in the class folders`);
  const pixels = new Uint8Array(labels.length * h * w * channels);
  chunks.forEach((c, i) => pixels.set(c, i * c.length));
  return { name: dir, pixels, labels: Int32Array.from(labels), shape: [h, w, channels], classes: classNames.length, flip: opts.flip ?? true, classNames };
}
