/** Summary statistics for results over seeds. */

export interface MeanStd {
  mean: number;
  /** sample standard deviation (n − 1); 0 for one value */
  std: number;
  n: number;
}

export function meanStd(values: readonly number[]): MeanStd {
  const n = values.length;
  if (n === 0) return { mean: NaN, std: NaN, n: 0 };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const ss = values.reduce((a, v) => a + (v - mean) ** 2, 0);
  return { mean, std: n > 1 ? Math.sqrt(ss / (n - 1)) : 0, n };
}

/** "91.23 ± 0.41" (percent of a fraction, 2 decimals); one value has no ± part. */
export function formatPercent(s: MeanStd): string {
  if (s.n === 0) return '–';
  const m = (100 * s.mean).toFixed(2);
  return s.n > 1 ? `${m} ± ${(100 * s.std).toFixed(2)}` : m;
}

/** The middle value (the mean of the two middle ones for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  const v = [...values].sort((a, b) => a - b);
  const h = v.length >> 1;
  return v.length === 0 ? NaN : v.length % 2 ? v[h]! : (v[h - 1]! + v[h]!) / 2;
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7): enough for the t distribution's few digits. */
function logGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61503916999185, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0]!;
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** The regularised incomplete beta I_x(a, b), by its continued fraction (modified Lentz). */
function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  // the fraction converges fast only below the mean; use the symmetry I_x(a,b) = 1 − I_{1−x}(b,a)
  if (x > (a + 1) / (a + b + 2)) return 1 - incompleteBeta(1 - x, b, a);
  const front = Math.exp(a * Math.log(x) + b * Math.log(1 - x) - logGamma(a) - logGamma(b) + logGamma(a + b)) / a;
  const tiny = 1e-300;
  let f = 1, c = 1, d = 0;
  for (let i = 0; i <= 300; i++) {
    const m = i >> 1;
    const num = i === 0 ? 1 : i % 2 === 0 ? (m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m)) : -((a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1));
    d = 1 + num * d;
    d = Math.abs(d) < tiny ? tiny : d;
    d = 1 / d;
    c = 1 + num / c;
    c = Math.abs(c) < tiny ? tiny : c;
    f *= c * d;
    if (Math.abs(1 - c * d) < 1e-12) break;
  }
  return front * (f - 1);
}

/** P(T ≤ t) for Student's t with `df` degrees of freedom (df may be fractional, as Welch's). */
export function studentTCdf(t: number, df: number): number {
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/** The p-quantile of Student's t (bisection on the CDF). */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1) || !(df > 0)) return NaN;
  let lo = -1e4, hi = 1e4;
  for (let i = 0; i < 200 && hi - lo > 1e-10; i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

export interface Difference {
  /** mean(a) − mean(b) */
  diff: number;
  /** its standard error, √(s_a²/n_a + s_b²/n_b) */
  se: number;
  /** Welch–Satterthwaite degrees of freedom */
  df: number;
  lo: number;
  hi: number;
}

/**
 * The difference of two means with Welch's interval (unequal variances), the comparison of two
 * specs over their seeds. Undefined (NaN) with fewer than 2 values on a side; when both sides have
 * no spread the interval is the difference itself.
 */
export function welchInterval(a: readonly number[], b: readonly number[], level = 0.95): Difference {
  const x = meanStd(a), y = meanStd(b);
  const diff = x.mean - y.mean;
  if (x.n < 2 || y.n < 2) return { diff, se: NaN, df: NaN, lo: NaN, hi: NaN };
  const va = (x.std * x.std) / x.n, vb = (y.std * y.std) / y.n;
  const se = Math.sqrt(va + vb);
  if (se === 0) return { diff, se, df: Infinity, lo: diff, hi: diff };
  const df = (va + vb) ** 2 / (va * va / (x.n - 1) + vb * vb / (y.n - 1));
  const q = studentTQuantile((1 + level) / 2, df);
  return { diff, se, df, lo: diff - q * se, hi: diff + q * se };
}
