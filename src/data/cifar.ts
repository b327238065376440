/** CIFAR-10 / CIFAR-100 binary format: records of label byte(s) + 3072 bytes (CHW, 32×32×3). */
import { readBytes } from '../io.js';
import { VitasError } from '../errors.js';
import { normalise, type Dataset, type Norm, type RawImages } from './dataset.js';

const PIXELS = 32 * 32 * 3;

/** CIFAR binary files, normalised with `opts.norm` or their own statistics. */
export function readCifar(files: string[], opts: { variant: 10 | 100; name?: string; norm?: Norm }): Dataset {
  return normalise(readCifarRaw(files, opts), opts.norm);
}

/** readCifar's images before normalisation. */
export function readCifarRaw(files: string[], opts: { variant: 10 | 100; name?: string }): RawImages {
  const labelBytes = opts.variant === 10 ? 1 : 2; // CIFAR-100: coarse, fine
  const record = labelBytes + PIXELS;
  const parts = files.map((f) => {
    const b = readBytes(f, `CIFAR-${opts.variant} file`);
    if (b.length === 0 || b.length % record !== 0) throw new VitasError(`${f}: size ${b.length} is not a multiple of the CIFAR-${opts.variant} record (${record} bytes)`);
    return b;
  });
  const count = parts.reduce((a, b) => a + b.length / record, 0);
  const pixels = new Uint8Array(count * PIXELS);
  const labels = new Int32Array(count);
  let k = 0;
  for (const b of parts) {
    for (let r = 0; r < b.length / record; r++, k++) {
      const base = r * record;
      labels[k] = b[base + labelBytes - 1]!;
      // CHW → HWC
      for (let c = 0; c < 3; c++)
        for (let i = 0; i < 1024; i++) pixels[k * PIXELS + i * 3 + c] = b[base + labelBytes + c * 1024 + i]!;
    }
  }
  return { name: opts.name ?? `cifar-${opts.variant}`, pixels, labels, shape: [32, 32, 3], classes: opts.variant, flip: true };
}
