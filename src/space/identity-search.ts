/** ViTAS identity-probability search (DESIGN §5): tune p_id so random subnets' mean cost falls in the budget window. */
import { costOf, type Convention } from '../space/cost.js';
import { sampleSpec } from '../space/genome.js';
import { Rng } from '../space/rng.js';
import type { SearchSpace } from '../space/space.js';
import { VitasError } from '../errors.js';

export interface BudgetWindow {
  min: number;
  max: number;
  convention: Convention;
}

export function meanCost(space: SearchSpace, pId: number, samples: number, seed: string | number, convention: Convention): number {
  const rng = new Rng(`pid:${seed}`);
  let sum = 0;
  for (let i = 0; i < samples; i++) sum += costOf(sampleSpec(space, rng, { pId }), convention).macs;
  return sum / samples;
}

/** Start at 0.5; step 0.01 up while the mean is above the window, down while below. */
export function searchIdentityProbability(space: SearchSpace, budget: BudgetWindow, opts: { samples?: number; seed?: string | number } = {}): { pId: number; meanMacs: number; steps: number } {
  if (space.identity !== 'anywhere') throw new VitasError(`space "${space.name}": identity-probability search needs identity "anywhere" blocks`);
  const samples = opts.samples ?? 1000;
  const seed = opts.seed ?? 0;
  let p = 0.5;
  let lastDir = 0;
  for (let step = 0; step < 200; step++) {
    const m = meanCost(space, p, samples, seed, budget.convention);
    if (m >= budget.min && m <= budget.max) return { pId: p, meanMacs: m, steps: step };
    const dir = m > budget.max ? 1 : -1;
    // overshooting back and forth: the window is narrower than one step; take the closer side
    if (lastDir !== 0 && dir !== lastDir) return { pId: p, meanMacs: m, steps: step };
    const next = Math.round((p + 0.01 * dir) * 100) / 100;
    if (next < 0 || next > 0.99) return { pId: Math.min(0.99, Math.max(0, p)), meanMacs: m, steps: step };
    p = next;
    lastDir = dir;
  }
  return { pId: p, meanMacs: meanCost(space, p, samples, seed, budget.convention), steps: 200 };
}
