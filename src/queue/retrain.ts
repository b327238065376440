/**
 * `vitas retrain` of several specs and/or seeds: one retrain job per (spec, seed), on the queue's
 * workers with `queue`, else one after another in this process (the same job code either way).
 */
import { existsSync, rmSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { DATASETS } from '../data/load.js';
import { readJson, writeAtomic } from '../io.js';
import { prepareRunFolder } from '../run-folder.js';
import { markdownTable } from '../report/markdown.js';
import { formatPercent, meanStd, welchInterval, type MeanStd } from '../report/stats.js';
import { scatterSvg, type Point } from '../report/svg.js';
import { formatMacs } from '../space/budget.js';
import { costOf } from '../space/cost.js';
import { VitasError } from '../errors.js';
import { canonicalSpec, type ArchSpec } from '../space/spec.js';
import type { RetrainRecipe } from '../retrain/retrain.js';
import { RETRAIN_MARKERS, RETRAIN_OUTPUTS, type RetrainRunOptions } from '../retrain/run.js';
import { runJobs, type JobsReport, type QueueRunOptions } from './client.js';
import { fileRef, type RetrainJob, type RetrainJobResult } from './jobs.js';
import { ownRunId, runJob, savedRetrainResult } from './run-job.js';

export interface RetrainManyOptions {
  specs: { name: string; spec: ArchSpec }[];
  seeds: number[];
  /** a dataset name or a folder, as `--data` */
  data: string;
  validation?: number;
  /** read only the first N training images (`--limit`) */
  limit?: number;
  epochs?: number;
  recipe?: Partial<RetrainRecipe>;
  initFromSupernet?: string;
  /** each run writes <out>/<spec name>-seed<seed>/; the table goes to <out>/summary.md */
  out: string;
  /** replace runs of other settings and another list's summary in `out` (their outputs are removed first) */
  force?: boolean;
  queue?: string;
  queueOptions?: QueueRunOptions;
  onLog?(message: string): void;
  /** progress of each in-process run (not used with `queue`: the workers report to their own logs) */
  events?: RetrainRunOptions['events'];
  /** in process: set `.stop` (Ctrl-C) to save the run in hand's checkpoint and return; the same call again continues */
  signal?: { stop: boolean };
}

export interface RetrainRun extends RetrainJobResult {
  name: string;
  seed: number;
}

export async function retrainMany(o: RetrainManyOptions): Promise<{ runs: RetrainRun[]; out: string; /** the per-spec table over seeds, markdown */ table: string; report?: JobsReport; /** stopped by `signal` before the list was done */ stopped?: boolean }> {
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
  // Seed-major, so a list stopped midway has every spec at its first seeds; a run stopped midway
  // (a checkpoint, no result) goes first, so work in hand finishes before new work starts.
  const planned: { run: { name: string; seed: number }; job: RetrainJob }[] = [];
  for (const seed of o.seeds)
    for (const { name, spec } of o.specs) {
      planned.push({ run: { name, seed }, job: {
        kind: 'retrain',
        spec: canonicalSpec(spec),
        data,
        validation: o.validation ?? 5000,
        ...(o.limit ? { limit: o.limit } : {}),
        recipe: { ...o.recipe, ...(o.epochs ? { epochs: o.epochs } : {}), seed },
        out: join(out, `${name}-seed${seed}`),
        ...(init ? { initFromSupernet: init } : {}),
      } });
    }
  prepareRunFolder({ dir: out, what: 'retrain of several runs', markers: [] });
  claimSummary(out, planned.map((p) => p.job), o.force ?? false);
  for (const { job } of planned) claimRunFolder(job, o.force ?? false);
  // after the claims: a checkpoint left in a run folder now is this list's own
  const started = (p: (typeof planned)[number]): number => (existsSync(join(p.job.out, 'retrain.ckpt')) && !existsSync(join(p.job.out, 'result.json')) ? 0 : 1);
  planned.sort((a, b) => started(a) - started(b));
  const jobs = planned.map((p) => p.job);
  const runs = planned.map((p) => p.run);
  // reported spec by spec, in the order given
  const order = (r: { name: string; seed: number }): number => names.indexOf(r.name) * o.seeds.length + o.seeds.indexOf(r.seed);
  const bySpec = <T extends { name: string; seed: number }>(xs: T[]): T[] => xs.sort((a, b) => order(a) - order(b));
  // The summary is rewritten as each run finishes (runs finished in an earlier call count), so a
  // list that spans sessions always shows what it has measured so far.
  const finished = new Map<number, RetrainJobResult>();
  jobs.forEach((job, i) => {
    const r = savedRetrainResult(job);
    if (r) finished.set(i, r);
  });
  const finishedRuns = (): RetrainRun[] => bySpec([...finished].map(([i, r]) => ({ ...runs[i]!, ...r })));
  const planOuts = jobs.map((j) => j.out);
  const update = (): string => (finished.size ? writeSummary(out, finishedRuns(), o.specs, planOuts) : '');
  update();
  const finish = (i: number, r: RetrainJobResult): void => {
    if (r.stopped) return;
    finished.set(i, r);
    update();
  };
  const pending = jobs.flatMap((_, i) => (finished.has(i) ? [] : [i]));
  if (pending.length < jobs.length) o.onLog?.(`${jobs.length - pending.length} of ${jobs.length} run(s) finished in an earlier call`);
  let report: JobsReport | undefined;
  if (o.queue) {
    // only the runs still to do go on the queue, so its count of jobs done means work done now
    const r = await runJobs<RetrainJobResult>(o.queue, pending.map((i) => jobs[i]!), { ...o.queueOptions, ...(o.onLog ? { onLog: o.onLog } : {}), ...(o.signal ? { signal: o.signal } : {}), onResult: (k, x) => finish(pending[k]!, x as RetrainJobResult) });
    if (r.stopped) return { runs: finishedRuns(), out, table: update(), report: r.report, stopped: true };
    r.results.forEach((x, k) => x.stopped || finished.set(pending[k]!, x));
    report = r.report;
  } else {
    for (const i of pending) {
      o.onLog?.(`retrain ${i + 1}/${jobs.length}: ${runs[i]!.name}, seed ${runs[i]!.seed}`);
      const r = (await runJob(jobs[i]!, o.events, o.signal)) as RetrainJobResult;
      if (r.stopped) return { runs: finishedRuns(), out, table: update(), stopped: true };
      finish(i, r);
    }
  }
  return { runs: finishedRuns(), out, table: update(), ...(report ? { report } : {}) };
}

/** The same list again continues it (and rewrites the same summary); another list's summary is not replaced unless forced. */
function claimSummary(out: string, jobs: RetrainJob[], force: boolean): void {
  const file = join(out, 'results.json');
  if (!existsSync(file) || force) return;
  const saved = readJson(file, 'retrain results') as { planned?: unknown[]; runs?: { out?: unknown }[] };
  // `planned` names the whole list (a summary written midway holds only the finished runs)
  const had = (saved.planned ?? (saved.runs ?? []).map((r) => r.out)).map((p) => resolve(out, String(p))).sort();
  const now = jobs.map((j) => j.out).sort();
  if (had.join('\n') !== now.join('\n')) throw new VitasError(`--out: ${out} holds the summary of another list of runs (${had.map((d) => d.replace(/^.*\//, '')).join(', ')}); add --force to replace it, or choose another --out`);
}

/**
 * A run folder that holds another job's retrain (other settings, or a plain `vitas retrain`) is
 * not overwritten unless forced; this job's own run is left to resume from its checkpoint.
 */
function claimRunFolder(job: RetrainJob, force: boolean): void {
  if (!RETRAIN_MARKERS.some((m) => existsSync(join(job.out, m)))) return;
  if (ownRunId(job) !== undefined) return;
  if (!force) throw new VitasError(`--out: ${job.out} holds a retrain run of other settings (its job.json); add --force to replace it, or choose another --out`);
  for (const f of [...RETRAIN_OUTPUTS, 'job.json', 'result.json']) rmSync(join(job.out, f), { force: true });
}

const pct = (v: number | undefined): string => (v === undefined ? '–' : `${(100 * v).toFixed(2)} %`);

/** One row per spec over its seeds: mean ± std of validation and test top-1, training throughput. */
export function summariseRuns(runs: readonly RetrainRun[], specs: RetrainManyOptions['specs']): { name: string; macs: number; params: number; seeds: number; val: MeanStd; test: MeanStd; imagesPerSecond: MeanStd }[] {
  return specs.map(({ name, spec }) => {
    const mine = runs.filter((r) => r.name === name);
    const { macs, params } = costOf(spec);
    const test = meanStd(mine.flatMap((r) => (r.test ? [r.test.top1] : [])));
    const ips = meanStd(mine.flatMap((r) => (r.trainImagesPerSecond ? [r.trainImagesPerSecond] : [])));
    return { name, macs, params, seeds: mine.length, val: meanStd(mine.map((r) => r.bestValAccuracy)), test, imagesPerSecond: ips };
  });
}

const points = (v: number): string => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(2)}`;

/**
 * The first spec (the one under test, e.g. the searched one) against each other spec: the
 * difference of mean test top-1 with Welch's 95 % interval over their seeds. None until two
 * specs each have two seeds.
 */
function differences(runs: readonly RetrainRun[], specs: RetrainManyOptions['specs']): string[] {
  const test = (name: string): number[] => runs.flatMap((r) => (r.name === name && r.test ? [100 * r.test.top1] : []));
  const [first, ...rest] = specs.map((s) => s.name);
  if (first === undefined) return [];
  const rows = rest.flatMap((name) => {
    const d = welchInterval(test(first), test(name));
    return Number.isFinite(d.se) ? [[`${first} − ${name}`, points(d.diff), `[${points(d.lo)}, ${points(d.hi)}]`, Number.isFinite(d.df) ? d.df.toFixed(1) : '–']] : [];
  });
  if (!rows.length) return [];
  return [
    `## ${first} against the others`,
    '',
    'Difference of mean test top-1 in points, with the 95 % interval of Welch\'s t (unequal variances) over the retrain seeds; an interval that excludes 0 is a difference the seeds resolve. It covers the spread of training from scratch, not that of the search that chose a spec.',
    '',
    markdownTable(['comparison', 'Δ test top-1', '95 % interval', 'df'], rows),
    '',
  ];
}

