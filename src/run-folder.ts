/** Run folders (search, supernet, retrain, ablation): created and checked up front, never overwritten without --force. */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { checkWritable, fsReason, makeDir } from './io.js';
import { VitasError } from './errors.js';

export interface RunFolderOptions {
  dir: string;
  /** what the person typed to name it, for messages (`--out`) */
  flag?: string;
  /** e.g. "search run", for messages */
  what: string;
  /** files (relative to `dir`) whose presence means a run lives there */
  markers: readonly string[];
  /** files a fresh start with `force` removes first, so no output of the old run is left beside the new one */
  outputs?: readonly string[];
  /** the command continues a run (`--resume`): the folder must exist */
  resume?: boolean;
  /** `--resume` exists for this command (it is offered in the refusal) */
  resumable?: boolean;
  force?: boolean;
}

/** Make the folder (or check it for a resume), check it takes files, and refuse to start over a run unless forced. */
export function prepareRunFolder(o: RunFolderOptions): void {
  const flag = o.flag ?? '--out';
  if (o.resume && o.force) throw new VitasError('--resume continues a run, --force starts one over: give one of them');
  if (o.resume && !existsSync(o.dir)) throw new VitasError(`${flag}: ${o.dir}: no such folder; --resume continues a ${o.what} saved there`);
  makeDir(o.dir, flag);
  checkWritable(o.dir, flag);
  if (o.resume) return;
  const found = o.markers.filter((m) => existsSync(join(o.dir, m)));
  if (found.length > 0 && !o.force) {
    const how = o.resumable === false ? 'add --force to replace it' : 'add --resume to continue it or --force to start over';
    throw new VitasError(`${flag}: ${o.dir} already holds a ${o.what} (${found.join(', ')}); ${how}, or choose another ${flag}`);
  }
  if (o.force) {
    for (const f of o.outputs ?? o.markers) {
      try {
        rmSync(join(o.dir, f), { force: true });
      } catch (e) {
        throw new VitasError(`${flag}: ${join(o.dir, f)}: cannot remove the earlier run's file (${fsReason(e)})`);
      }
    }
  }
}
