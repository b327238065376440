/** Budget strings (`1.3G`, `850M`, `12e6`, `1.3g`, `500k`) → MACs. One parser for every command. */
import { VitasError } from '../errors.js';

const SUFFIX: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12 };
export const BUDGET_FORMS = 'a number with an optional K/M/G suffix, e.g. 1.3G, 850M, 12e6';

/** Parse a budget; `flag` names where it came from (`--budget`) for the error message. */
export function parseBudget(text: string | number, flag = '--budget'): number {
  if (typeof text === 'number') {
    if (Number.isFinite(text) && text > 0) return Math.round(text);
    throw new VitasError(`${flag}: ${text} is not ${Number.isFinite(text) ? 'a positive budget' : 'finite'}; use ${BUDGET_FORMS}`);
  }
  const m = /^\s*((?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\s*([kmgt]?)\s*(?:macs|flops)?\s*$/i.exec(text);
  if (!m) throw new VitasError(`${flag}: "${text}" is not a budget; use ${BUDGET_FORMS}`);
  const value = Number(m[1]) * SUFFIX[m[2]!.toLowerCase()]!;
  if (!Number.isFinite(value)) throw new VitasError(`${flag}: "${text}" is not finite; use ${BUDGET_FORMS}`);
  if (value <= 0) throw new VitasError(`${flag}: "${text}" must be positive; use ${BUDGET_FORMS}`);
  return Math.round(value);
}

/** A search score: a count (the params or MACs proxy) with thousands separators, anything else to 4 decimals. */
export function formatScore(x: number): string {
  return Number.isInteger(x) ? x.toLocaleString('en-US') : x.toFixed(4);
}

/** 1253683200 → "1.25G" */
export function formatMacs(n: number, digits = 3): string {
  const abs = Math.abs(n);
  if (abs >= 1e9) return `${+(n / 1e9).toPrecision(digits)}G`;
  if (abs >= 1e6) return `${+(n / 1e6).toPrecision(digits)}M`;
  if (abs >= 1e3) return `${+(n / 1e3).toPrecision(digits)}K`;
  return String(n);
}
