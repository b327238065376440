/** SReT's sliced group attention: how P patch tokens are cut into G contiguous groups. */

/** Σ n_g² over G contiguous groups of P patch tokens (first P mod G groups one larger), `extra` tokens joining group 0. */
export function groupedSquares(patches: number, groups: number, extra: number): number {
  const q = Math.floor(patches / groups);
  const rem = patches - q * groups;
  // group 0 is one of the larger groups when rem > 0
  const first = (rem > 0 ? q + 1 : q) + extra;
  const big = rem > 0 ? rem - 1 : 0;
  const small = groups - 1 - big;
  return first * first + big * (q + 1) * (q + 1) + small * q * q;
}

/** Sizes of the G groups; class token not included. */
export function groupSizes(patches: number, groups: number): number[] {
  const q = Math.floor(patches / groups);
  const rem = patches % groups;
  return Array.from({ length: groups }, (_, g) => (g < rem ? q + 1 : q));
}
