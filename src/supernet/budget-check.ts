import { formatMacs } from '../space/budget.js';
import type { Convention } from '../space/cost.js';
import { VitasError } from '../space/errors.js';
import { reachableRange } from '../space/range.js';
import type { SearchSpace } from '../space/space.js';

/** A budget window outside what the space can reach fails at once, with the reachable range. */
export function reachableCheck(space: SearchSpace, w: { min: number; max: number; convention: Convention }, flag = '--budget'): void {
  const r = reachableRange(space, w.convention);
  if (w.max < r.min || w.min > r.max) {
    throw new VitasError(`${flag}: window [${formatMacs(w.min)}, ${formatMacs(w.max)}] is outside what space "${space.name}" can reach: ${formatMacs(r.min)} – ${formatMacs(r.max)} MACs (convention ${w.convention})`);
  }
}
