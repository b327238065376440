/** Inherited-weight scores of a list of subnets, with the repeatability of their ranking. */
import type { Dataset } from '../data/dataset.js';
import type { ArchSpec } from '../space/spec.js';
import type { Supernet } from '../supernet/supernet.js';
import { subnetHits, type SubnetEvalOptions } from '../supernet/trainer.js';
import { kendallTauInterval, type BootstrapOptions, type TauInterval } from './kendall.js';

export interface InheritedScores {
  /** validation top-1 of each subnet */
  accuracies: number[];
  /** the same on the even- and on the odd-numbered validation images */
  halves: [number, number][];
  /**
   * τ between the two halves' rankings: how far the inherited ranking repeats on other images
   * (at half the images each, so a lower bound for the whole split). Evaluation noise alone keeps
   * τ against any ground truth below about this.
   */
  repeatability: TauInterval;
}

export function inheritedScores(net: Supernet, subnets: readonly ArchSpec[], val: Dataset, opts: SubnetEvalOptions, boot: BootstrapOptions, onEach?: (i: number, accuracy: number) => void): InheritedScores {
  const accuracies: number[] = [];
  const halves: [number, number][] = [];
  subnets.forEach((s, i) => {
    const hits = subnetHits(net, s, val, opts);
    const right = (parity: number): number => {
      let n = 0;
      for (let j = parity; j < hits.length; j += 2) n += hits[j]!;
      return n;
    };
    const [even, odd] = [right(0), right(1)];
    accuracies.push((even + odd) / hits.length);
    halves.push([even / Math.ceil(hits.length / 2), odd / Math.max(1, Math.floor(hits.length / 2))]);
    onEach?.(i, accuracies[i]!);
  });
  const repeatability = kendallTauInterval(halves.map((h) => h[0]), halves.map((h) => h[1]), boot);
  return { accuracies, halves, repeatability };
}
