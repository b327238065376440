/** File helpers with one-line errors that name the file, and atomic writes (temp file + rename). */
import { readFileSync, renameSync, writeFileSync, mkdirSync } from 'node:fs';
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

/** The bytes of a data or weight file; a failure is one line naming the file. */
export function readBytes(path: string, what = 'file'): Buffer<ArrayBuffer> {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a folder, not a file' : code === 'EACCES' ? 'permission denied' : code ?? (e as Error).message;
    throw new VitasError(`${path}: cannot read ${what} (${why})`);
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

/** Write via a temp file and rename, so a crash never leaves a half-written file. */
export function writeAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

const warned = new Set<string>();

/** A one-line warning on stderr (once per message): something was accepted that deserves a look. */
export function warn(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  console.error(`vitas: warning: ${message}`);
}

/** sha256 of bytes, hex: the checksum saved models and checkpoints carry. */
export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
