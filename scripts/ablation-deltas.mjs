// Paired Δτ of every finished ablation: each arm's Kendall τ minus its first arm's, with the paired
// bootstrap interval (kendallTauDifference), from the results.json the ablations wrote. Reads only;
// prints a markdown table. Usage: node scripts/ablation-deltas.mjs [results/ablations] (after npm run build)
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { kendallTauDifference, markdownTable } from '../dist/src/index.js';

const root = process.argv[2] ?? 'results/ablations';
const f = (v) => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(2)}`;
const rows = [];
for (const name of readdirSync(root).sort()) {
  const file = join(root, name, 'results.json');
  if (!existsSync(file)) continue;
  const r = JSON.parse(readFileSync(file, 'utf8'));
  const arms = r.arms.filter((a) => a.kendall);
  if (arms.length < 2) continue;
  const boot = { seed: r.definition?.base?.supernet?.seed ?? 0, ...(r.definition?.metrics?.kendall?.bootstrap ? { samples: r.definition.metrics.kendall.bootstrap } : {}) };
  const [first] = arms;
  for (const a of arms.slice(1)) {
    const d = kendallTauDifference(first.kendall.inherited, a.kendall.inherited, a.kendall.standalone, boot);
    rows.push([name, first.name, a.name, first.kendall.tau.toFixed(2), a.kendall.tau.toFixed(2), `${f(d.tau)} [${f(d.lo)}, ${f(d.hi)}]`]);
  }
}
console.log(markdownTable(['ablation', 'first arm', 'arm', 'τ first', 'τ arm', 'Δτ [95 %, paired]'], rows));
