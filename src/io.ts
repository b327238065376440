/** File helpers with one-line errors that name the file, and atomic writes (temp file + rename). */
import { closeSync, fstatSync, openSync, readFileSync, readSync, renameSync, writeFileSync, writeSync, mkdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname } from 'node:path';
import { VitasError } from './space/errors.js';

export function readText(path: string, what = 'file'): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new VitasError(`${path}: cannot read ${what} (${code === 'ENOENT' ? 'no such file' : code ?? (e as Error).message})`);
  }
}

/** The bytes of a data or weight file (also past readFileSync's 2 GiB); a failure is one line naming the file. */
export function readBytes(path: string, what = 'file'): Buffer<ArrayBuffer> {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    const buf = Buffer.allocUnsafeSlow(size);
    for (let at = 0; at < size; ) {
      const n = readSync(fd, buf, at, Math.min(size - at, 1 << 30), at);
      if (n === 0) throw Object.assign(new Error(`ended after ${at} of ${size} bytes`), { code: 'EIO' });
      at += n;
    }
    return buf;
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a folder, not a file' : code === 'EACCES' ? 'permission denied' : code ?? (e as Error).message;
    throw new VitasError(`${path}: cannot read ${what} (${why})`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function readJson(path: string, what = 'JSON file'): unknown {
  const text = readText(path, what);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new VitasError(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

/** Write via a temp file and rename, so a crash never leaves a half-written file (also past one write's 2 GiB). */
export function writeAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  if (typeof data === 'string') writeFileSync(tmp, data);
  else {
    const fd = openSync(tmp, 'w');
    try {
      for (let at = 0; at < data.length; ) at += writeSync(fd, data, at, Math.min(data.length - at, 1 << 30));
    } finally {
      closeSync(fd);
    }
  }
  renameSync(tmp, path);
}

const warned = new Set<string>();

/** A one-line warning on stderr (once per message): something was accepted that deserves a look. */
export function warn(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  console.error(`vitas: warning: ${message}`);
}

/** sha256 (hex) of the bytes of `parts` in order: the checksum saved models and checkpoints carry. */
export function sha256(...parts: Uint8Array[]): string {
  const h = createHash('sha256');
  // one update takes at most 2 GiB: feed large files in slices
  const SLICE = 256 * 1024 ** 2;
  for (const p of parts) for (let at = 0; at < p.length; at += SLICE) h.update(p.subarray(at, at + SLICE));
  return h.digest('hex');
}
