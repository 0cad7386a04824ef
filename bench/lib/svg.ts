// Hand-written SVG charts: grouped horizontal bars (throughput) and lines (memory over time).

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const n = (x: number) => (Math.round(x * 10) / 10).toString();

export interface Bar {
  series: string;
  value: number;
  min?: number;
  max?: number;
  /** Text after the bar; the value when absent. */
  note?: string;
}

export interface BarGroup {
  label: string;
  bars: Bar[];
}

export interface BarPanel {
  title: string;
  groups: BarGroup[];
}

/** A "nice" upper bound for an axis: 1, 2 or 5 × 10^k at or above `x`. */
function niceMax(x: number): number {
  if (!(x > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= x) return m * p;
  return 10 * p;
}

function compact(x: number): string {
  if (x >= 1e6) return `${n(x / 1e6)}M`;
  if (x >= 1e3) return `${n(x / 1e3)}k`;
  return n(x);
}

/** Grouped horizontal bars, one x scale per panel, with min–max whiskers and a legend. */
export function barChart(title: string, subtitle: string, panels: BarPanel[], colors: Record<string, string>, unit: string): string {
  const width = 980;
  const left = 250;
  const right = 110;
  const barH = 11;
  const barGap = 3;
  const groupGap = 12;
  const plotW = width - left - right;
  const out: string[] = [];
  let y = 58;
  // Legend
  let lx = 10;
  for (const [series, color] of Object.entries(colors)) {
    out.push(`<rect x="${lx}" y="${y - 10}" width="12" height="12" fill="${color}"/>`);
    out.push(`<text x="${lx + 17}" y="${y}" font-size="12">${esc(series)}</text>`);
    lx += 24 + series.length * 6.6;
  }
  y += 22;
  for (const panel of panels) {
    const top = y;
    const max = niceMax(Math.max(...panel.groups.flatMap((g) => g.bars.map((b) => (Number.isFinite(b.max) ? b.max! : Number.isFinite(b.value) ? b.value : 0)))));
    const sx = (v: number) => left + (Math.max(0, v) / max) * plotW;
    out.push(`<text x="10" y="${y + 4}" font-size="14" font-weight="600">${esc(panel.title)}</text>`);
    y += 16;
    const gridTop = y;
    for (const group of panel.groups) {
      const h = group.bars.length * (barH + barGap) - barGap;
      out.push(`<text x="${left - 8}" y="${n(y + h / 2 + 4)}" font-size="12" text-anchor="end">${esc(group.label)}</text>`);
      for (const bar of group.bars) {
        const color = colors[bar.series] ?? '#888';
        if (Number.isFinite(bar.value)) {
          out.push(`<rect x="${left}" y="${y}" width="${n(sx(bar.value) - left)}" height="${barH}" fill="${color}"><title>${esc(`${bar.series}: ${Math.round(bar.value).toLocaleString('en-US')} ${unit}`)}</title></rect>`);
          if (Number.isFinite(bar.min) && Number.isFinite(bar.max)) {
            const cy = y + barH / 2;
            out.push(
              `<path d="M${n(sx(bar.min!))} ${n(cy)}H${n(sx(bar.max!))}M${n(sx(bar.min!))} ${n(cy - 3)}v6M${n(sx(bar.max!))} ${n(cy - 3)}v6" stroke="#222" stroke-width="1"/>`,
            );
          }
        }
        const label = bar.note ?? (Number.isFinite(bar.value) ? Math.round(bar.value).toLocaleString('en-US') : 'n/a');
        const tx = Number.isFinite(bar.value) ? Math.max(sx(bar.value), Number.isFinite(bar.max) ? sx(bar.max!) : 0) + 5 : left + 5;
        out.push(`<text x="${n(tx)}" y="${n(y + barH - 1.5)}" font-size="10.5" fill="#333">${esc(label)}</text>`);
        y += barH + barGap;
      }
      y += groupGap - barGap;
    }
    // Axis and grid
    for (let i = 0; i <= 5; i++) {
      const v = (max * i) / 5;
      const x = sx(v);
      out.push(`<line x1="${n(x)}" y1="${gridTop - 4}" x2="${n(x)}" y2="${y - groupGap + 6}" stroke="#ddd" stroke-width="1"/>`);
      out.push(`<text x="${n(x)}" y="${y - groupGap + 18}" font-size="10.5" text-anchor="middle" fill="#555">${compact(v)}</text>`);
    }
    out.push(`<text x="${left + plotW}" y="${y - groupGap + 32}" font-size="11" text-anchor="end" fill="#555">${esc(unit)}</text>`);
    y += 40;
    void top;
  }
  const height = y;
  // Grid lines first, then everything else on top.
  const grid = out.filter((s) => s.startsWith('<line'));
  const rest = out.filter((s) => !s.startsWith('<line'));
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT}>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="22" font-size="17" font-weight="700">${esc(title)}</text>`,
    `<text x="10" y="40" font-size="12" fill="#555">${esc(subtitle)}</text>`,
    ...grid,
    ...rest,
    '</svg>',
    '',
  ].join('\n');
}

export interface Series {
  name: string;
  color: string;
  dashed?: boolean;
  points: Array<[number, number]>;
}

export interface LinePanel {
  title: string;
  yLabel: string;
  xLabel: string;
  series: Series[];
  /** Horizontal reference lines. */
  refs?: Array<{ y: number; label: string; color: string }>;
}

/** Line charts side by side, each with its own axes. */
export function lineCharts(title: string, subtitle: string, panels: LinePanel[]): string {
  const pw = 470;
  const ph = 300;
  const ml = 62;
  const mt = 70;
  const width = panels.length * pw + 20;
  const height = mt + ph + 100;
  const out: string[] = [];
  panels.forEach((panel, k) => {
    const x0 = 10 + k * pw + ml;
    const w = pw - ml - 20;
    const y0 = mt + 20;
    const h = ph - 40;
    const xs = panel.series.flatMap((s) => s.points.map((p) => p[0]));
    const ys = [...panel.series.flatMap((s) => s.points.map((p) => p[1])), ...(panel.refs ?? []).map((r) => r.y)];
    const xMax = niceMax(Math.max(...xs, 1e-9));
    const yMax = niceMax(Math.max(...ys, 1e-9) * 1.05);
    const sx = (v: number) => x0 + (v / xMax) * w;
    const sy = (v: number) => y0 + h - (v / yMax) * h;
    out.push(`<text x="${x0}" y="${mt}" font-size="14" font-weight="600">${esc(panel.title)}</text>`);
    for (let i = 0; i <= 5; i++) {
      const yv = (yMax * i) / 5;
      out.push(`<line x1="${x0}" y1="${n(sy(yv))}" x2="${x0 + w}" y2="${n(sy(yv))}" stroke="#e3e3e3"/>`);
      out.push(`<text x="${x0 - 6}" y="${n(sy(yv) + 4)}" font-size="10.5" text-anchor="end" fill="#555">${compact(yv)}</text>`);
      const xv = (xMax * i) / 5;
      out.push(`<text x="${n(sx(xv))}" y="${y0 + h + 16}" font-size="10.5" text-anchor="middle" fill="#555">${compact(xv)}</text>`);
    }
    out.push(`<line x1="${x0}" y1="${y0 + h}" x2="${x0 + w}" y2="${y0 + h}" stroke="#888"/>`);
    out.push(`<line x1="${x0}" y1="${y0}" x2="${x0}" y2="${y0 + h}" stroke="#888"/>`);
    out.push(`<text x="${x0 + w / 2}" y="${y0 + h + 34}" font-size="11" text-anchor="middle" fill="#555">${esc(panel.xLabel)}</text>`);
    out.push(`<text transform="translate(${x0 - 46} ${y0 + h / 2}) rotate(-90)" font-size="11" text-anchor="middle" fill="#555">${esc(panel.yLabel)}</text>`);
    for (const ref of panel.refs ?? []) {
      out.push(`<line x1="${x0}" y1="${n(sy(ref.y))}" x2="${x0 + w}" y2="${n(sy(ref.y))}" stroke="${ref.color}" stroke-dasharray="2 3"/>`);
      out.push(`<text x="${x0 + w}" y="${n(sy(ref.y) - 4)}" font-size="10" text-anchor="end" fill="${ref.color}">${esc(ref.label)}</text>`);
    }
    for (const s of panel.series) {
      if (s.points.length === 0) continue;
      const d = s.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${n(sx(p[0]))} ${n(sy(p[1]))}`).join('');
      out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    }
    let ly = y0 + h + 56;
    let lx = x0;
    for (const s of panel.series) {
      out.push(`<line x1="${lx}" y1="${ly - 4}" x2="${lx + 22}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
      out.push(`<text x="${lx + 27}" y="${ly}" font-size="11">${esc(s.name)}</text>`);
      lx += 40 + s.name.length * 6;
      if (lx > x0 + w - 60) {
        lx = x0;
        ly += 16;
      }
    }
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT}>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="22" font-size="17" font-weight="700">${esc(title)}</text>`,
    `<text x="10" y="40" font-size="12" fill="#555">${esc(subtitle)}</text>`,
    ...out,
    '</svg>',
    '',
  ].join('\n');
}
