// The floxide ui page: plain browser JavaScript, shipped as is (no build step, no CDN). Every value from the store
// reaches the page through textContent or an attribute set by setAttribute (never innerHTML), with its control and
// bidirectional formatting characters written as escapes (visible()), and the workflow's SVG graph is parsed as XML
// and stripped of scripts, event handlers and links before it is shown.

const main = document.getElementById('main');
const conn = document.getElementById('conn');
const STATUSES = ['running', 'paused', 'completed', 'failed', 'cancelled'];
const STATES = ['queued', 'running', 'done', 'failed', 'dropped'];
let teardown = () => {};

/**
 * Control characters but tab and newline (what the CLI escapes: `printable` in cli/commands/runs.ts) and the
 * bidirectional formatting characters (Unicode's Bidi_Control: U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069),
 * which shown raw would reorder the text around them: an error message or a payload could make the page read otherwise
 * than the data.
 */
const INVISIBLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** `text` with {@link INVISIBLE} characters written as escapes, as the CLI writes them (`\u202e`). */
function visible(text) {
  return String(text).replace(INVISIBLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * The most characters of one value the page shows (an input, an error message, a context): values are user data, as
 * long as the code that made them, and megabytes of text take a browser seconds to lay out, again on every update.
 * The API (`/api/runs/<id>`) has the whole value.
 */
const MAX_SHOWN = 10_000;

/** `text` cut to `max` characters (never half of a surrogate pair), saying how many more there are. */
function clipped(text, max = MAX_SHOWN) {
  const s = String(text);
  if (s.length <= max) return s;
  const end = /[\ud800-\udbff]/.test(s[max - 1]) ? max - 1 : max;
  return `${s.slice(0, end)}… (${s.length - end} more characters: the API has the whole value)`;
}

/**
 * Creates an element: h('td', { class: 'mono' }, 'text', child...). Strings become text nodes and a title is shown as
 * a tooltip: both through {@link visible}, and {@link clipped}.
 */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : k === 'title' ? visible(clipped(v)) : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null) el.append(c instanceof Node ? c : visible(clipped(c)));
  return el;
}

/**
 * Whether `ms` is an epoch-millisecond time a Date can hold (what isEpochMs in runtime/core/time.ts says): a corrupt
 * record's time may be no number, or beyond +-8.64e15, which `new Date(ms).toISOString()` throws on.
 */
function readable(ms) {
  return typeof ms === 'number' && Math.abs(ms) <= 8.64e15;
}

