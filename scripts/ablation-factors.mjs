// What each ranking rewards: for every finished ablation (with its subnets' draw reproduced from its
// base definition), Kendall τ-b of each architectural feature of the 20 subnets against the
// stand-alone accuracies (what training from scratch rewards) and against each arm's inherited
// accuracies (what the supernet rewards). A feature the stand-alone side rewards and an arm does
// not is a choice the weight sharing cannot tell apart. Reads only; prints markdown tables.
// Usage: node scripts/ablation-factors.mjs [results/ablations] [name …] (after npm run build)
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { budgetWindow, costOf, drawSubnets, kendallTau, loadDefinition, markdownTable, resolveSpace } from '../dist/src/index.js';

const [root = 'results/ablations', ...only] = process.argv.slice(2);
const definitions = resolve(dirname(new URL(import.meta.url).pathname), '..', 'searches', 'ablations');
const blocks = (s) => s.blocks.filter((b) => b.op !== 'identity');
const FEATURES = {
  patch: (s) => s.patch,
  embed: (s) => s.embed,
  depth: (s) => blocks(s).length,
  'recursive blocks': (s) => blocks(s).filter((b) => (b.recursion ?? 1) > 1).length,
  'grouped blocks': (s) => blocks(s).filter((b) => (b.groups ?? [1]).some((g) => g > 1)).length,
  'heads (mean)': (s) => blocks(s).reduce((a, b) => a + b.heads, 0) / blocks(s).length,
  'MLP width (sum)': (s) => blocks(s).reduce((a, b) => a + b.mlp, 0),
  params: (s) => costOf(s).params,
};
for (const name of readdirSync(root).sort()) {
  const file = join(root, name, 'results.json');
  if (!existsSync(file) || (only.length && !only.includes(name))) continue;
  const r = JSON.parse(readFileSync(file, 'utf8'));
  const arms = r.arms.filter((a) => a.kendall);
  if (!arms.length || typeof r.definition.base !== 'string') continue;
  const path = join(definitions, r.definition.base);
  const def = loadDefinition(path);
  const window = budgetWindow(def.budget.max, def.budget.min, def.budget.convention ?? 'macs');
  const subnets = drawSubnets(resolveSpace(def, path), window, arms[0].kendall.macs.length, def.supernet?.seed ?? 0);
  // the draw of an ablation with a recursion=off arm came from the space without recursion: not reproduced here
  if (!subnets.every((s, i) => costOf(s).macs === arms[0].kendall.macs[i])) {
    console.log(`\n${name}: the draw is not reproduced from ${r.definition.base}; skipped`);
    continue;
  }
  const rows = Object.entries(FEATURES).map(([feature, of]) => {
    const x = subnets.map(of);
    return [feature, kendallTau(x, arms[0].kendall.standalone).toFixed(2), ...arms.map((a) => kendallTau(x, a.kendall.inherited).toFixed(2))];
  });
  console.log(`\n${name} (${r.definition.base}, ${subnets.length} subnets): τ of each feature against the accuracies\n`);
  console.log(markdownTable(['feature', 'stand-alone', ...arms.map((a) => `inherited, ${a.name} (τ ${a.kendall.tau.toFixed(2)})`)], rows));
}
