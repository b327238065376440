/** File helpers with one-line errors that name the file, and atomic writes (temp file + rename). */
import { readFileSync, renameSync, writeFileSync, mkdirSync } from 'node:fs';
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
