/** `vitas worker`, `vitas queue status`, and `vitas retrain` of several specs or seeds (thin: flags → library). */
import type { Command } from 'commander';
import { releaseHeld, say, stopOnInterrupt, trainingProgress } from './progress.js';
import { loadSpec, specNames, queueStatus, retrainMany, startQueueWorker, statusMarkdown, VitasError, WORKER_DEFAULTS, type RetrainRecipe } from '../index.js';

export const QUEUE_FLAG_HELP = 'redis://HOST:PORT[/DB]: run the evaluations on `vitas worker` processes through this queue';

function positiveWhole(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new VitasError(`${flag}: "${v}" must be a positive whole number`);
  return n;
}

/** `--seeds 0,1,2` → [0, 1, 2] */
export function seedList(v: string): number[] {
  const seeds = v.split(',').map((s) => Number(s.trim()));
  if (seeds.length === 0 || seeds.some((s) => !Number.isInteger(s))) throw new VitasError(`--seeds: "${v}" must be whole numbers separated by commas, e.g. 0,1,2`);
  return seeds;
}

export function addQueueCommands(program: Command): void {
  program
    .command('worker')
    .description('take jobs from the queue (scoring, stand-alone training, retraining) until stopped; Ctrl-C finishes the job in hand, a second Ctrl-C hands it back')
    .requiredOption('--queue <url>', 'redis://HOST:PORT[/DB] of the queue')
    .option('--concurrency <n>', `jobs at once, each in its own process (${WORKER_DEFAULTS.concurrency})`, (v) => positiveWhole(v, '--concurrency'))
    .option('--lock-duration <ms>', `a job's lock lifetime, renewed every half of it (${WORKER_DEFAULTS.lockDurationMs})`, (v) => positiveWhole(v, '--lock-duration'))
    .option('--stalled-interval <ms>', `how often to look for jobs of dead workers (${WORKER_DEFAULTS.stalledIntervalMs})`, (v) => positiveWhole(v, '--stalled-interval'))
    .option('--name <name>', 'worker name shown by `vitas queue status` (default host:pid)')
    .option('--backend <name>', 'force a backend in the job processes: node-gpu, node, wasm, cpu')
    .action(async (o: { queue: string; concurrency?: number; lockDuration?: number; stalledInterval?: number; name?: string; backend?: string }) => {
      const w = await startQueueWorker({
        url: o.queue,
        ...(o.concurrency ? { concurrency: o.concurrency } : {}),
        ...(o.lockDuration ? { lockDurationMs: o.lockDuration } : {}),
        ...(o.stalledInterval ? { stalledIntervalMs: o.stalledInterval } : {}),
        ...(o.name ? { name: o.name } : {}),
        ...(o.backend ? { backend: o.backend } : {}),
        onLog: (m) => console.error(`worker: ${m}`),
      });
      let stops = 0;
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          if (++stops === 1) {
            console.error('worker: finishing the job in hand, taking no more (Ctrl-C again to hand it back to the queue)…');
            // a hand-back under way ends the process itself (a retrain moving itself back also lets close() end)
            void w.close().then(() => stops === 1 && resolve());
            return;
          }
          if (stops > 2) {
            // jobs still held go back to the queue when their locks expire (the stalled check)
            console.error('worker: quitting now; jobs still in hand return to the queue when their locks expire');
            process.exit(130);
          }
          console.error('worker: handing the jobs in hand back (a retrain first saves after its current step, up to 60 s; Ctrl-C again to quit now)…');
          w.handBack().then(
            (n) => {
              console.error(`worker: handed ${n} job(s) back to the queue`);
              process.exit(130);
            },
            (e: unknown) => {
              console.error(`worker: could not hand the jobs back (${e instanceof Error ? e.message : String(e)}); they return to the queue when their locks expire`);
              process.exit(130);
            },
          );
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      console.error(`worker: stopped after ${w.counts.completed} job(s) done, ${w.counts.failed} failed attempt(s)`);
    });

  program
    .command('queue')
    .description('the job queue')
    .command('status')
    .description('jobs by state (waiting, active, delayed, completed, failed with the reasons), connected workers, per-worker throughput')
    .requiredOption('--queue <url>', 'redis://HOST:PORT[/DB] of the queue')
    .option('--json', 'print as JSON')
    .action(async (o: { queue: string; json?: boolean }) => {
      const s = await queueStatus(o.queue);
      console.log(o.json ? JSON.stringify(s, null, 2) : statusMarkdown(s));
    });
}

/** `vitas retrain a.json b.json --seeds 0,1 [--queue URL]`: one run per (spec, seed) under --out, a summary table. */
export async function retrainSeveral(files: string[], o: { data: string; epochs?: number; validation?: number; limit?: number; initFromSupernet?: string; out?: string; force?: boolean; seeds?: number[]; queue?: string }, recipe: Partial<RetrainRecipe>): Promise<void> {
  const names = specNames(files);
  const specs = files.map((f, i) => ({ name: names[i]!, spec: loadSpec(f) }));
  const progress = o.queue ? undefined : trainingProgress('retrain');
  const { signal, release } = stopOnInterrupt(o.queue ? 'stopping: no longer waiting for the workers; the jobs stay on the queue (Ctrl-C again to abort)…' : 'stopping after this step and saving the run\'s checkpoint (Ctrl-C again to abort)…');
  const r = await retrainMany({
    specs,
    seeds: o.seeds ?? [recipe.seed ?? 0],
    data: o.data,
    recipe,
    out: o.out ?? 'runs/retrain',
    ...(o.epochs ? { epochs: o.epochs } : {}),
    ...(o.validation ? { validation: o.validation } : {}),
    ...(o.limit ? { limit: o.limit } : {}),
    ...(o.initFromSupernet ? { initFromSupernet: o.initFromSupernet } : {}),
    ...(o.queue ? { queue: o.queue } : {}),
    ...(o.force ? { force: true } : {}),
    onLog: (m) => (progress ? progress.onLog?.(m) : say(`retrain: ${m}`)),
    ...(progress ? { events: progress } : {}),
    signal,
  }).finally(() => {
    progress?.stop();
    release();
  });
  releaseHeld();
  if (r.stopped) {
    say(o.queue
      ? 'retrain: stopped waiting; the jobs stay on the queue for its workers, and the same command again collects them'
      : `retrain: stopped; ${r.runs.length} run(s) finished, the one in hand saved its checkpoint; the same command again continues the list`);
    if (r.runs.length) say(`retrain: the ${r.runs.length} finished run(s) are tabulated in ${r.out}/summary.md`);
    process.exitCode = 130;
    return;
  }
  // the per-spec table over seeds (mean ± std); every run is in summary.md below it
  console.log(r.table);
  say(`retrain: wrote ${r.out}/summary.md, summary.svg, results.json`);
}
