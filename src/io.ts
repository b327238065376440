/** File helpers with one-line errors that name the file, and atomic writes (temp file + rename). */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { VitasError } from './errors.js';

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
    throw new VitasError(`${path}: cannot read ${what} (${fsReason(e)})`);
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

/** Write via a temp file and rename, so a crash never leaves a half-written file (also past one write's 2 GiB). */
export function writeAtomic(path: string, data: string | Uint8Array): void {
  makeDir(dirname(path), path);
  const tmp = `${path}.tmp-${process.pid}`;
  try {
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
  } catch (e) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      /* the write error below is the one to report */
    }
    throw new VitasError(`${path}: cannot write (${fsReason(e)})`);
  }
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
