/**
 * The K matched-cost subnets of an ablation's ranking check, and their stand-alone accuracies.
 * The draw is keyed by the space, the budget window and the seed — not by the ablation's name —
 * so every ablation over the same base draws the same subnets and the stand-alone cache serves
 * them all.
 */
import { createHash } from 'node:crypto';
import type { Splits } from '../data/dataset.js';
import type { DataConfig } from '../data/load.js';
import { absoluteData, runJobs, stableJson, type StandaloneJob, type StandaloneResult } from '../queue/index.js';
import { formatMacs } from '../space/budget.js';
import { costOf } from '../space/cost.js';
import { sampleSpec } from '../space/genome.js';
import { Rng } from '../space/rng.js';
import type { SearchSpace } from '../space/space.js';
import { canonicalSpec, specKey, type ArchSpec } from '../space/spec.js';
import { searchIdentityProbability, type BudgetWindow } from '../space/identity-search.js';
import { retrain, type RetrainRecipe } from '../retrain/retrain.js';
import type { StandaloneCache } from './standalone-cache.js';
import { kendallTauInterval, type TauInterval } from './kendall.js';

/** `count` distinct subnets of `space` inside the window (fewer if the space has fewer), cheapest first. */
export function drawSubnets(space: SearchSpace, window: BudgetWindow, count: number, seed: number): ArchSpec[] {
  const where = createHash('sha256').update(stableJson({ space, window })).digest('hex').slice(0, 16);
  const rng = new Rng(`ablation-subnets:${where}:${seed}`);
  const pId = space.identity === 'anywhere' ? searchIdentityProbability(space, window, { seed }).pId : undefined;
  const seen = new Set<string>();
  const subnets: ArchSpec[] = [];
  for (let tries = 0; subnets.length < count && tries < 100_000; tries++) {
    const s = sampleSpec(space, rng, pId === undefined ? {} : { pId });
    const m = costOf(s, window.convention).macs;
    if (m >= window.min && m <= window.max && !seen.has(specKey(s))) {
      seen.add(specKey(s));
      subnets.push(s);
    }
  }
  return subnets.sort((a, b) => costOf(a).macs - costOf(b).macs);
}

export interface StandaloneAccuracies {
  accuracies: number[];
  /** how many came from the cache, and how many were trained now */
  reused: number;
  trained: number;
}

/**
 * Best validation top-1 of each subnet trained stand-alone: from the cache where it is there,
 * else trained here (or, with `queue`, all at once on the workers) and put in the cache at once,
 * so a stopped ablation keeps what it trained.
 */
export async function standaloneAccuracies(
  subnets: ArchSpec[],
  data: { config: DataConfig; splits: Splits },
  recipe: Partial<RetrainRecipe>,
  opts: { cache: StandaloneCache; queue?: string; log(m: string): void },
): Promise<StandaloneAccuracies> {
  const { cache, log } = opts;
  const accuracies = subnets.map((s) => cache.get(s, data.config, recipe)?.bestValAccuracy);
  const todo = subnets.flatMap((s, i) => (accuracies[i] === undefined ? [{ s, i }] : []));
  const reused = subnets.length - todo.length;
  if (todo.length) cache.checkWritable();
  log(`stand-alone accuracies: ${reused} of ${subnets.length} from ${cache.dir}, training ${todo.length} for ${recipe.epochs ?? '?'} epoch(s)`);
  if (opts.queue && todo.length) {
    const jobs = todo.map(({ s }): StandaloneJob => ({ kind: 'standalone', spec: canonicalSpec(s), data: absoluteData(data.config), recipe, test: false }));
    // each result goes into the cache as its job finishes: a stopped run keeps what the workers finished
    await runJobs<StandaloneResult>(opts.queue, jobs, {
      onLog: log,
      onResult(j, result) {
        const r = result as StandaloneResult;
        cache.put(todo[j]!.s, data.config, recipe, r);
        accuracies[todo[j]!.i] = r.bestValAccuracy;
      },
    });
  } else
    for (const [n, { s, i }] of todo.entries()) {
      const r = await retrain({ spec: s, train: data.splits.train, val: data.splits.val, recipe });
      r.model.dispose();
      cache.put(s, data.config, recipe, { bestEpoch: r.bestEpoch, bestValAccuracy: r.bestValAccuracy });
      accuracies[i] = r.bestValAccuracy;
      log(`stand-alone ${n + 1}/${todo.length}: ${formatMacs(costOf(s).macs)} → ${(100 * r.bestValAccuracy).toFixed(2)} %`);
    }
  return { accuracies: accuracies as number[], reused, trained: todo.length };
}

export interface StandaloneOverSeeds extends StandaloneAccuracies {
  /** each seed's accuracies (seeds seed…seed+n−1); `accuracies` is their mean */
  bySeed: number[][];
  /** with 2 or more seeds: τ of the first seed's accuracies against the second's, the ceiling of any ranking's τ */
  repeatability?: TauInterval;
}

/** standaloneAccuracies for `seeds` seeds from `recipe.seed` (0) on: their mean, each seed's, and how well one seed ranks the next. */
export async function standaloneOverSeeds(
  subnets: ArchSpec[],
  data: { config: DataConfig; splits: Splits },
  recipe: Partial<RetrainRecipe>,
  seeds: number,
  opts: { cache: StandaloneCache; queue?: string; log(m: string): void; bootstrap?: number },
): Promise<StandaloneOverSeeds> {
  const seed = recipe.seed ?? 0;
  const bySeed: number[][] = [];
  let reused = 0;
  let trained = 0;
  for (let k = 0; k < seeds; k++) {
    if (seeds > 1) opts.log(`stand-alone seed ${seed + k} (${k + 1} of ${seeds})`);
    const r = await standaloneAccuracies(subnets, data, { ...recipe, seed: seed + k }, opts);
    bySeed.push(r.accuracies);
    reused += r.reused;
    trained += r.trained;
  }
  const accuracies = subnets.map((_, i) => bySeed.reduce((a, acc) => a + acc[i]!, 0) / seeds);
  const repeatability = seeds > 1 ? kendallTauInterval(bySeed[0]!, bySeed[1]!, { seed, ...(opts.bootstrap ? { samples: opts.bootstrap } : {}) }) : undefined;
  if (repeatability) opts.log(`stand-alone seed ${seed} against seed ${seed + 1}: Kendall τ = ${repeatability.tau.toFixed(3)} [${repeatability.lo.toFixed(3)}, ${repeatability.hi.toFixed(3)}]`);
  return { accuracies, bySeed, reused, trained, ...(repeatability ? { repeatability } : {}) };
}

