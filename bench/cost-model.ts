/**
 * Cost-model speed: specs/s for `costOf` over pre-sampled distinct specs of each preset space,
 * both conventions alternating. Two pool sizes: 1,000 specs (what the searcher handles at once:
 * fresh children, cache-warm) and 20,000 (cache-cold).
 * Target (DESIGN §3): ≥ 1,000,000 specs/s on the 2-core dev machine. Run: npm run bench:cost
 */
import { performance } from 'node:perf_hooks';
import { Rng, SPACES, costOf, sampleSpec, markdownTable, withCommas, type ArchSpec } from '../src/index.js';

function rate(specs: ArchSpec[], evaluations: number): number {
  let sink = 0;
  for (const s of specs) sink += costOf(s).macs; // warm-up (JIT)
  const rounds = Math.ceil(evaluations / specs.length);
  const t0 = performance.now();
  for (let r = 0; r < rounds; r++) for (let i = 0; i < specs.length; i++) sink += costOf(specs[i]!, r % 2 ? 'vitas' : 'macs').macs;
  const secs = (performance.now() - t0) / 1000;
  if (!(sink > 0)) throw new Error('cost model returned nothing');
  return (rounds * specs.length) / secs;
}

const rows: string[][] = [];
let worst = Infinity;
for (const [name, space] of Object.entries(SPACES)) {
  const rng = new Rng(`bench-${name}`);
  const warm = rate(Array.from({ length: 1_000 }, () => sampleSpec(space, rng)), 1_000_000);
  const cold = rate(Array.from({ length: 20_000 }, () => sampleSpec(space, rng)), 500_000);
  worst = Math.min(worst, warm);
  rows.push([name, withCommas(warm), withCommas(cold)]);
}
console.log(markdownTable(['space', 'specs/s (1k pool)', 'specs/s (20k pool)'], rows, ['left', 'right', 'right']));
console.log(`cost-model specs/s (slowest space): ${withCommas(worst)} — target ≥ 1,000,000: ${worst >= 1e6 ? 'met' : 'NOT met'}`);
