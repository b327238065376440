/** Markdown tables: what people read in summaries, reports and the terminal. */
export type Align = 'left' | 'right';

export function markdownTable(header: string[], rows: (string | number)[][], align: Align[] = []): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, c) => Math.max(3, ...cells.map((r) => (r[c] ?? '').length)));
  const pad = (s: string, c: number): string => (align[c] === 'right' ? s.padStart(widths[c]!) : s.padEnd(widths[c]!));
  const line = (r: string[]): string => `| ${r.map((s, c) => pad(s, c)).join(' | ')} |`;
  const rule = `|${widths.map((w, c) => (align[c] === 'right' ? `${'-'.repeat(w + 1)}:` : `:${'-'.repeat(w + 1)}`)).join('|')}|`;
  return [line(header), rule, ...cells.slice(1).map(line)].join('\n');
}

/** 1253683200 → "1,253,683,200" */
export function withCommas(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}
