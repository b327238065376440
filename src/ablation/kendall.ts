/** Kendall rank correlation τ-b (ties in either ranking handled), for supernet ranking fidelity, with a bootstrap interval. */
import { Rng } from '../space/rng.js';

/** τ-b of the pairs at `idx` (indices into a and b, repeats allowed); NaN when one ranking is constant (τ undefined). */
function tauOf(a: readonly number[], b: readonly number[], idx: ArrayLike<number>): number {
  let concordant = 0, discordant = 0, tiesA = 0, tiesB = 0;
  for (let i = 0; i < idx.length; i++)
    for (let j = i + 1; j < idx.length; j++) {
      const p = idx[i]!, q = idx[j]!;
      const da = Math.sign(a[p]! - a[q]!);
      const db = Math.sign(b[p]! - b[q]!);
      if (da === 0 && db === 0) continue;
      if (da === 0) tiesA++;
      else if (db === 0) tiesB++;
      else if (da === db) concordant++;
      else discordant++;
    }
  const denom = Math.sqrt((concordant + discordant + tiesA) * (concordant + discordant + tiesB));
  return denom === 0 ? NaN : (concordant - discordant) / denom;
}

const identity = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** Kendall τ-b of two score lists over the same items; 0 when either list is constant. */
export function kendallTau(a: number[], b: number[]): number {
  if (a.length !== b.length) throw new Error('kendallTau: lengths differ');
  const t = tauOf(a, b, identity(a.length));
  return Number.isNaN(t) ? 0 : t;
}

export interface TauInterval {
  tau: number;
  /** lower and upper end of the percentile bootstrap interval */
  lo: number;
  hi: number;
}

export interface BootstrapOptions {
  /** resamples (2000) */
  samples?: number;
  /** confidence level (0.95) */
  level?: number;
  /** seed of the resampling (0): the same seed gives the same interval */
  seed?: number | string;
}

