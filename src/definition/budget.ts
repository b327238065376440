/** Budget windows: `--budget` / `--min` (or a definition's budget) parsed into [min, max], and checked against what a space can reach. */
import { formatMacs, parseBudget } from '../space/budget.js';
import type { Convention } from '../space/cost.js';
import { VitasError } from '../errors.js';
import type { BudgetWindow } from '../space/identity-search.js';
import { reachableRange } from '../space/range.js';
import type { SearchSpace } from '../space/space.js';

/** The budget window [min, max]; min defaults to 90 % of max (DESIGN §8). */
export function budgetWindow(max: string | number, min: string | number | undefined, convention: Convention = 'macs', flags = { max: '--budget', min: '--min' }): BudgetWindow {
  const hi = parseBudget(max, flags.max);
  const lo = min === undefined ? Math.round(0.9 * hi) : parseBudget(min, flags.min);
  if (lo > hi) throw new VitasError(`${flags.min}: ${lo} exceeds ${flags.max} ${hi}`);
  return { min: lo, max: hi, convention };
}

/** A budget window outside what the space can reach fails at once, with the reachable range. */
export function reachableCheck(space: SearchSpace, w: BudgetWindow, flag = '--budget'): void {
  const r = reachableRange(space, w.convention);
  if (w.max < r.min || w.min > r.max) {
    throw new VitasError(`${flag}: window [${formatMacs(w.min)}, ${formatMacs(w.max)}] is outside what space "${space.name}" can reach: ${formatMacs(r.min)} – ${formatMacs(r.max)} MACs (convention ${w.convention})`);
  }
}
