/** An ablation's outputs: results.json (everything), results.csv (one row per arm), report.md and kendall.svg. */
import { join } from 'node:path';
import { writeAtomic } from '../io.js';
import { markdownTable } from '../report/markdown.js';
import { scatterSvg } from '../report/svg.js';
import { formatMacs } from '../space/budget.js';
import type { ArchSpec } from '../space/spec.js';
import { factorNames, type AblationDefinition } from './definition.js';
import type { ProxyFidelity } from './proxy-fidelity.js';
import type { TauInterval } from './kendall.js';
import type { ArmResult } from './run.js';
import type { BudgetWindow } from '../space/identity-search.js';

export interface RankingCheck {
  /** `standalone`: the mean over `bySeed` when there are several stand-alone seeds */
  subnets: { spec: ArchSpec; macs: number; params: number; standalone: number; bySeed?: number[] }[];
  /** where the stand-alone accuracies came from (trainings, over all seeds) */
  standalone: { cache: string; reused: number; trained: number; epochs: number; seeds: number };
  proxies: ProxyFidelity[];
  /** with 2 or more seeds: τ of seed 1 against seed 2, the ceiling of any ranking's τ */
  repeatability?: TauInterval;
}

const pct = (v: number | undefined): string => (v === undefined || Number.isNaN(v) ? '–' : `${(100 * v).toFixed(2)} %`);
const interval = (t: { lo: number; hi: number }): string => `[${t.lo.toFixed(3)}, ${t.hi.toFixed(3)}]`;
/** p_id to at most three decimals: searched ones step by 0.01, uniform's is 1/(head choices + 1) */
export const formatPId = (p: number): string => String(Number(p.toFixed(3)));
const signed = (v: number): string => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(3)}`;
const csvCell = (c: string): string => (c.includes(',') || c.includes('"') ? `"${c.replace(/"/g, '""')}"` : c);