/** How long ago `ms` was; `?` for a time that cannot be read (none, or not {@link readable}). */
function age(ms) {
  if (!readable(ms)) return '?';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** An epoch ms as UTC text, as the CLI writes it (`time` in cli/commands/runs.ts): `-` for none, `?` for one that cannot be read. */
function time(ms) {
  return ms === undefined || ms === null ? '-' : !readable(ms) ? '?' : new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** How long a step took, from its lease to its commit; `?` when either stored time cannot be read. */
function took(s) {
  return readable(s.startedAt) && readable(s.finishedAt) ? `${s.finishedAt - s.startedAt} ms` : '?';
}

/** The first `n` characters of a text field; '' for one the record does not hold (null: unreadable). */
function short(text, n) {
  return typeof text === 'string' ? text.slice(0, n) : '';
}

function json(v, space = 2) {
  return v === undefined ? '-' : JSON.stringify(v, null, space);
}

function badge(status) {
  return h('span', { class: `badge ${STATUSES.includes(status) ? status : ''}`, 'data-status': status }, status);
}

async function api(path, init) {
  const res = await fetch(path, { credentials: 'same-origin', ...init });
  const body = await res.json().catch(() => ({ error: `${res.status} ${res.statusText}` }));
  if (!res.ok) throw new Error(body.error ?? `${res.status} ${res.statusText}`);
  return body;
}

/** The longest wait before a refused or lost live stream is asked for again (ms), when the server names none. */
const MAX_RETRY_MS = 30_000;

/**
 * Follows the live stream at `path`, calling `events[name](event)` for each event. A stream lost while the browser
 * reconnects it by itself (the server restarting: its `retry` period) says `reconnecting...` when `say` is set. A
 * stream the browser gave up on (the server answered no stream, which an EventSource never retries) is asked for again
 * here, once at a time: its answer says why (the server's `error`); a 503 or another failure of the server is retried
 * after its `Retry-After`, or a backoff doubling from 1 s to 30 s, saying so in the header (`Retrying in 10 s...`); a
 * refusal that asking again cannot change (a 401 once floxide ui restarted with another token, its default beyond
 * loopback) says `Reload the page to try again.` and stops. `down` is called when the header says so, `reopened` when
 * a stream opens after one was lost. Returns what closes the stream (and says nothing more).
 */
function follow(path, events, { say, down = () => {}, reopened = () => {} }) {
  let stopped = false;
  let source = null;
  let timer;
  let failures = 0;
  let lost = false;
  const probe = new AbortController();

  function open() {
    source = new EventSource(path);
    for (const [name, on] of Object.entries(events)) source.addEventListener(name, on);
    source.addEventListener('open', () => {
      failures = 0;
      if (lost) reopened();
      lost = false;
    });
    source.addEventListener('error', () => {
      lost = true;
      if (source.readyState !== EventSource.CLOSED) {
        if (say) conn.textContent = 'reconnecting...';
        return;
      }
      void refused();
    });
  }

  // Asks the stream's address once more for the answer the browser got and does not show (status, Retry-After, error).
  async function refused() {
    let status = 0;
    let after = null;
    let why = 'the server answered no live updates';
    try {
      const res = await fetch(path, { credentials: 'same-origin', signal: probe.signal });
      status = res.status;
      after = res.headers.get('retry-after');
      if (!res.ok) why = (await res.json().catch(() => ({}))).error ?? `${res.status} ${res.statusText}`;
      else void res.body?.cancel().catch(() => {});
    } catch (err) {
      if (stopped) return;
      why = err.message;
    }
    if (stopped) return;
    down();
    if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
      conn.textContent = visible(`disconnected: ${why}. Reload the page to try again.`);
      return;
    }
    const named = Number(after);
    const ms = after !== null && Number.isFinite(named) && named >= 0 ? named * 1000 : Math.min(1000 * 2 ** failures, MAX_RETRY_MS);
    failures += 1;
    conn.textContent = visible(`disconnected: ${why}. Retrying in ${Math.round(ms / 1000)} s...`);
    timer = setTimeout(open, ms);
  }

  open();
  return () => {
    stopped = true;
    clearTimeout(timer);
    probe.abort();
    source.close();
  };
}

function navigate(path) {
  history.pushState(null, '', path);
  route();
}

function link(path, ...children) {
  return h('a', { href: path, onclick: (e) => { if (e.button === 0 && !e.metaKey && !e.ctrlKey) { e.preventDefault(); navigate(path); } } }, ...children);
}

// ------------------------------------------------------------------------------------------------- runs list
/** The cells of a run's row in the list: its link, then what the run is now. */
function rowOf(r) {
  return {
    runId: r.runId,
    cells: [
      h('td', {}, r.workflow),
      h('td', { class: 'mono', title: r.fingerprint }, short(r.fingerprint, 12)),
      // a checkpoint file's running run that no live process holds: marked, with why in its title
      h('td', {}, badge(r.status), r.orphaned ? h('span', { class: 'orphaned', 'data-orphaned': '', title: r.orphan }, ' orphaned') : null),
      h('td', { title: time(r.createdAt) }, age(r.createdAt)),
      h('td', {}, r.finishedAt ? age(r.finishedAt) : ''),
      h('td', { class: 'wrap' }, r.corrupt ? h('span', { class: 'corrupt', title: r.corrupt }, `unreadable: ${r.corrupt}`) : r.error ?? ''),
    ],
  };
}

/**
 * Shows `rows` in `body`, keeping the row (and its link) of a run already shown and replacing only the cells that
 * changed ({@link patch}), moving no row that stays in place: the list reloads up to every 150 ms on a busy store,
 * and a row replaced between the press and the release of a click loses the click.
 */
function showRows(body, rows) {
  const shown = new Map([...body.children].filter((tr) => tr.dataset.run !== undefined).map((tr) => [tr.dataset.run, tr]));
  rows.forEach(({ runId, cells }, i) => {
    let tr = shown.get(runId);
    if (tr === undefined) {
      tr = h('tr', { 'data-run': runId }, h('td', { class: 'mono' }, link(`/runs/${encodeURIComponent(runId)}`, runId)), cells);
    } else {
      shown.delete(runId);
      patch(tr, tr.firstElementChild, cells);
    }
    if (body.children[i] !== tr) body.insertBefore(tr, body.children[i] ?? null);
  });
  while (body.children.length > rows.length) body.lastElementChild.remove();
}

function listPage() {
  const params = new URLSearchParams(location.search);
  const status = h('select', { 'aria-label': 'status', name: 'status' }, h('option', { value: '' }, 'any status'), STATUSES.map((s) => h('option', { value: s, selected: params.get('status') === s }, s)));
  const workflow = h('input', { 'aria-label': 'workflow', name: 'workflow', placeholder: 'workflow', value: params.get('workflow') ?? '' });
  const body = h('tbody');
  const info = h('span', { class: 'muted' });
  const newer = h('button', { type: 'button', disabled: !params.get('after') }, 'Newest');
  const older = h('button', { type: 'button', disabled: true }, 'Older');
  let next = null;
  // Goes to the first page of `filters`, or with `after` to the page after that cursor. The page size (`?limit=`)
  // stays whatever the address asked for.
  const show = (filters, after) => {
    const q = new URLSearchParams();
    for (const k of ['status', 'workflow']) if (filters[k]) q.set(k, filters[k]);
    if (params.get('limit')) q.set('limit', params.get('limit'));
    if (after) q.set('after', after);
    navigate(`/${q.size ? `?${q}` : ''}`);
  };
  // The filters in the form (a new query), and those of the page shown (paging keeps them, whatever was typed since).
  const typed = () => ({ status: status.value, workflow: workflow.value.trim() });
  const shown = { status: params.get('status') ?? '', workflow: params.get('workflow') ?? '' };
  status.addEventListener('change', () => show(typed()));
  workflow.addEventListener('keydown', (e) => { if (e.key === 'Enter') show(typed()); });
  newer.addEventListener('click', () => show(shown));
  older.addEventListener('click', () => next && show(shown, next));

  main.replaceChildren(
    h('h1', {}, 'Runs'),
    h('div', { class: 'filters' }, status, workflow, h('button', { type: 'button', onclick: () => show(typed()) }, 'Filter'), info),
    h('table', { id: 'runs' }, h('thead', {}, h('tr', {}, ['Run', 'Workflow', 'Version', 'Status', 'Age', 'Finished', 'Error'].map((t) => h('th', {}, t)))), body),
    h('div', { class: 'pager' }, newer, older),
  );

  let stopped = false;
  let reloading = false;
  let pending = false;
  let down = false;
  async function load() {
    const q = new URLSearchParams();
    for (const k of ['status', 'workflow', 'after', 'limit']) if (params.get(k)) q.set(k, params.get(k));
    try {
      const page = await api(`/api/runs?${q}`);
      if (stopped) return;
      next = page.next;
      older.disabled = !next;
      if (page.runs.length === 0) body.replaceChildren(h('tr', {}, h('td', { colspan: 7, class: 'empty' }, 'No runs.')));
      else showRows(body, page.runs.map(rowOf));
      info.textContent = `${page.runs.length} run(s)${next ? ', more below' : ''}`;
      // (not over the header's word that the live stream is down: the list does not follow the runs meanwhile)
      if (!down) conn.textContent = `updated ${new Date().toLocaleTimeString()}`;
    } catch (err) {
      info.textContent = visible(err.message);
    }
  }
  // The newest page follows runs as they are created or change status (the server's `runs` events), without
  // reloading the page; older pages hold still. Reloads are coalesced: one at a time, one more if asked meanwhile.
  async function reload() {
    if (reloading) return void (pending = true);
    reloading = true;
    await load();
    reloading = false;
    if (pending && !stopped) {
      pending = false;
      void reload();
    }
  }
  reload();
  // A stream the server closed (this page read too slowly) or lost reconnects: reload what was missed meanwhile.
  const reopened = () => {
    down = false;
    void reload();
  };
  const close = params.get('after') ? () => {} : follow('/api/runs/live', { runs: () => void reload() }, { say: false, down: () => (down = true), reopened });
  return () => {
    stopped = true;
    close();
  };
}

// -------------------------------------------------------------------------------------------------- run page
/**
 * Sets `parent`'s children to `children` (as {@link h} takes them), keeping in place each child equal to its new one:
 * a run page redraws on every update of a busy run, and a redrawn node loses the text selected in it (an error message
 * being copied) and the tooltip shown over it.
 */
function patch(parent, ...children) {
  const next = children.flat().filter((c) => c !== undefined && c !== null).map((c) => (c instanceof Node ? c : document.createTextNode(visible(clipped(c)))));
  next.forEach((node, i) => {
    const old = parent.childNodes[i];
    if (old === undefined) parent.append(node);
    else if (!old.isEqualNode(node)) old.replaceWith(node);
  });
  while (parent.childNodes.length > next.length) parent.lastChild.remove();
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Parses the workflow's SVG and keeps only drawing: no scripts, foreign content, event handlers or links. */
function safeSvg(text) {
  const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
  const svg = doc.documentElement;
  if (svg.namespaceURI !== SVG_NS || svg.localName !== 'svg') return null;
  for (const el of [...svg.querySelectorAll('script, foreignObject, iframe, a, use, image, style, animate, set')]) el.replaceWith(...el.childNodes);
  for (const el of [svg, ...svg.querySelectorAll('*')]) {
    for (const attr of [...el.attributes]) {
      if (/^on/i.test(attr.name) || /href$/i.test(attr.name) || attr.name === 'style') el.removeAttribute(attr.name);
    }
  }
  // Room under the lowest nodes for their counts (written under each node by paintGraph).
  const box = (svg.getAttribute('viewBox') ?? '').split(/[\s,]+/).map(Number);
  if (box.length === 4 && box.every(Number.isFinite)) {
    svg.setAttribute('viewBox', `${box[0] - 12} ${box[1]} ${box[2] + 24} ${box[3] + 16}`);
    for (const [attr, extra] of [['width', 24], ['height', 16]]) {
      const size = /^([\d.]+)(pt|px)?$/.exec(svg.getAttribute(attr) ?? '');
      if (size) svg.setAttribute(attr, `${Number(size[1]) + extra}${size[2] ?? ''}`);
    }
  }
  return document.importNode(svg, true);
}

function nodeState(c) {
  if (!c) return 'idle';
  if (c.running) return 'running';
  if (c.failed) return 'failed';
  if (c.queued) return 'queued';
  if (c.done) return 'done';
  if (c.dropped) return 'dropped';
  return 'idle';
}

function countsText(c) {
  return c ? `q${c.queued} r${c.running} d${c.done} f${c.failed}` : '';
}

function paintGraph(svg, nodes) {
  for (const g of svg.querySelectorAll('g.node')) {
    const name = g.querySelector('title')?.textContent ?? '';
    const c = nodes[name];
    const state = nodeState(c);
    for (const s of ['idle', ...STATES]) g.classList.toggle(`st-${s}`, s === state);
    g.setAttribute('data-node', name);
    g.setAttribute('data-state', state);
    g.setAttribute('data-counts', c ? STATES.map((s) => `${s}=${c[s]}`).join(' ') : '');
    let label = g.querySelector('text.counts');
    if (!label) {
      const box = g.getBBox();
      label = document.createElementNS(SVG_NS, 'text');
      label.setAttribute('class', 'counts');
      label.setAttribute('text-anchor', 'middle');
      label.setAttribute('x', String(box.x + box.width / 2));
      label.setAttribute('y', String(box.y + box.height + 11));
      g.append(label);
    }
    label.textContent = countsText(c);
  }
}

const OUTCOME_CLASS = { continue: 'done', terminal: 'done', retry: 'queued', failed: 'failed' };

/** The step history as a timeline: one row per node, one bar per attempt (from its lease to its commit). */
function timeline(run, steps) {
  if (steps.length === 0) return h('p', { class: 'empty' }, 'No steps yet.');
  // a step whose stored times cannot be read (a corrupt record) has no place on the time axis: the table lists it
  const history = steps.filter((s) => readable(s.startedAt) && readable(s.finishedAt));
  if (history.length === 0) return h('p', { class: 'empty' }, 'No step times can be read.');
  const nodes = [...new Set(history.map((s) => s.node))];
  // Attempts of one node that overlap in time (a fan-out, several workers) go to separate lanes of its row.
  const lanes = new Map(nodes.map((n) => [n, []]));
  const laneOf = new Map();
  for (const s of [...history].sort((a, b) => a.startedAt - b.startedAt)) {
    const ends = lanes.get(s.node);
    let lane = ends.findIndex((end) => end <= s.startedAt);
    if (lane < 0) lane = ends.push(0) - 1;
    ends[lane] = s.finishedAt;
    laneOf.set(s, lane);
  }
  const LANE = 10;
  const rowTop = new Map();
  let top = 0;
  for (const n of nodes) {
    rowTop.set(n, top);
    top += Math.max(22, lanes.get(n).length * LANE + 8);
  }
  // a creation or finish time that cannot be read (a corrupt stored record) leaves the history to set the scale
  const t0 = Math.min(...(readable(run.createdAt) ? [run.createdAt] : []), ...history.map((s) => s.startedAt));
  const t1 = Math.max(t0 + 1, readable(run.finishedAt) ? run.finishedAt : 0, ...history.map((s) => s.finishedAt));
  const W = 1000, LABEL = 120;
  const x = (t) => LABEL + ((t - t0) / (t1 - t0)) * (W - LABEL - 10);
  const svg = document.createElementNS(SVG_NS, 'svg');
  const height = top + 24;
  svg.setAttribute('viewBox', `0 0 ${W} ${height}`);
  svg.setAttribute('class', 'timeline');
  svg.setAttribute('role', 'img');
  const el = (tag, attrs, text) => {
    const e = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = visible(clipped(text));
    return e;
  };
  for (const n of nodes) {
    const y = rowTop.get(n);
    const h2 = Math.max(22, lanes.get(n).length * LANE + 8);
    svg.append(el('text', { x: LABEL - 8, y: y + h2 / 2 + 4, 'text-anchor': 'end', class: 'tl-label' }, n));
    svg.append(el('line', { x1: LABEL, x2: W - 10, y1: y + h2 - 1, y2: y + h2 - 1, class: 'tl-grid' }));
  }
  for (const s of history) {
    const single = lanes.get(s.node).length === 1;
    const y = rowTop.get(s.node) + (single ? 4 : 4 + laneOf.get(s) * LANE);
    const bar = el('rect', { x: x(s.startedAt), y, width: Math.max(3, x(s.finishedAt) - x(s.startedAt)), height: single ? 14 : LANE - 2, rx: 2, class: `tl-bar tl-${OUTCOME_CLASS[s.outcome] ?? 'dropped'}`, 'data-item': s.itemId, 'data-outcome': s.outcome });
    bar.append(el('title', {}, `${s.node} #${s.itemId} attempt ${s.attempt}: ${s.label}, ${took(s)}${s.workerId ? ` on ${s.workerId}` : ''}${s.error ? ` (${s.error.name}: ${s.error.message})` : ''}`));
    svg.append(bar);
  }
  const axisY = top + 16;
  svg.append(el('text', { x: LABEL, y: axisY, class: 'tl-axis' }, time(t0)));
  svg.append(el('text', { x: W - 10, y: axisY, 'text-anchor': 'end', class: 'tl-axis' }, `+${((t1 - t0) / 1000).toFixed(2)} s`));
  return h('div', { class: 'card' }, svg);
}

function table(headers, rows, empty) {
  if (rows.length === 0) return h('p', { class: 'empty' }, empty);
  return h('table', {}, h('thead', {}, h('tr', {}, headers.map((t) => h('th', {}, t)))), h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => (c instanceof Node ? h('td', {}, c) : h('td', { class: 'wrap' }, c)))))));
}

