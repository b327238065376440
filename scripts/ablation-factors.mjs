// What each ranking rewards: Kendall τ-b of each architectural feature of the ranked subnets against
// the stand-alone accuracies (what training from scratch rewards) and against the inherited ones
// (what the supernet rewards). A feature the stand-alone side rewards and the supernet does not is
// a choice the weight sharing cannot tell apart (or one the ground truth measures differently).
// Reads the results.json of finished ablations (their subnets re-drawn from the base definition) or
// of `vitas supernet rank` (which keeps its subnets). Reads only; prints markdown tables.
// Usage: node scripts/ablation-factors.mjs [results.json | folder of ablations …] (default results/ablations; after npm run build)
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { budgetWindow, costOf, drawSubnets, kendallTau, loadDefinition, markdownTable, resolveSpace } from '../dist/src/index.js';

const definitions = resolve(dirname(new URL(import.meta.url).pathname), '..', 'searches', 'ablations');
const blocks = (s) => s.blocks.filter((b) => b.op !== 'identity');
const count = (kind) => (s) => blocks(s).filter((b) => b.attention === kind).length;
const FEATURES = {
  patch: (s) => s.patch,
  embed: (s) => s.embed,
  depth: (s) => blocks(s).length,
  'softmax blocks': count('softmax'),
  'mixer blocks': count('mixer'),
  'recursive blocks': (s) => blocks(s).filter((b) => (b.recursion ?? 1) > 1).length,
  'grouped blocks': (s) => blocks(s).filter((b) => (b.groups ?? [1]).some((g) => g > 1)).length,
  'heads (mean)': (s) => blocks(s).reduce((a, b) => a + b.heads, 0) / blocks(s).length,
  'MLP width (sum)': (s) => blocks(s).reduce((a, b) => a + b.mlp, 0),
  params: (s) => costOf(s).params,
};

/** the table of one ranking: its subnets, the stand-alone accuracies, and one or more inherited rankings */
function table(title, subnets, standalone, inherited) {
  const seen = [];
  const rows = Object.entries(FEATURES).flatMap(([feature, of]) => {
    const x = subnets.map(of);
    // a feature every subnet shares ranks nothing; one equal to an earlier one (softmax blocks = depth
    // in an all-softmax space) says nothing new
    if (new Set(x).size < 2 || seen.some((y) => y.every((v, i) => v === x[i]))) return [];
    seen.push(x);
    return [[feature, kendallTau(x, standalone).toFixed(2), ...inherited.map((r) => kendallTau(x, r.values).toFixed(2))]];
  });
  console.log(`\n${title}: τ of each feature against the accuracies\n`);
  console.log(markdownTable(['feature', 'stand-alone', ...inherited.map((r) => `inherited, ${r.label}`)], rows));
}

function ablation(file, r) {
  const arms = r.arms.filter((a) => a.kendall);
  if (!arms.length || typeof r.definition.base !== 'string') return;
  const path = join(definitions, r.definition.base);
  const def = loadDefinition(path);
  const window = budgetWindow(def.budget.max, def.budget.min, def.budget.convention ?? 'macs');
  const subnets = drawSubnets(resolveSpace(def, path), window, arms[0].kendall.macs.length, def.supernet?.seed ?? 0);
  // the draw of an ablation with a recursion=off arm came from the space without recursion: not reproduced here
  if (!subnets.every((s, i) => costOf(s).macs === arms[0].kendall.macs[i])) return console.log(`\n${file}: the draw is not reproduced from ${r.definition.base}; skipped`);
  table(`${r.name} (${r.definition.base}, ${subnets.length} subnets)`, subnets, arms[0].kendall.standalone, arms.map((a) => ({ label: `${a.name} (τ ${a.kendall.tau.toFixed(2)})`, values: a.kendall.inherited })));
}

function rank(file, r) {
  const s = r.subnets;
  table(`${file} (${s.length} subnets)`, s.map((x) => x.spec), s.map((x) => x.standalone), [{ label: `τ ${r.tau.toFixed(2)}`, values: s.map((x) => x.inherited) }]);
}

const args = process.argv.slice(2);
for (const arg of args.length ? args : ['results/ablations']) {
  const files = statSync(arg).isDirectory() ? readdirSync(arg).sort().map((n) => join(arg, n, 'results.json')).filter(existsSync) : [arg];
  for (const f of files) {
    const r = JSON.parse(readFileSync(f, 'utf8'));
    if (Array.isArray(r.arms)) ablation(f, r);
    else if (Array.isArray(r.subnets) && r.subnets[0]?.spec) rank(f, r);
  }
}
