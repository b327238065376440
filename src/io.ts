/** File helpers with one-line errors that name the file, and atomic writes (temp file + rename). */
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { VitasError } from './space/errors.js';

/** A file-system error code in words, for a one-line message. */
export function fsReason(e: unknown): string {
  const code = (e as { code?: string }).code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'read-only file system';
    case 'ENOTDIR':
      return 'a part of the path is a file, not a folder';
    case 'EISDIR':
      return 'is a folder';
    case 'ENOSPC':
      return 'no space left on the device';
    default:
      return code ?? (e as Error).message;
  }
}

export function readText(path: string, what = 'file'): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new VitasError(`${path}: cannot read ${what} (${fsReason(e)})`);
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

/**
 * `mkdir -p` with one-line errors; `label` names the input (a flag such as `--out`, or the file).
 * By hand rather than `mkdirSync({ recursive })`, which spins forever under /proc on Node 20.
 */
export function makeDir(dir: string, label = dir): void {
  const missing: string[] = [];
  let cur = resolve(dir);
  for (;;) {
    let isDir: boolean;
    try {
      isDir = statSync(cur).isDirectory();
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new VitasError(`${label}: ${cur}: cannot read (${fsReason(e)})`);
      missing.push(cur);
      const up = dirname(cur);
      if (up === cur) throw new VitasError(`${label}: ${dir}: cannot create the folder (no existing parent)`);
      cur = up;
      continue;
    }
    if (!isDir) throw new VitasError(missing.length ? `${label}: ${dir}: cannot create the folder (${cur} is a file, not a folder)` : `${label}: ${dir} is a file, not a folder`);
    break;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'EEXIST' && statSync(d).isDirectory()) continue; // made meanwhile
      // ENOENT although the parent exists: a pseudo file system (/proc) that takes no new folders
      const why = code === 'ENOENT' ? `the file system at ${dirname(d)} does not take new folders` : fsReason(e);
      throw new VitasError(`${label}: ${dir}: cannot create the folder (${why})`);
    }
  }
}

/** Fail now, with one line, when `dir` cannot take new files (read-only, no permission), not after hours of work. */
export function checkWritable(dir: string, label = dir): void {
  const probe = `${dir}/.vitas-write-check-${process.pid}`;
  try {
    writeFileSync(probe, '');
    rmSync(probe, { force: true });
  } catch (e) {
    throw new VitasError(`${label}: ${dir}: cannot write in this folder (${fsReason(e)})`);
  }
}

/** Write via a temp file and rename, so a crash never leaves a half-written file. */
export function writeAtomic(path: string, data: string | Uint8Array): void {
  makeDir(dirname(path), path);
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      /* the write error below is the one to report */
    }
    throw new VitasError(`${path}: cannot write (${fsReason(e)})`);
  }
}
