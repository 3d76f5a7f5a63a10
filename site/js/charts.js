// Hand-drawn charts: SVG bars (per day, per status class) and CSS bars (per
// route). Sizes go through SVG presentation attributes or CSS custom
// properties set with CSSOM, both allowed by the CSP (no style attributes).
// Every chart has a text alternative and a data table.

import { h, s, fmtNum, fmtMs, table } from './dom.js';

// Narrow screens get a narrower drawing (so labels stay readable when scaled).
let W = 640;
const H = 200;
function pickWidth() {
  W = window.matchMedia('(max-width: 600px)').matches ? 380 : 640;
}
const PAD = { l: 40, r: 8, t: 16, b: 28 };

function niceMax(v) {
  if (v <= 5) return 5;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** The last `days` UTC dates, oldest first, as YYYY-MM-DD. */
export function lastDates(days, now = Date.now()) {
  const out = [];
  const today = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), new Date(now).getUTCDate());
  for (let i = days - 1; i >= 0; i -= 1) out.push(new Date(today - i * 86_400_000).toISOString().slice(0, 10));
  return out;
}

function yAxis(svg, max) {
  const plotH = H - PAD.t - PAD.b;
  for (const f of [0, 0.5, 1]) {
    const y = PAD.t + plotH * (1 - f);
    svg.append(s('line', { class: f === 0 ? 'axis' : 'grid-line', x1: PAD.l, x2: W - PAD.r, y1: y, y2: y }));
    svg.append(s('text', { x: PAD.l - 6, y: y + 4, 'text-anchor': 'end' }, fmtNum(Math.round(max * f))));
  }
}

function dataTable(caption, cols, rows) {
  return h('details', { class: 'small' }, h('summary', null, 'Show as a table'), table(cols, rows, { caption }));
}

/** Requests per day (errors stacked in red). byDay: [{date, count, error_count}]. */
export function dayChart(byDay, days, title = 'Requests per day') {
  pickWidth();
  const map = new Map((byDay || []).map((d) => [d.date, d]));
  const dates = lastDates(days);
  // Include any dates the server has that fall outside our computed window (clock skew).
  for (const d of byDay || []) if (!dates.includes(d.date)) dates.push(d.date);
  dates.sort();
  const rows = dates.map((date) => {
    const d = map.get(date) || {};
    return { date, count: Number(d.count) || 0, errors: Number(d.error_count) || 0, avg: d.avg_latency_ms };
  });
  const max = niceMax(Math.max(0, ...rows.map((r) => r.count)));
  const total = rows.reduce((a, r) => a + r.count, 0);
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${title}: ${fmtNum(total)} requests over ${rows.length} days` });
  yAxis(svg, max);
  const plotW = W - PAD.l - PAD.r;
  const plotH = H - PAD.t - PAD.b;
  const slot = plotW / rows.length;
  const bw = Math.max(1, Math.min(40, slot * 0.7));
  const labelEvery = Math.ceil(rows.length / (W < 500 ? 5 : 8));
  rows.forEach((r, i) => {
    const x = PAD.l + i * slot + (slot - bw) / 2;
    const okH = (plotH * (r.count - r.errors)) / max;
    const errH = (plotH * r.errors) / max;
    const g = s('g', { class: 'day' }, s('title', null, `${r.date}: ${fmtNum(r.count)} requests, ${fmtNum(r.errors)} errors`));
    if (r.count - r.errors > 0) g.append(s('rect', { class: 'bar', x, y: PAD.t + plotH - okH - errH, width: bw, height: okH }));
    if (r.errors > 0) g.append(s('rect', { class: 'bar err', x, y: PAD.t + plotH - errH, width: bw, height: errH }));
    // An invisible full-height hit area keeps the tooltip reachable for small bars.
    g.append(s('rect', { x: PAD.l + i * slot, y: PAD.t, width: slot, height: plotH, fill: 'transparent' }));
    svg.append(g);
    if (i % labelEvery === 0 || i === rows.length - 1) {
      svg.append(s('text', { x: PAD.l + i * slot + slot / 2, y: H - 8, 'text-anchor': 'middle' }, r.date.slice(5)));
    }
  });
  return h('figure', { class: 'chart-fig' },
    svg,
    h('ul', { class: 'legend' }, h('li', null, h('span', { class: 'sw' }), 'successful'), h('li', null, h('span', { class: 'sw err' }), 'errors (4xx/5xx)')),
    dataTable(title, [
      { label: 'Date', cell: (r) => r.date },
      { label: 'Requests', num: true, cell: (r) => fmtNum(r.count) },
      { label: 'Errors', num: true, cell: (r) => fmtNum(r.errors) },
      { label: 'Avg latency', num: true, cell: (r) => (r.avg === undefined ? '—' : fmtMs(r.avg)) },
    ], rows.filter((r) => r.count > 0)));
}

/** Requests per status class: {"1xx": n, "2xx": n, …}. */
export function statusChart(byClass, title = 'Requests per status class') {
  pickWidth();
  const classes = ['1xx', '2xx', '3xx', '4xx', '5xx'];
  const rows = classes.map((c) => ({ c, n: Number((byClass || {})[c]) || 0 }));
  const max = niceMax(Math.max(0, ...rows.map((r) => r.n)));
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${title}: ${rows.map((r) => `${r.c} ${r.n}`).join(', ')}` });
  yAxis(svg, max);
  const plotW = W - PAD.l - PAD.r;
  const plotH = H - PAD.t - PAD.b;
  const slot = plotW / rows.length;
  const bw = Math.min(70, slot * 0.6);
  rows.forEach((r, i) => {
    const x = PAD.l + i * slot + (slot - bw) / 2;
    const bh = (plotH * r.n) / max;
    svg.append(s('g', null,
      s('title', null, `${r.c}: ${fmtNum(r.n)}`),
      s('rect', { class: `bar s${r.c}`, x, y: PAD.t + plotH - bh, width: bw, height: Math.max(bh, r.n ? 1 : 0) }),
      s('text', { class: 'value', x: x + bw / 2, y: PAD.t + plotH - bh - 4, 'text-anchor': 'middle' }, fmtNum(r.n)),
      s('text', { x: x + bw / 2, y: H - 8, 'text-anchor': 'middle' }, r.c)));
  });
  return h('figure', { class: 'chart-fig' }, svg,
    dataTable(title, [{ label: 'Class', cell: (r) => r.c }, { label: 'Requests', num: true, cell: (r) => fmtNum(r.n) }], rows));
}

