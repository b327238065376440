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
