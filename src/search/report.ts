/** The run folder's pictures and tables: pareto.svg (score vs cost) and summary.md (top-10). */
import { join } from 'node:path';
import { writeAtomic } from '../io.js';
import { formatMacs, formatScore } from '../space/budget.js';
import { describeSpec } from '../space/spec.js';
import { markdownTable } from '../report/markdown.js';
import { paretoFront, scatterSvg } from '../report/svg.js';
import type { SearchState } from './evolution.js';
import { bestOf } from './evolution.js';

export function writeReport(out: string, state: SearchState, window: { min: number; max: number; convention: string }, evaluator: string, reason: string): void {
  const points = state.history.map((c) => ({ x: c.macs, y: c.score, series: c.generation === 0 ? 'generation 0' : 'later generations' }));
  const best = bestOf(state.history)!;
  writeAtomic(
    join(out, 'pareto.svg'),
    scatterSvg(points, {
      title: `${state.config.strategy} search: ${evaluator} score vs MACs (${state.history.length} candidates)`,
      xLabel: `MACs (${window.convention})`,
      yLabel: `${evaluator} score`,
      vlines: [
        { x: window.min, label: `min ${formatMacs(window.min)}` },
        { x: window.max, label: `budget ${formatMacs(window.max)}` },
      ],
      front: paretoFront(points),
      best: { x: best.macs, y: best.score },
      format: (v) => formatMacs(v),
    }),
  );
  const top = [...state.history].sort((a, b) => b.score - a.score || a.macs - b.macs).slice(0, 10);
  const table = markdownTable(
    ['rank', 'score', 'MACs', 'params', 'generation', 'architecture'],
    top.map((c, i) => [i + 1, formatScore(c.score), formatMacs(c.macs), formatMacs(c.params), c.generation, describeSpec(c.spec)]),
    ['right', 'right', 'right', 'right', 'right', 'left'],
  );
  const md = [
    `# Search summary`,
    '',
    `- strategy: ${state.config.strategy}, population ${state.config.population}, ${state.generation} generations, ${state.history.length} candidates evaluated, seed ${state.config.seed}`,
    `- budget window: [${formatMacs(window.min)}, ${formatMacs(window.max)}] MACs (convention ${window.convention})`,
    `- evaluator: ${evaluator} — ${reason}`,
    `- best: score ${formatScore(best.score)} at ${formatMacs(best.macs)} MACs, ${formatMacs(best.params)} params (best-arch.json)`,
    '',
    '## Top 10',
    '',
    table,
    '',
    '![score vs MACs](pareto.svg)',
    '',
  ].join('\n');
  writeAtomic(join(out, 'summary.md'), md);
}