/** Requests per route as horizontal CSS bars. byRoute: [{method, route, count, error_count, avg_latency_ms}]. */
export function routeBars(byRoute, title = 'Requests per route') {
  const rows = [...(byRoute || [])].sort((a, b) => b.count - a.count).slice(0, 20);
  if (!rows.length) return h('p', { class: 'muted' }, 'No requests in this window.');
  const max = Math.max(...rows.map((r) => Number(r.count) || 0), 1);
  const list = h('ul', { class: 'hbars', 'aria-label': title });
  for (const r of rows) {
    const label = `${r.method || ''} ${r.route || r.plugin || '?'}`.trim();
    const ok = h('span', { class: 'fill' });
    const err = h('span', { class: 'fill err' });
    ok.style.setProperty('--w', `${(100 * ((Number(r.count) || 0) - (Number(r.error_count) || 0))) / max}%`);
    err.style.setProperty('--w', `${(100 * (Number(r.error_count) || 0)) / max}%`);
    list.append(h('li', { dataset: { route: r.route || '' } },
      h('span', { class: 'label', title: label }, label),
      h('span', { class: 'track', 'aria-hidden': 'true' }, ok, err),
      h('span', { class: 'n' }, `${fmtNum(r.count)}${r.error_count ? ` (${fmtNum(r.error_count)} err)` : ''}`)));
  }
  return h('figure', { class: 'chart-fig' }, list,
    dataTable(title, [
      { label: 'Route', cell: (r) => `${r.method || ''} ${r.route || ''}` },
      { label: 'Requests', num: true, cell: (r) => fmtNum(r.count) },
      { label: 'Errors', num: true, cell: (r) => fmtNum(r.error_count) },
      { label: 'Avg latency', num: true, cell: (r) => fmtMs(r.avg_latency_ms) },
    ], rows));
}

/** The headline numbers of an activity summary. */
export function statTiles(sum) {
  const lat = sum.latency_ms || {};
  const tile = (k, v) => h('div', { class: 'stat' }, h('div', { class: 'v' }, v), h('div', { class: 'k' }, k));
  return h('div', { class: 'stats' },
    tile('Requests', fmtNum(sum.total_requests || 0)),
    tile('Errors', fmtNum(sum.error_count || 0)),
    tile('Rate limited', fmtNum(sum.rate_limited || 0)),
    tile('p50 latency', fmtMs(lat.p50 ?? sum.avg_latency_ms)),
    tile('p99 latency', fmtMs(lat.p99)));
}
