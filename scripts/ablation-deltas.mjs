// Paired Δτ of every finished ablation: each arm's Kendall τ minus its first arm's, with the paired
// bootstrap interval (kendallTauDifference), from the results.json the ablations wrote. A one-arm
// ablation (recipe.json) pairs with the first arm of another that ranks the same subnets against
// the same stand-alone accuracies (the base run). An arm measured on several draws of subnets
// in one window (recipe.json and recipe-replicate.json) also gets a pooled row: τ and Δτ averaged over the draws,
// with a stratified paired bootstrap (pooledTauDifference). Reads only; prints markdown tables. Usage: node scripts/ablation-deltas.mjs [results/ablations] (after npm run build)
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { kendallTauDifference, markdownTable, pooledTauDifference } from '../dist/src/index.js';

const root = process.argv[2] ?? 'results/ablations';
const f = (v) => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(2)}`;
const runs = [];
for (const name of readdirSync(root).sort()) {
  const file = join(root, name, 'results.json');
  if (!existsSync(file)) continue;
  const r = JSON.parse(readFileSync(file, 'utf8'));
  const arms = r.arms.filter((a) => a.kendall);
  if (arms.length) runs.push({ name, r, arms });
}
const same = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);
const rows = [];
const byArm = new Map(); // arm name and window → the draws it was measured on, paired with its first arm
for (const { name, r, arms } of runs) {
  const boot = { seed: 0, ...(r.definition?.metrics?.kendall?.bootstrap ? { samples: r.definition.metrics.kendall.bootstrap } : {}) };
  let first = { label: arms[0].name, arm: arms[0] };
  let others = arms.slice(1);
  if (!others.length) {
    const ref = runs.find((o) => o.name !== name && o.arms.length > 1 && same(o.arms[0].kendall.standalone, arms[0].kendall.standalone));
    if (!ref) continue;
    first = { label: `${ref.name}: ${ref.arms[0].name}`, arm: ref.arms[0] };
    others = arms;
  }
  for (const a of others) {
    // the report's own Δτ where the ablation wrote one (its bootstrap seed is the base's supernet
    // seed, which results.json does not keep); ablations from before it had seed 0
    const d = (first.arm === arms[0] && a.kendall.vsFirst) || kendallTauDifference(first.arm.kendall.inherited, a.kendall.inherited, a.kendall.standalone, boot);
    rows.push([name, first.label, a.name, first.arm.kendall.tau.toFixed(2), a.kendall.tau.toFixed(2), `${f(d.tau)} [${f(d.lo)}, ${f(d.hi)}]`]);
    // draws pool only within one budget window: another window is another experiment
    const key = `${a.name} @ ${r.window.min}–${r.window.max}`;
    const draws = byArm.get(key) ?? [];
    if (!draws.some((x) => same(x.truth, a.kendall.standalone))) draws.push({ a: first.arm.kendall.inherited, b: a.kendall.inherited, truth: a.kendall.standalone, from: name, arm: a.name });
    byArm.set(key, draws);
  }
}
console.log(markdownTable(['ablation', 'first arm', 'arm', 'τ first', 'τ arm', 'Δτ [95 %, paired]'], rows));
const iv = (t) => `${t.tau.toFixed(2)} [${t.lo.toFixed(2)}, ${t.hi.toFixed(2)}]`;
const pooled = [...byArm.values()].filter((draws) => draws.length > 1).map((draws) => {
  const p = pooledTauDifference(draws);
  return [draws[0].arm, draws.map((d) => d.from).join(' + '), iv(p.a), iv(p.b), `${f(p.delta.tau)} [${f(p.delta.lo)}, ${f(p.delta.hi)}]`];
});
if (pooled.length) {
  console.log('\nPooled over independent draws of subnets (mean of the per-draw τ; stratified paired bootstrap):\n');
  console.log(markdownTable(['arm', 'draws', 'τ first arm [95 %]', 'τ arm [95 %]', 'Δτ [95 %, paired]'], pooled));
}