/**
 * Write `summary.md`, `summary.svg` and `results.json` of finished runs into `out`; returns the
 * per-spec table (markdown). `planned`: every run folder of the list, when only some have finished.
 */
export function writeSummary(out: string, runs: RetrainRun[], specs: RetrainManyOptions['specs'], planned?: readonly string[]): string {
  // folders relative to `out`, so a summary moved or cloned with its runs still points at them
  const rel = (dir: string): string => relative(out, dir) || '.';
  writeAtomic(join(out, 'results.json'), JSON.stringify({ ...(planned ? { planned: planned.map(rel) } : {}), runs: runs.map((r) => ({ ...r, out: rel(r.out) })) }, null, 2) + '\n');
  const macs = new Map(specs.map((s) => [s.name, costOf(s.spec).macs]));
  const rows = runs.map((r) => [r.name, formatMacs(macs.get(r.name)!), String(r.seed), String(r.bestEpoch), pct(r.bestValAccuracy), pct(r.test?.top1), pct(r.test?.top5), rel(r.out)]);
  const summary = summariseRuns(runs, specs);
  const seeds = [...new Set(runs.map((r) => r.seed))].join(', ');
  const agg = summary.map((s) => [s.name, formatMacs(s.params), formatMacs(s.macs), String(s.seeds), formatPercent(s.val), formatPercent(s.test), Number.isFinite(s.imagesPerSecond.mean) ? s.imagesPerSecond.mean.toFixed(0) : '–']);
  const table = markdownTable(['spec', 'params', 'MACs', 'seeds', 'val top-1', 'test top-1', 'train img/s'], agg);
  const md = [
    '# Retrained specs',
    '',
    `Mean ± sample std over seeds ${seeds}; top-1 in %; img/s: training images per second of the training steps (one process each).`,
    '',
    ...(planned && runs.length < planned.length ? [`${runs.length} of ${planned.length} runs have finished; this summary is rewritten as the others finish.`, ''] : []),
    table,
    '',
    ...differences(runs, specs),
    '## Every run',
    '',
    markdownTable(['spec', 'MACs', 'seed', 'best epoch', 'val top-1', 'test top-1', 'test top-5', 'folder'], rows),
    '',
  ].join('\n');
  writeAtomic(join(out, 'summary.md'), md);
  const points: Point[] = summary.filter((s) => s.test.n > 0).map((s) => ({ x: s.macs / 1e6, y: 100 * s.test.mean, err: 100 * s.test.std, label: s.name }));
  if (points.length) writeAtomic(join(out, 'summary.svg'), scatterSvg(points, { title: `Test top-1 (mean ± std over seeds ${seeds}) vs MACs`, xLabel: 'MACs (M)', yLabel: 'test top-1 (%)' }));
  return table;
}