function isFinal(status) {
  return status === 'completed' || status === 'failed' || status === 'cancelled';
}

/** An error as one line: name and message, then an aggregate's errors and the cause, each the same way. */
function errText(e) {
  const errors = Array.isArray(e.errors) && e.errors.length > 0 ? ` [${e.errors.map(errText).join('; ')}]` : '';
  return `${e.name}: ${e.message}${errors}${e.cause ? `, caused by ${errText(e.cause)}` : ''}`;
}

function runPage(runId) {
  const title = h('h1', {}, runId);
  const facts = h('dl', { class: 'facts' });
  const message = h('div', { class: 'message', role: 'status' });
  const buttons = {
    pause: h('button', { type: 'button', 'data-action': 'pause', disabled: true }, 'Pause'),
    resume: h('button', { type: 'button', 'data-action': 'resume', disabled: true }, 'Resume'),
    cancel: h('button', { type: 'button', class: 'danger', 'data-action': 'cancel', disabled: true }, 'Cancel'),
  };
  // The signal action: a name (the run's waiting signals offered) and a JSON payload, sent as `floxide runs signal` does.
  const signalNames = h('datalist', { id: 'signal-names' });
  const signalForm = h('form', { class: 'signal', 'data-signal-form': '' },
    h('input', { name: 'name', list: 'signal-names', placeholder: 'signal name', 'aria-label': 'signal name', required: true, autocomplete: 'off' }),
    h('textarea', { name: 'payload', rows: 1, placeholder: 'payload (JSON)', 'aria-label': 'signal payload (JSON)' }),
    h('input', { name: 'key', placeholder: 'key (optional)', 'aria-label': 'idempotency key', autocomplete: 'off' }),
    h('button', { type: 'submit', disabled: true }, 'Send signal'),
    signalNames,
  );
  const graph = h('div', { class: 'graph card', id: 'graph' }, h('p', { class: 'muted' }, 'Loading the graph...'));
  const legend = h('div', { class: 'legend' }, STATES.map((s) => h('span', { class: s }, s)));
  const metrics = h('div', { class: 'metrics', id: 'metrics' });
  const details = h('div', { id: 'details' });
  let svg = null;
  let last = null;

  for (const [action, button] of Object.entries(buttons)) {
    button.addEventListener('click', async () => {
      if (action === 'cancel' && !confirm(`Cancel run ${runId}? Its queued work is dropped.`)) return;
      button.disabled = true;
      try {
        const t = await api(`/api/runs/${encodeURIComponent(runId)}/${action}`, { method: 'POST', headers: { 'X-Floxide-Action': '1' } });
        message.textContent = visible(t.applied ? `${action}: the run is now ${t.status}` : `nothing changed: the run is already ${t.status}`);
      } catch (err) {
        message.textContent = visible(`${action} failed: ${err.message}`);
      }
    });
  }

  signalForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = signalForm.elements.name.value.trim();
    const text = signalForm.elements.payload.value.trim();
    const key = signalForm.elements.key.value.trim();
    // no payload is not a null one: the wait's check may refuse null (the wait then waits on); null is written out
    if (text === '') {
      message.textContent = 'signal not sent: write its payload as JSON (null for a signal that carries nothing)';
      return;
    }
    let payload;
    try {
      payload = JSON.parse(text);
    } catch (err) {
      message.textContent = visible(`signal not sent: the payload is not JSON (${err.message})`);
      return;
    }
    const send = signalForm.querySelector('button');
    send.disabled = true;
    try {
      const r = await api(`/api/runs/${encodeURIComponent(runId)}/signal`, {
        method: 'POST',
        headers: { 'X-Floxide-Action': '1', 'content-type': 'application/json' },
        body: JSON.stringify(key === '' ? { name, payload } : { name, payload, key }),
      });
      message.textContent = visible(
        r.delivery !== 'delivered'
          ? `signal ${name} with key ${key} was already delivered: nothing changed`
          : r.kept
            ? `signal ${name} kept in the run's mailbox: no wait for it now (the next wait on ${name} takes it)`
            : `signal ${name} delivered`,
      );
    } catch (err) {
      message.textContent = visible(`signal failed: ${err.message}`);
    } finally {
      send.disabled = last !== null && isFinal(last.run.status);
    }
  });

  main.replaceChildren(
    h('p', {}, link('/', '← all runs')),
    h('div', { class: 'runhead' }, h('div', {}, title, facts), h('div', {}, h('div', { class: 'actions' }, buttons.pause, buttons.resume, buttons.cancel), signalForm, message)),
    h('h2', {}, 'Graph'),
    graph,
    legend,
    h('h2', {}, 'Metrics'),
    metrics,
    details,
  );

  fetch(`/api/runs/${encodeURIComponent(runId)}/graph`, { credentials: 'same-origin' }).then(async (res) => {
    if (!res.ok) {
      const body = await res.json().catch(() => ({}));
      graph.replaceChildren(h('p', { class: 'muted' }, body.error ?? 'No graph for this workflow.'));
      return;
    }
    // drawn from a versions file (a run of another version than the build's SVG): the server says so
    const note = res.headers.get('x-floxide-graph-note');
    svg = safeSvg(await res.text());
    graph.replaceChildren(
      ...(note ? [h('p', { class: 'muted', 'data-graph-note': '' }, decodeURIComponent(note))] : []),
      svg ?? h('p', { class: 'muted' }, 'The graph file is not an SVG.'),
    );
    if (svg && last) paintGraph(svg, last.nodes);
  });

  function render(v) {
    last = v;
    const r = v.run;
    patch(facts,
      ...[
        ['status', v.orphan ? h('span', {}, badge(r.status), h('span', { class: 'orphaned', 'data-orphaned': '' }, ` ${v.orphan}`)) : badge(r.status)],
        ...(v.owner ? [['owner', v.owner]] : []),
        ['workflow', r.workflow],
        ['version', h('span', { class: 'mono', title: r.fingerprint }, short(r.fingerprint, 16))],
        // a run moved between graph versions (floxide runs migrate, a worker that took it over): from where, and when
        ...(r.migratedAt ? [['migrated', h('span', {}, r.startedOn ? ['started on version ', h('span', { class: 'mono', title: r.startedOn }, short(r.startedOn, 16)), ', '] : [], `moved to this version at ${time(r.migratedAt)}`)]] : []),
        // null: a creation time the store holds but cannot be read (the unreadable fact names it)
        ['created', readable(r.createdAt) ? `${time(r.createdAt)} (${age(r.createdAt)})` : '?'],
        ['finished', r.finishedAt ? `${time(r.finishedAt)} (${age(r.finishedAt)})` : '-'],
        ...(r.deadline ? [['deadline', time(r.deadline)]] : []),
        ['input', h('span', { class: 'mono' }, json(r.input, 0))],
        ...(r.status === 'completed' ? [['output', h('span', { class: 'mono' }, json(r.output, 0))]] : []),
        ...(r.error ? [['error', errText(r.error)]] : []),
        ...(r.corrupt ? [['unreadable', h('span', { class: 'corrupt' }, errText(r.corrupt))]] : []),
      ].flatMap(([k, val]) => [h('dt', {}, k), h('dd', { 'data-fact': k }, val)]),
    );
    const final = isFinal(r.status);
    // A checkpoint file's (local) runs are paused by stopping their process: no pause or resume here. What is enabled
    // is what the store applies to the run now (the server's `actions`: on a file, a failed run can be cancelled).
    buttons.pause.hidden = buttons.resume.hidden = !v.pausable;
    for (const [action, button] of Object.entries(buttons)) button.disabled = !v.actions[action];
    signalForm.querySelector('button').disabled = final;
    const waiting = [...new Set(v.waits.filter((w) => w.kind === 'signal').map((w) => w.signal))];
    signalNames.replaceChildren(...waiting.map((n) => h('option', { value: n })));
    if (signalForm.elements.name.value === '' && waiting.length > 0) signalForm.elements.name.value = waiting[0];
    const m = v.metrics;
    patch(metrics,
      ...[['enqueued', m.enqueued], ['completed', m.completed], ['retries', m.retries], ['failed', m.failed], ['dead-lettered', m.deadLettered], ['dropped', m.dropped], ['redeliveries', m.redeliveries], ...Object.entries(m.counters)].map(([k, n]) =>
        h('div', { class: 'metric', 'data-metric': k }, h('b', {}, String(n)), h('span', {}, k)),
      ),
    );
    if (svg) paintGraph(svg, v.nodes);
    const history = v.history ?? [];
    patch(details,
      ...(v.history === undefined
        ? []
        : [
            h('h2', {}, `Step history (${history.length})`),
            timeline(r, history),
            ...(history.length === 0 ? [] : [table(['Finished', 'Node', 'Item', 'Attempt', 'Worker', 'Took', 'Outcome', 'Error'], history.slice(-50).reverse().map((s) => [time(s.finishedAt), s.node, h('span', { class: 'mono' }, s.itemId), String(s.attempt), s.workerId ?? '-', took(s), s.label, s.error ? errText(s.error) : '']), 'No steps yet.')]),
          ]),
      h('h2', {}, `Waiting (${v.waits.length})`),
      table(['Item', 'Node', 'Waiting'], v.waits.map((w) => [h('span', { class: 'mono' }, w.itemId), w.node, h('span', { 'data-wait': w.kind === 'signal' ? w.signal : 'sleep' }, w.text)]), 'Not waiting for a signal or a timer.'),
      h('h2', {}, `Outstanding items (${v.outstanding.length})`),
      table(['Item', 'Node', 'Status', 'Attempt', 'Worker', 'Due'], v.outstanding.map((o) => [h('span', { class: 'mono' }, o.itemId), o.node, o.corrupt ? h('span', { class: 'corrupt', title: o.corrupt }, `${o.status} (corrupt)`) : o.status, String(o.attempt), o.workerId ?? '-', time(o.due)]), 'Nothing outstanding.'),
      ...(v.outstanding.some((o) => o.corrupt) ? [h('p', { class: 'corrupt' }, 'Corrupt items: their stored JSON cannot be read; the worker that claims one fails it (a dead letter) and the run. ', v.outstanding.filter((o) => o.corrupt).map((o) => `${o.itemId}: ${o.corrupt}`).join('; '))] : []),
      // errors, dead letters or a step history whose stored records cannot be read: shown empty, with why
      ...v.unreadable.map((u) => h('p', { class: 'corrupt', 'data-unreadable': u.slice(0, u.indexOf(':')) }, `Unreadable ${u}`)),
      h('h2', {}, `Errors (${v.errors.length})`),
      table(['At', 'Item', 'Node', 'Attempt', 'Kind', 'Error'], v.errors.map((e) => [time(e.at), h('span', { class: 'mono' }, e.itemId), e.node, String(e.attempt), e.kind, errText(e.error)]), 'No errors.'),
      h('h2', {}, `Dead letters (${v.deadLetters.length})`),
      table(['At', 'Item', 'Node', 'Attempts', 'Error', 'Input'], v.deadLetters.map((d) => [time(d.at), h('span', { class: 'mono' }, d.item.id), d.item.node, String(d.attempts), errText(d.error), h('pre', {}, json(d.item.input, 0))]), 'No dead letters.'),
      h('h2', {}, 'Workers holding its items'),
      table(['Worker', 'Liveness', 'Last seen', 'Items'], v.workers.map((w) => [w.workerId, w.liveness, age(w.lastSeen), w.items.join(', ')]), 'None.'),
      ...(v.context ? [] : [h('h2', {}, 'Context (unreadable)'), h('p', { class: 'corrupt', id: 'context-error' }, v.contextError)]),
      ...(v.context ? [h('h2', {}, `Context (version ${v.context.version})`)] : []),
      !v.context ? null : h('div', { class: 'cols' },
        h('div', { class: 'card' }, h('div', { class: 'muted' }, 'initial'), h('pre', { id: 'context-initial' }, json(v.context.initial))),
        h('div', { class: 'card' }, h('div', { class: 'muted' }, `latest deltas (${v.context.deltas.length})`),
          v.context.deltas.length === 0 ? h('p', { class: 'empty' }, 'No deltas yet.') : h('pre', {}, v.context.deltas.map((d, i) => `${i === 0 ? '' : '\n'}${clipped(`v${d.version} ${d.itemId}: ${JSON.stringify(d.delta)}`, MAX_SHOWN / 10)}`))),
      ),
    );
  }

  // The text of the last `failure` event while it is shown: the next update that succeeds clears it (not the answers
  // of actions, which share the message line).
  let failure = null;
  const run = (e) => {
    conn.textContent = `live, updated ${new Date().toLocaleTimeString()}`;
    if (failure !== null && message.textContent === failure) message.textContent = '';
    failure = null;
    render(JSON.parse(e.data));
  };
  const failed = (e) => {
    message.textContent = failure = visible(JSON.parse(e.data).error);
  };
  // a stream opened again starts from the run's current state: nothing to re-read
  return follow(`/api/runs/${encodeURIComponent(runId)}/live`, { run, failure: failed }, { say: true });
}

// ------------------------------------------------------------------------------------------------------ router
/** The page of an address that names nothing this dashboard shows (a run id whose percent-encoding is malformed). */
function notFound(why) {
  main.replaceChildren(h('p', {}, link('/', '← all runs')), h('h1', {}, 'Not found'), h('p', { class: 'muted', 'data-not-found': '' }, why));
  document.title = 'not found - floxide ui';
  return () => {};
}

/** `text` percent-decoded, or undefined when its encoding is malformed (`%E0`). */
function decodeOr(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

function route() {
  teardown();
  conn.textContent = '';
  const m = /^\/runs\/([^/]+)$/.exec(location.pathname);
  const runId = m ? decodeOr(m[1]) : undefined;
  if (m && runId === undefined) return void (teardown = notFound(`No run at ${location.pathname}: its percent-encoding is malformed.`));
  teardown = m ? runPage(runId) : listPage();
  document.title = m ? `${runId} - floxide ui` : 'runs - floxide ui';
}

window.addEventListener('popstate', route);
document.querySelector('[data-nav]').addEventListener('click', (e) => { e.preventDefault(); navigate('/'); });
route();
