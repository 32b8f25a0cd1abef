import { html, type SafeHtml } from './html.js';

// Charts drawn on the server as SVG (no script, no CDN): each has a title and a description
// for assistive technology, and the numbers it shows in a table beside it.

export interface ChartPoint {
  /** The x label, e.g. `2026-09` or `2026-12-01`. */
  label: string;
  value: number;
}

interface ChartOptions {
  id: string;
  title: string;
  /** What the chart shows in words (its `<desc>`), e.g. the last value. */
  description: string;
  points: readonly ChartPoint[];
  /** How a value reads, on the axis and in the table. */
  format?: (value: number) => string;
  /** The table's header of the values. */
  valueLabel: string;
}

const WIDTH = 560;
const HEIGHT = 200;
const PAD = { top: 12, right: 12, bottom: 28, left: 56 };

/** A round top for the y axis: 1, 2 or 5 × a power of ten at or above `max`. */
function niceMax(max: number): number {
  if (max <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 5, 10]) if (step * power >= max) return step * power;
  return 10 * power;
}

function frame(options: ChartOptions, marks: SafeHtml, top: number): SafeHtml {
  const format = options.format ?? String;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const first = options.points[0];
  const last = options.points.at(-1);
  return html`<figure class="chart" id="${options.id}">
<svg viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-labelledby="${options.id}-title ${options.id}-desc">
<title id="${options.id}-title">${options.title}</title>
<desc id="${options.id}-desc">${options.description}</desc>
<line class="axis" x1="${PAD.left}" y1="${PAD.top + plotHeight}" x2="${WIDTH - PAD.right}" y2="${PAD.top + plotHeight}"/>
<line class="axis" x1="${PAD.left}" y1="${PAD.top}" x2="${PAD.left}" y2="${PAD.top + plotHeight}"/>
<text class="tick" x="${PAD.left - 6}" y="${PAD.top + 4}" text-anchor="end">${format(top)}</text>
<text class="tick" x="${PAD.left - 6}" y="${PAD.top + plotHeight}" text-anchor="end">${format(0)}</text>
${first ? html`<text class="tick" x="${PAD.left}" y="${HEIGHT - 8}">${first.label}</text>` : ''}
${last && last !== first ? html`<text class="tick" x="${WIDTH - PAD.right}" y="${HEIGHT - 8}" text-anchor="end">${last.label}</text>` : ''}
${marks}
</svg>
<figcaption>${options.title}</figcaption>
<details><summary>The numbers</summary>
<table><thead><tr><th scope="col">When</th><th scope="col">${options.valueLabel}</th></tr></thead>
<tbody>${options.points.map((p) => html`<tr><th scope="row">${p.label}</th><td>${format(p.value)}</td></tr>`)}</tbody></table>
</details>
</figure>`;
}

/** A line over time (e.g. active add-ons per day). */
export function lineChart(options: ChartOptions): SafeHtml {
  const top = niceMax(Math.max(0, ...options.points.map((p) => p.value)));
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const n = options.points.length;
  const x = (i: number) => PAD.left + (n <= 1 ? plotWidth / 2 : (i * plotWidth) / (n - 1));
  const y = (v: number) => PAD.top + plotHeight - (v / top) * plotHeight;
  const path = options.points
    .map((p, i) => `${i === 0 ? 'M' : 'L'}${x(i).toFixed(1)},${y(p.value).toFixed(1)}`)
    .join(' ');
  return frame(
    options,
    html`<path class="line" d="${path}"/>${options.points.map(
      (p, i) =>
        html`<circle class="dot" cx="${x(i).toFixed(1)}" cy="${y(p.value).toFixed(1)}" r="2.5"><title>${p.label}: ${(options.format ?? String)(p.value)}</title></circle>`,
    )}`,
    top,
  );
}

/** Bars per period (e.g. revenue per month). */
export function barChart(options: ChartOptions): SafeHtml {
  const top = niceMax(Math.max(0, ...options.points.map((p) => p.value)));
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotWidth / Math.max(1, options.points.length);
  const width = Math.max(2, slot * 0.7);
  return frame(
    options,
    html`${options.points.map((p, i) => {
      const h = (p.value / top) * plotHeight;
      return html`<rect class="bar" x="${(PAD.left + i * slot + (slot - width) / 2).toFixed(1)}" y="${(PAD.top + plotHeight - h).toFixed(1)}" width="${width.toFixed(1)}" height="${h.toFixed(1)}"><title>${p.label}: ${(options.format ?? String)(p.value)}</title></rect>`;
    })}`,
    top,
  );
}
