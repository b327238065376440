/** Kendall rank correlation τ-b (ties in either ranking handled), for supernet ranking fidelity. */
export function kendallTau(a: number[], b: number[]): number {
  if (a.length !== b.length) throw new Error('kendallTau: lengths differ');
  let concordant = 0, discordant = 0, tiesA = 0, tiesB = 0;
  for (let i = 0; i < a.length; i++)
    for (let j = i + 1; j < a.length; j++) {
      const da = Math.sign(a[i]! - a[j]!);
      const db = Math.sign(b[i]! - b[j]!);
      if (da === 0 && db === 0) continue;
      if (da === 0) tiesA++;
      else if (db === 0) tiesB++;
      else if (da === db) concordant++;
      else discordant++;
    }
  const denom = Math.sqrt((concordant + discordant + tiesA) * (concordant + discordant + tiesB));
  return denom === 0 ? 0 : (concordant - discordant) / denom;
}
