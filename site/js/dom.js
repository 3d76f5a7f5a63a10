// DOM helpers. Everything is built with createElement/textContent, never
// innerHTML, so API data can't inject markup, and nothing needs inline styles
// or inline handlers (the host's CSP forbids both).

/**
 * h('button', {class: 'primary', onclick: fn, type: 'button'}, 'Save')
 * Attribute rules: `class`, `for`, `text` (textContent), `on*` (listeners),
 * booleans (true → present, false/null/undefined → absent), `dataset` object.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  applyAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element (presentation attributes only: no style attribute). */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function applyAttrs(el, attrs) {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'text') el.textContent = String(v);
    else if (k === 'class') el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value' && 'value' in el) el.value = v;
    else if (k === 'checked' || k === 'selected') el[k] = Boolean(v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

let uid = 0;
/** A unique id for label/field pairs. */
export function nextId(prefix = 'f') {
  uid += 1;
  return `${prefix}-${uid}`;
}

/**
 * A labelled form field. `input` is an element (input/select/textarea);
 * returns the wrapper. `hint` is linked through aria-describedby, and an
 * empty error slot is kept for field-level messages.
 */
export function field(labelText, input, hint) {
  const id = input.id || nextId('field');
  input.id = id;
  const err = h('p', { class: 'error-text', id: `${id}-err`, hidden: true });
  const describedBy = [];
  let hintEl = null;
  if (hint) {
    hintEl = h('p', { class: 'hint', id: `${id}-hint` }, hint);
    describedBy.push(hintEl.id);
  }
  describedBy.push(err.id);
  input.setAttribute('aria-describedby', describedBy.join(' '));
  return h('div', { class: 'field' }, h('label', { for: id }, labelText), input, hintEl, err);
}

/** Shows (or clears, with null) a field-level error. */
export function setFieldError(input, message) {
  const err = document.getElementById(`${input.id}-err`);
  if (message) {
    input.setAttribute('aria-invalid', 'true');
    if (err) { err.textContent = message; err.hidden = false; }
  } else {
    input.removeAttribute('aria-invalid');
    if (err) { err.textContent = ''; err.hidden = true; }
  }
}

/** A notice box. kind: ok | error | warn | info. */
export function notice(kind, ...content) {
  return h('div', { class: ['notice', kind], role: kind === 'error' ? 'alert' : 'status' }, ...content);
}

/** A live region under a form for its result; `show(kind, text)` fills it. */
export function statusSlot() {
  const el = h('div', { class: 'form-status', 'aria-live': 'polite' });
  el.show = (kind, ...content) => {
    clear(el);
    if (content.length) el.append(notice(kind, ...content));
  };
  el.clear = () => clear(el);
  return el;
}

/** An error from the API as readable text (with the request id for support). */
export function errorText(err) {
  if (!err) return 'Something went wrong.';
  if (err.name === 'ApiError') {
    let msg = err.message || err.code;
    if (err.status === 429 && err.retryAfter) msg += ` (try again in ${err.retryAfter} s)`;
    return err.requestId ? `${msg} (request ${err.requestId})` : msg;
  }
  return err.message || String(err);
}

/**
 * Puts field errors from a 422 `details` list ([{loc: [...], msg}]) onto the
 * matching inputs (by name); returns true if any matched.
 */
export function applyFieldErrors(form, err) {
  if (!err || !Array.isArray(err.details)) return false;
  let any = false;
  for (const d of err.details) {
    const loc = Array.isArray(d.loc) ? d.loc : [];
    const name = loc.find((p) => typeof p === 'string' && p !== 'body' && p !== 'query');
    if (!name) continue;
    const input = form.querySelector(`[name="${CSS.escape(name)}"]`);
    if (input) { setFieldError(input, d.msg || 'invalid'); any = true; }
  }
  return any;
}

export function clearFieldErrors(form) {
  for (const el of form.querySelectorAll('[aria-invalid="true"]')) setFieldError(el, null);
}

/** Runs `fn` with the form's submit button disabled; shows errors in `slot`. */
export async function busy(form, slot, fn) {
  const btns = form.querySelectorAll('button[type="submit"]');
  btns.forEach((b) => { b.disabled = true; });
  clearFieldErrors(form);
  if (slot) slot.clear();
  try {
    return await fn();
  } catch (err) {
    applyFieldErrors(form, err);
    if (slot) slot.show('error', errorText(err));
    else throw err;
    return undefined;
  } finally {
    btns.forEach((b) => { b.disabled = false; });
  }
}

// ---- formatting ---------------------------------------------------------------------

const dtf = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const nf = new Intl.NumberFormat();

export function fmtTime(ms) {
  if (ms === null || ms === undefined) return '—';
  const n = Number(ms);
  if (!Number.isFinite(n) || n <= 0) return '—';
  return dtf.format(new Date(n));
}

/** "3 min ago" style; falls back to the date for old times. */
export function fmtAgo(ms) {
  if (!ms) return 'never';
  const diff = Date.now() - Number(ms);
  if (diff < 0) return fmtTime(ms);
  const min = Math.round(diff / 60000);
  if (min < 1) return 'just now';
  if (min < 60) return `${min} min ago`;
  const hours = Math.round(min / 60);
  if (hours < 48) return `${hours} h ago`;
  return fmtTime(ms);
}

export function fmtNum(n) {
  if (n === null || n === undefined || n === '') return '—';
  const v = Number(n);
  return Number.isFinite(v) ? nf.format(v) : String(n);
}

export function fmtMs(v) {
  if (v === null || v === undefined) return '—';
  if (v === 'inf') return '∞';
  const n = Number(v);
  return Number.isFinite(n) ? `${n.toFixed(n < 10 ? 2 : 1)} ms` : String(v);
}

/** A <time> element. */
export function timeEl(ms, ago = false) {
  if (!ms) return h('span', { class: 'muted' }, ago ? 'never' : '—');
  return h('time', { datetime: new Date(Number(ms)).toISOString(), title: fmtTime(ms) }, ago ? fmtAgo(ms) : fmtTime(ms));
}

/** A table; `cols` = [{label, num?, cell(row) → node|text}]. Stacks on phones. */
export function table(cols, rows, opts = {}) {
  const thead = h('thead', null, h('tr', null, cols.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : null }, c.label))));
  const tbody = h('tbody', null, rows.map((r) => {
    const tr = h('tr', { class: opts.rowClass ? opts.rowClass(r) : null });
    for (const c of cols) {
      const v = c.cell(r);
      tr.append(h('td', { 'data-label': c.label, class: [c.num ? 'num' : '', c.actions ? 'actions-cell' : ''].filter(Boolean).join(' ') || null }, v));
    }
    return tr;
  }));
  const t = h('table', { class: 'stack' }, opts.caption ? h('caption', { class: 'visually-hidden' }, opts.caption) : null, thead, tbody);
  return h('div', { class: 'table-wrap' }, t);
}

/** Copies text; returns true on success (falls back to a selected input). */
export async function copyText(text, fallbackInput) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (fallbackInput) {
      fallbackInput.focus();
      fallbackInput.select();
    }
    return false;
  }
}
