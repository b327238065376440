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