/** The q-quantile of sorted values, linearly interpolated between order statistics (R's type 7). */
function quantile(sorted: readonly number[], q: number): number {
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/**
 * Kendall τ-b with a percentile bootstrap interval: the items (subnets) are resampled with
 * replacement `samples` times and τ-b recomputed on each resample; [lo, hi] are the
 * (1 − level)/2 and (1 + level)/2 quantiles of those τs. A resample on which τ is undefined
 * (one ranking constant, e.g. every draw the same item) is drawn again, so it cannot drag the
 * interval towards 0. Pure: the seed fixes the resamples.
 */
export function kendallTauInterval(a: number[], b: number[], opts: BootstrapOptions = {}): TauInterval {
  if (a.length !== b.length) throw new Error('kendallTauInterval: lengths differ');
  const samples = opts.samples ?? 2000;
  const level = opts.level ?? 0.95;
  checkBootstrap('kendallTauInterval', samples, level);
  const tau = kendallTau(a, b);
  const n = a.length;
  // fewer than two items, or a constant ranking: no resample can define τ either
  if (n < 2 || Number.isNaN(tauOf(a, b, identity(n)))) return { tau, lo: tau, hi: tau };
  const rng = new Rng(`kendall-bootstrap:${opts.seed ?? 0}`);
  const idx = new Int32Array(n);
  const taus: number[] = [];
  // the full sample defines τ, so each resample does with positive probability; the bound only guards against a logic error
  for (let tries = 0; taus.length < samples && tries < samples * 1000; tries++) {
    for (let i = 0; i < n; i++) idx[i] = rng.int(n);
    const t = tauOf(a, b, idx);
    if (!Number.isNaN(t)) taus.push(t);
  }
  taus.sort((x, y) => x - y);
  return { tau, lo: quantile(taus, (1 - level) / 2), hi: quantile(taus, (1 + level) / 2) };
}

function checkBootstrap(what: string, samples: number, level: number): void {
  if (!Number.isInteger(samples) || samples < 1) throw new Error(`${what}: samples must be a positive integer, not ${samples}`);
  if (!(level > 0 && level < 1)) throw new Error(`${what}: level must lie in (0, 1), not ${level}`);
}

/** Two rankings of one draw of items against that draw's ground truth (one ablation's subnets). */
export interface PairedDraw {
  a: number[];
  b: number[];
  truth: number[];
}

/**
 * The mean τ of `a` and of `b` over the draws and their difference, each with a percentile
 * interval from one stratified paired bootstrap: each resample redraws every draw's items from
 * that draw alone and scores both rankings on that redraw. `what` names the caller in errors,
 * `key` the RNG stream.
 */
function pairedBootstrap(draws: PairedDraw[], opts: BootstrapOptions, what: string, key: string): { delta: TauInterval; a: TauInterval; b: TauInterval } {
  if (draws.length === 0) throw new Error(`${what}: no draws`);
  for (const d of draws) if (d.a.length !== d.truth.length || d.b.length !== d.truth.length) throw new Error(`${what}: lengths differ`);
  const samples = opts.samples ?? 2000;
  const level = opts.level ?? 0.95;
  checkBootstrap(what, samples, level);
  const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
  const point = { a: mean(draws.map((d) => kendallTau(d.a, d.truth))), b: mean(draws.map((d) => kendallTau(d.b, d.truth))) };
  // a draw too small, or with a constant ranking, leaves τ undefined on every resample
  const degenerate = draws.some((d) => d.truth.length < 2 || [d.a, d.b].some((x) => Number.isNaN(tauOf(x, d.truth, identity(d.truth.length)))));
  const as: number[] = [], bs: number[] = [], ds: number[] = [];
  const rng = new Rng(`${key}:${opts.seed ?? 0}`);
  for (let tries = 0; !degenerate && ds.length < samples && tries < samples * 1000; tries++) {
    let ta = 0, tb = 0;
    for (const d of draws) {
      const idx = Array.from({ length: d.truth.length }, () => rng.int(d.truth.length));
      ta += tauOf(d.a, d.truth, idx);
      tb += tauOf(d.b, d.truth, idx);
    }
    if (Number.isNaN(ta) || Number.isNaN(tb)) continue; // a resample on which τ is undefined is drawn again
    as.push(ta / draws.length);
    bs.push(tb / draws.length);
    ds.push((tb - ta) / draws.length);
  }
  const iv = (tau: number, xs: number[]): TauInterval => {
    if (xs.length === 0) return { tau, lo: tau, hi: tau };
    xs.sort((x, y) => x - y);
    return { tau, lo: quantile(xs, (1 - level) / 2), hi: quantile(xs, (1 + level) / 2) };
  };
  return { delta: iv(point.b - point.a, ds), a: iv(point.a, as), b: iv(point.b, bs) };
}

/**
 * τ(b, truth) − τ(a, truth) for two rankings of the same items against one ground truth, with a
 * paired percentile bootstrap interval: each resample draws the items once and recomputes both
 * τs on that draw. Two arms of an ablation rank the same subnets, so their τs share the ground
 * truth's noise; the paired interval leaves it out, and is narrower than comparing two separate
 * intervals.
 */
export function kendallTauDifference(a: number[], b: number[], truth: number[], opts: BootstrapOptions = {}): TauInterval {
  return pairedBootstrap([{ a, b, truth }], opts, 'kendallTauDifference', 'kendall-difference').delta;
}

/**
 * Δτ = τ(b, truth) − τ(a, truth) averaged over independent draws of items (e.g. the same two
 * recipes measured on two draws of 20 subnets), with a stratified paired bootstrap; also the mean
 * τ of `a` and of `b`, each with its interval from the same resamples.
 */
export function pooledTauDifference(draws: PairedDraw[], opts: BootstrapOptions = {}): { delta: TauInterval; a: TauInterval; b: TauInterval } {
  return pairedBootstrap(draws, opts, 'pooledTauDifference', 'kendall-pooled');
}
