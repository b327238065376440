/**
 * `vitas retrain` of several specs and/or seeds: one retrain job per (spec, seed), on the queue's
 * workers with `queue`, else one after another in this process (the same job code either way).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DATASETS } from '../data/load.js';
import { writeAtomic } from '../io.js';
import { markdownTable } from '../report/markdown.js';
import { formatMacs } from '../space/budget.js';
import { costOf } from '../space/cost.js';
import { VitasError } from '../space/errors.js';
import { canonicalSpec, type ArchSpec } from '../space/spec.js';
import type { RetrainRecipe } from '../train/retrain.js';
import { runJobs, type JobsReport, type QueueRunOptions } from './client.js';
import { fileRef, type RetrainJob, type RetrainJobResult } from './jobs.js';
import { runJob } from './run-job.js';

export interface RetrainManyOptions {
  specs: { name: string; spec: ArchSpec }[];
  seeds: number[];
  /** a dataset name or a folder, as `--data` */
  data: string;
  validation?: number;
  epochs?: number;
  recipe?: Partial<RetrainRecipe>;
  initFromSupernet?: string;
  /** each run writes <out>/<spec name>-seed<seed>/; the table goes to <out>/summary.md */
  out: string;
  queue?: string;
  queueOptions?: QueueRunOptions;
  onLog?(message: string): void;
}

export interface RetrainRun extends RetrainJobResult {
  name: string;
  seed: number;
}

export async function retrainMany(o: RetrainManyOptions): Promise<{ runs: RetrainRun[]; report?: JobsReport }> {
  const names = o.specs.map((s) => s.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new VitasError(`retrain: two specs are named "${dup}"; their run folders would collide — rename one file`);
  if (o.seeds.length === 0) throw new VitasError('--seeds: give at least one seed');
  const data = (DATASETS as readonly string[]).includes(o.data) ? o.data : resolve(o.data);
  if (data !== o.data && !existsSync(data)) throw new VitasError(`--data: "${o.data}" is neither a dataset (${DATASETS.join(', ')}) nor a folder`);
  let init: RetrainJob['initFromSupernet'];
  if (o.initFromSupernet) {
    const run = resolve(o.initFromSupernet);
    init = { run, checkpoint: await fileRef(existsSync(join(run, 'supernet.ckpt')) ? join(run, 'supernet.ckpt') : run) };
  }
  const out = resolve(o.out);
  const jobs: RetrainJob[] = [];
  const runs: { name: string; seed: number }[] = [];
  for (const { name, spec } of o.specs)
    for (const seed of o.seeds) {
      runs.push({ name, seed });
      jobs.push({
        kind: 'retrain',
        spec: canonicalSpec(spec),
        data,
        validation: o.validation ?? 5000,
        recipe: { ...o.recipe, ...(o.epochs ? { epochs: o.epochs } : {}), seed },
        out: join(out, `${name}-seed${seed}`),
        ...(init ? { initFromSupernet: init } : {}),
      });
    }
  let results: RetrainJobResult[];
  let report: JobsReport | undefined;
  if (o.queue) {
    ({ results, report } = await runJobs<RetrainJobResult>(o.queue, jobs, { ...o.queueOptions, ...(o.onLog ? { onLog: o.onLog } : {}) }));
  } else {
    results = [];
    for (const [i, job] of jobs.entries()) {
      o.onLog?.(`retrain ${i + 1}/${jobs.length}: ${runs[i]!.name}, seed ${runs[i]!.seed}`);
      results.push((await runJob(job)) as RetrainJobResult);
    }
  }
  const done: RetrainRun[] = results.map((r, i) => ({ ...runs[i]!, ...r }));
  writeSummary(out, done, o.specs);
  return { runs: done, ...(report ? { report } : {}) };
}

const pct = (v: number | undefined): string => (v === undefined ? '–' : `${(100 * v).toFixed(2)} %`);

function writeSummary(out: string, runs: RetrainRun[], specs: RetrainManyOptions['specs']): void {
  writeAtomic(join(out, 'results.json'), JSON.stringify({ runs }, null, 2) + '\n');
  const macs = new Map(specs.map((s) => [s.name, costOf(s.spec).macs]));
  const rows = runs.map((r) => [r.name, formatMacs(macs.get(r.name)!), String(r.seed), String(r.bestEpoch), pct(r.bestValAccuracy), pct(r.test?.top1), pct(r.test?.top5), r.out]);
  writeAtomic(join(out, 'summary.md'), `# Retrained specs\n\n${markdownTable(['spec', 'MACs', 'seed', 'best epoch', 'val top-1', 'test top-1', 'test top-5', 'folder'], rows)}\n`);
}