export function writeReports(out: string, def: AblationDefinition, arms: ArmResult[], window: BudgetWindow, ranking?: RankingCheck): void {
  writeAtomic(join(out, 'results.json'), JSON.stringify({ name: def.name, definition: def, window, arms, ...(ranking ? { ranking } : {}) }, null, 2) + '\n');
  const names = factorNames(def);
  const rest = (a: ArmResult): string[] => [a.kendall ? String(a.kendall.inherited.length) : '–', a.search ? formatMacs(a.search.macs) : '–', pct(a.search?.inherited), pct(a.retrain?.valAccuracy), pct(a.retrain?.testAccuracy), a.seconds.toFixed(0)];
  const restHeader = ['subnets', 'searched MACs', 'inherited top-1', 'retrained val', 'retrained test', 'seconds'];
  const factors = (a: ArmResult): string[] => names.map((f) => (a.factors[f] === undefined ? '–' : String(a.factors[f])));
  // the CSV keeps τ and its interval's ends in columns of their own, for plotting
  const csvHeader = [...names, 'Kendall τ', 'τ 95 % lo', 'τ 95 % hi', ...restHeader];
  const csvRows = arms.map((a) => [...factors(a), ...(a.kendall ? [a.kendall.tau, a.kendall.lo, a.kendall.hi].map((v) => v.toFixed(4)) : ['–', '–', '–']), ...rest(a)]);
  writeAtomic(join(out, 'results.csv'), [csvHeader, ...csvRows].map((r) => r.map(csvCell).join(',')).join('\n') + '\n');

  // the paired difference to the first arm, and the p_id each supernet sampled with, where they exist
  const first = arms[0];
  const withDelta = arms.some((a) => a.kendall?.vsFirst);
  const withPId = arms.some((a) => a.pId !== undefined);
  const header = [...names, 'Kendall τ [95 %]', ...(withDelta && first ? [`Δτ vs ${first.name} [95 %, paired]`] : []), ...(withPId ? ['p_id'] : []), ...restHeader];
  const delta = (a: ArmResult): string => (a.kendall?.vsFirst ? `${signed(a.kendall.vsFirst.tau)} [${signed(a.kendall.vsFirst.lo)}, ${signed(a.kendall.vsFirst.hi)}]` : '–');
  const rows = arms.map((a) => [...factors(a), a.kendall ? `${a.kendall.tau.toFixed(3)} ${interval(a.kendall)}` : '–', ...(withDelta ? [delta(a)] : []), ...(withPId ? [a.pId === undefined ? '–' : formatPId(a.pId)] : []), ...rest(a)]);
  const parts = [`# Ablation: ${def.name}`, '', def.description ?? '', '', `Budget window [${formatMacs(window.min)}, ${formatMacs(window.max)}] MACs (${window.convention}).`, '', markdownTable(header, rows), ''];
  if (withDelta) parts.push(`Δτ: the arm's τ minus the first arm's, with a paired bootstrap interval (each resample draws the subnets once and scores both arms on that draw); an interval that excludes 0 is a difference the ${first?.kendall?.inherited.length ?? 0} subnets resolve.`, '');
  const sharing = arms.flatMap((a) => (a.supernetOf !== undefined ? [`${a.name} used the supernet of arm ${a.supernetOf} (${arms[a.supernetOf - 1]?.name ?? '?'}): with its factor applied the space and recipe are the same${a.pId !== undefined ? `, p_id ${formatPId(a.pId)} included` : ''}, so its training would repeat that one step for step`] : []));
  if (sharing.length) parts.push(`${sharing.join('; ')}.`, '');
  if (ranking) {
    const b = def.metrics.kendall?.bootstrap ?? 2000;
    const s = ranking.standalone;
    parts.push(
      `Kendall τ-b between inherited and stand-alone validation top-1 over ${ranking.subnets.length} subnets of matched cost, each trained stand-alone for ${s.epochs} epoch(s)${s.seeds > 1 ? ` with ${s.seeds} seeds (their mean)` : ''} (${s.reused} of the trainings from the stand-alone cache ${s.cache}); [95 %] is the percentile bootstrap interval over ${b} resamples of the subnets.`,
      '',
      ...(ranking.repeatability ? [`Stand-alone seed 1 against seed 2: Kendall τ ${ranking.repeatability.tau.toFixed(3)} ${interval(ranking.repeatability)} — how far any ranking can be expected to agree with one training.`, ''] : []),
    );
  }
  const repeat = arms.flatMap((a) => (a.kendall ? [`${a.name} ${a.kendall.repeatability.tau.toFixed(3)} ${interval(a.kendall.repeatability)}`] : []));
  if (repeat.length) {
    parts.push(`Inherited top-1 on the even against the odd validation images, Kendall τ per arm — how far each supernet's own ranking repeats on other images: ${repeat.join('; ')}.`, '');
  }
  if (arms.some((a) => a.kendall)) {
    const points = arms.flatMap((a) => (a.kendall ? a.kendall.inherited.map((y, i) => ({ x: a.kendall!.standalone[i]!, y, series: `${a.name} (τ ${a.kendall!.tau.toFixed(2)})` })) : []));
    writeAtomic(join(out, 'kendall.svg'), scatterSvg(points, { title: `${def.name}: inherited vs stand-alone accuracy`, xLabel: 'stand-alone validation top-1', yLabel: 'inherited (supernet) validation top-1', format: (v) => `${(100 * v).toFixed(1)}%` }));
    parts.push('![inherited vs stand-alone accuracy](kendall.svg)', '');
  }
  if (ranking?.proxies.length) {
    parts.push(
      '## Proxies',
      '',
      `Data-free proxies ranked against the same ${ranking.subnets.length} stand-alone accuracies (no supernet involved, so one row each, whatever the arm).`,
      '',
      markdownTable(['proxy', 'Kendall τ', '95 % interval', 'what it is'], ranking.proxies.map((p) => [p.name, p.tau.toFixed(3), interval(p), p.description.replace(/\|/g, '\\|')])),
      '',
    );
  }
  writeAtomic(join(out, 'report.md'), parts.join('\n'));
}
