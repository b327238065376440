/** A seeded RNG whose full state can be saved and restored (search resume must be exact). */
import seedrandom from 'seedrandom';

export type RngState = object;

interface StatefulPrng {
  (): number;
  state(): RngState;
}

export class Rng {
  private readonly prng: StatefulPrng;

  constructor(seed: string | number, state?: RngState) {
    // seedrandom's typings omit the state API it has at run time
    const make = seedrandom as unknown as (seed: string, opts: { state: boolean | RngState }) => StatefulPrng;
    this.prng = state ? make('', { state: structuredClone(state) }) : make(String(seed), { state: true });
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.prng();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.prng() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.prng();
    const v = this.prng();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }

  state(): RngState {
    return this.prng.state();
  }
}

/**
 * The one place a seed for a tfjs random op (randomNormal, truncatedNormal, randomUniform, …) is
 * made: derived from the run seed and the purpose (a parameter name, "proxy/input", an index …),
 * so every tensor a run draws follows from its seed. Never 0: tfjs-core treats a seed of 0 as
 * "no seed" and draws from Math.random, so the default seed 0 would not reproduce.
 */
export function tensorSeed(seed: number | string, ...labels: (string | number)[]): number {
  // FNV-1a over the text, folded into [1, 2^31 − 2]. Fixed for good: a supernet's buffers (Performer's
  // features) are redrawn from it when a checkpoint loads, so changing it would change saved runs.
  let h = 0x811c9dc5;
  const text = [seed, ...labels].join('\u0000');
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return (h % 0x7ffffffe) + 1;
}

/** A tfjs seed drawn from a seeded RNG (e.g. one drop-path mask per step), in [1, 2^31 − 1]: never tfjs's "no seed" 0. */
export function drawTensorSeed(rng: Rng): number {
  return 1 + rng.int(2 ** 31 - 1);
}
