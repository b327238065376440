/** A small SVG scatter plot: score vs cost for every candidate, the Pareto front highlighted, budget lines drawn. */
export interface Point {
  x: number;
  y: number;
  /** series name for colour: the first series is drawn in grey, the next in blue */
  series?: string;
  /** a vertical error bar y ± err (e.g. one standard deviation over seeds) */
  err?: number;
  /** written beside the point */
  label?: string;
}

export interface ScatterOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** vertical lines, e.g. the budget window */
  vlines?: { x: number; label: string }[];
  /** highlighted points, joined by a line (the Pareto front) */
  front?: Point[];
  best?: Point;
  format?: (x: number) => string;
  /** join each series' points in x order (curves over epochs) */
  connect?: boolean;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const COLOURS = ['#9aa5b1', '#2b6cb0', '#dd6b20', '#38a169'];

/** Points on the front of maximal y for minimal x. */
export function paretoFront(points: Point[]): Point[] {
  const sorted = [...points].sort((a, b) => a.x - b.x || b.y - a.y);
  const front: Point[] = [];
  let bestY = -Infinity;
  for (const p of sorted) if (p.y > bestY) {
    front.push(p);
    bestY = p.y;
  }
  return front;
}

/** About n round-valued ticks (steps of 1, 2, 2.5 or 5 × 10^k) inside [lo, hi]. */
export function ticks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((st) => st >= raw)!;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) out.push(Number(t.toPrecision(12)));
  return out;
}

export function scatterSvg(points: Point[], o: ScatterOptions): string {
  const W = 720, H = 470, L = 80, R = 20, T = 56, B = 60;
  const xs = [...points.map((p) => p.x), ...(o.vlines ?? []).map((v) => v.x)];
  const ys = points.flatMap((p) => (p.err ? [p.y - p.err, p.y + p.err] : [p.y]));
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (x0 === x1) [x0, x1] = [x0 * 0.95, x1 * 1.05 + 1];
  if (y0 === y1) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const padX = (x1 - x0) * 0.04, padY = (y1 - y0) * 0.06;
  [x0, x1, y0, y1] = [x0 - padX, x1 + padX, y0 - padY, y1 + padY];
  const sx = (x: number): number => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const sy = (y: number): number => H - B - ((y - y0) / (y1 - y0)) * (H - T - B);
  const fmt = o.format ?? ((v: number) => v.toPrecision(3));
  const series = [...new Set(points.map((p) => p.series ?? ''))];
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(o.title)}</text>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/>`,
    `<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`,
  ];
  for (const t of ticks(x0 + padX, x1 - padX)) out.push(`<line x1="${sx(t)}" y1="${H - B}" x2="${sx(t)}" y2="${H - B + 5}" stroke="black"/><text x="${sx(t)}" y="${H - B + 18}" text-anchor="middle">${esc(fmt(t))}</text>`);
  for (const t of ticks(y0 + padY, y1 - padY)) out.push(`<line x1="${L - 5}" y1="${sy(t)}" x2="${L}" y2="${sy(t)}" stroke="black"/><text x="${L - 8}" y="${sy(t) + 4}" text-anchor="end">${esc(String(Number(t.toPrecision(4))))}</text>`);
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 15}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  out.push(`<text transform="translate(18 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`);
  for (const v of o.vlines ?? []) {
    // labels near the right edge go on the line's left
    const right = sx(v.x) > W * 0.8;
    out.push(`<line x1="${sx(v.x)}" y1="${T}" x2="${sx(v.x)}" y2="${H - B}" stroke="#c53030" stroke-dasharray="5 4"/><text x="${sx(v.x) + (right ? -4 : 4)}" y="${H - B - 8}" text-anchor="${right ? 'end' : 'start'}" fill="#c53030">${esc(v.label)}</text>`);
  }
  if (o.connect) {
    for (const [i, name] of series.entries()) {
      const pts = points.filter((p) => (p.series ?? '') === name).sort((a, b) => a.x - b.x);
      out.push(`<polyline fill="none" stroke="${COLOURS[i % COLOURS.length]}" stroke-width="1.5" points="${pts.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ')}"/>`);
    }
  }
  for (const p of points) {
    if (p.err) out.push(`<line x1="${sx(p.x).toFixed(1)}" y1="${sy(p.y - p.err).toFixed(1)}" x2="${sx(p.x).toFixed(1)}" y2="${sy(p.y + p.err).toFixed(1)}" stroke="#4a5568"/>`);
    if (p.label) out.push(`<text x="${(sx(p.x) + 6).toFixed(1)}" y="${(sy(p.y) - 6).toFixed(1)}" font-size="11">${esc(p.label)}</text>`);
  }
  for (const p of points) out.push(`<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="3" fill="${COLOURS[series.indexOf(p.series ?? '') % COLOURS.length]}" fill-opacity="0.55"/>`);
  if (o.front?.length) {
    out.push(`<polyline fill="none" stroke="#dd6b20" stroke-width="2" points="${o.front.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ')}"/>`);
    for (const p of o.front) out.push(`<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="4" fill="#dd6b20"/>`);
  }
  if (o.best) out.push(`<circle cx="${sx(o.best.x)}" cy="${sy(o.best.y)}" r="7" fill="none" stroke="#c53030" stroke-width="2"/>`);
  // legend: one row between the title and the plot, clear of the data
  let lx = L;
  series.forEach((s, i) => {
    if (!s) return;
    out.push(`<circle cx="${lx + 4}" cy="${T - 18}" r="4" fill="${COLOURS[i % COLOURS.length]}"/><text x="${lx + 12}" y="${T - 14}">${esc(s)}</text>`);
    lx += 24 + 7 * s.length;
  });
  if (o.front?.length) out.push(`<text x="${lx}" y="${T - 14}" fill="#dd6b20">— Pareto front</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
