/** An Evaluator whose scores come from `vitas worker` processes through the queue. */
import type { Evaluator } from '../evaluators/evaluator.js';
import { canonicalSpec, specKey, type ArchSpec } from '../space/spec.js';
import { runJobs, type JobsReport, type QueueRunOptions } from './client.js';
import type { EvaluatorRef, ScoreJob, ScoreResult } from './jobs.js';

export interface QueueEvaluatorOptions extends QueueRunOptions {
  /** specs per job (1): more amortises the per-job overhead, fewer spreads better over workers */
  specsPerJob?: number;
}

/** Names and directions of the in-process evaluators, so run folders read the same either way. */
function nameOf(ref: EvaluatorRef): { name: string; higherIsBetter: boolean } {
  if (ref.name === 'cost') return { name: `cost:${ref.metric}`, higherIsBetter: false };
  return { name: ref.name, higherIsBetter: ref.name !== 'latency' };
}

export class QueueEvaluator implements Evaluator {
  readonly name: string;
  readonly higherIsBetter: boolean;
  /** what the last evaluate() found on the queue (new, re-attached, retried) */
  lastReport: JobsReport | undefined;

  constructor(private readonly url: string, readonly ref: EvaluatorRef, private readonly opts: QueueEvaluatorOptions = {}) {
    ({ name: this.name, higherIsBetter: this.higherIsBetter } = nameOf(ref));
  }

  // a connection per call, closed when it returns: nothing is left open when a caller stops on an error
  async evaluate(specs: ArchSpec[]): Promise<number[]> {
    const unique = [...new Map(specs.map((s) => [specKey(s), canonicalSpec(s)])).values()];
    const per = Math.max(1, this.opts.specsPerJob ?? 1);
    const jobs: ScoreJob[] = [];
    for (let i = 0; i < unique.length; i += per) jobs.push({ kind: 'score', evaluator: this.ref, specs: unique.slice(i, i + per) });
    const { results, report } = await runJobs<ScoreResult>(this.url, jobs, this.opts);
    this.lastReport = report;
    const byKey = new Map<string, number>();
    jobs.forEach((j, i) => j.specs.forEach((s, k) => byKey.set(specKey(s), Number(results[i]!.scores[k]))));
    return specs.map((s) => byKey.get(specKey(s))!);
  }
}
