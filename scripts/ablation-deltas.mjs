// Paired Δτ of every finished ablation, from the results.json the ablations wrote, each with the
// paired bootstrap interval (kendallTauDifference). Reads only; prints markdown tables.
// - Each arm against its ablation's first arm. A one-arm ablation (recipe.json) pairs with the first
//   arm of another that ranks the same subnets against the same stand-alone accuracies (the base run).
// - A one-arm ablation against an arm of another ablation whose factors it extends by one, on the
//   same subnets (private-groups.json against recipe.json's arm).
// - An arm against the same arm trained for another number of supernet epochs (the base
//   definition's `supernet.epochs`) on the same subnets (recipe-15ep.json against recipe.json).
// - Pooled rows where a comparison was made on several draws of subnets in one window (recipe.json
//   and recipe-replicate.json): τ and Δτ averaged over the draws, with a stratified paired bootstrap
//   (pooledTauDifference). Draws pool only within one window and one supernet length.
// Usage: node scripts/ablation-deltas.mjs [results/ablations] (after npm run build)
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { DEFAULT_RECIPE, kendallTauDifference, loadDefinition, markdownTable, pooledTauDifference } from '../dist/src/index.js';

const root = process.argv[2] ?? 'results/ablations';
const definitions = resolve(dirname(new URL(import.meta.url).pathname), '..', 'searches', 'ablations');
const f = (v) => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(2)}`;
/** the supernet epochs of an ablation's base definition (a file in searches/ablations, or inline) */
const epochsOf = (def) => {
  const base = typeof def.base === 'string' ? loadDefinition(join(definitions, def.base)) : def.base;
  return base.supernet?.epochs ?? DEFAULT_RECIPE.epochs;
};
const runs = [];
for (const name of readdirSync(root).sort()) {
  const file = join(root, name, 'results.json');
  if (!existsSync(file)) continue;
  const r = JSON.parse(readFileSync(file, 'utf8'));
  const arms = r.arms.filter((a) => a.kendall);
  if (arms.length) runs.push({ name, r, arms, epochs: epochsOf(r.definition) });
}
const same = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);
const rows = [];
const pools = new Map(); // comparison and window → the draws it was measured on
const addDraw = (key, draw) => {
  const draws = pools.get(key) ?? [];
  if (!draws.some((x) => same(x.truth, draw.truth))) draws.push(draw);
  pools.set(key, draws);
};
const where = (r) => `${r.window.min}–${r.window.max}`;
const row = (name, firstLabel, armLabel, first, arm, d) => rows.push([name, firstLabel, armLabel, first.kendall.tau.toFixed(2), arm.kendall.tau.toFixed(2), `${f(d.tau)} [${f(d.lo)}, ${f(d.hi)}]`]);
for (const { name, r, arms, epochs } of runs) {
  const boot = { seed: 0, ...(r.definition?.metrics?.kendall?.bootstrap ? { samples: r.definition.metrics.kendall.bootstrap } : {}) };
  let first = { label: arms[0].name, arm: arms[0] };
  let others = arms.slice(1);
  if (!others.length) {
    const ref = runs.find((o) => o.name !== name && o.arms.length > 1 && o.epochs === epochs && same(o.arms[0].kendall.standalone, arms[0].kendall.standalone));
    others = ref ? arms : [];
    if (ref) first = { label: `${ref.name}: ${ref.arms[0].name}`, arm: ref.arms[0] };
  }
  for (const a of others) {
    // the report's own Δτ where the ablation wrote one (its bootstrap seed is the base's supernet
    // seed, which results.json does not keep); ablations from before it had seed 0
    const d = (first.arm === arms[0] && a.kendall.vsFirst) || kendallTauDifference(first.arm.kendall.inherited, a.kendall.inherited, a.kendall.standalone, boot);
    row(name, `${first.label} (${epochs} ep)`, `${a.name} (${epochs} ep)`, first.arm, a, d);
    addDraw(`${a.name}, ${epochs} supernet epochs @ ${where(r)}`, { a: first.arm.kendall.inherited, b: a.kendall.inherited, truth: a.kendall.standalone, from: name, arm: `${a.name} (${epochs} ep)` });
  }
  // a one-arm ablation that adds one factor to an arm of another ablation (private-groups.json adds
  // privateGroups to recipe.json's three): that arm, on the same subnets, stand-alone accuracies and
  // supernet length, is the comparison that isolates the added factor
  if (arms.length === 1) {
    const a = arms[0];
    const n = Object.keys(a.factors).length;
    const nested = (b) => Object.keys(b.factors).length === n - 1 && n > 1 && Object.entries(b.factors).every(([k, v]) => a.factors[k] === v);
    for (const o of runs) {
      if (o.name === name || o.epochs !== epochs) continue;
      for (const ref of o.arms.filter((b) => nested(b) && same(b.kendall.standalone, a.kendall.standalone))) {
        const d = kendallTauDifference(ref.kendall.inherited, a.kendall.inherited, a.kendall.standalone, boot);
        row(name, `${o.name}: ${ref.name} (${epochs} ep)`, `${a.name} (${epochs} ep)`, ref, a, d);
        addDraw(`${a.name} against ${ref.name}, ${epochs} supernet epochs @ ${where(r)}`, { a: ref.kendall.inherited, b: a.kendall.inherited, truth: a.kendall.standalone, from: `${o.name} / ${name}`, arm: `${a.name} against ${ref.name} (${epochs} ep)` });
      }
    }
  }
  // the same arm with a shorter supernet schedule, on the same subnets and stand-alone accuracies
  for (const a of arms) {
    for (const o of runs) {
      if (o.epochs >= epochs) continue;
      const short = o.arms.find((b) => b.name === a.name && same(b.kendall.standalone, a.kendall.standalone));
      if (!short) continue;
      const d = kendallTauDifference(short.kendall.inherited, a.kendall.inherited, a.kendall.standalone, boot);
      row(name, `${o.name}: ${short.name} (${o.epochs} ep)`, `${a.name} (${epochs} ep)`, short, a, d);
      addDraw(`${a.name}, ${o.epochs} against ${epochs} supernet epochs @ ${where(r)}`, { a: short.kendall.inherited, b: a.kendall.inherited, truth: a.kendall.standalone, from: `${o.name} / ${name}`, arm: `${a.name}: ${o.epochs} → ${epochs} ep` });
    }
  }
}
console.log(markdownTable(['ablation', 'first arm', 'arm', 'τ first', 'τ arm', 'Δτ [95 %, paired]'], rows));
const iv = (t) => `${t.tau.toFixed(2)} [${t.lo.toFixed(2)}, ${t.hi.toFixed(2)}]`;
const pooled = [...pools.values()].filter((draws) => draws.length > 1).map((draws) => {
  const p = pooledTauDifference(draws);
  return [draws[0].arm, draws.map((d) => d.from).join(' + '), iv(p.a), iv(p.b), `${f(p.delta.tau)} [${f(p.delta.lo)}, ${f(p.delta.hi)}]`];
});
if (pooled.length) {
  console.log('\nPooled over independent draws of subnets (mean of the per-draw τ; stratified paired bootstrap):\n');
  console.log(markdownTable(['arm', 'draws', 'τ first arm [95 %]', 'τ arm [95 %]', 'Δτ [95 %, paired]'], pooled));
}
