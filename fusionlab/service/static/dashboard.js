/* fusionlab anomaly dashboard.
 *
 * Hand-written, no framework and nothing loaded from elsewhere. It speaks the
 * service's public contract only: REST under /api (Bearer token) and the
 * WebSocket /ws. The stored anomalies are never all downloaded: counts come
 * from /api/summary, the heatmap and score from /api/heatmap, the table a
 * page at a time from /api/anomalies. Live messages are queued and applied
 * once per animation frame, so a burst of updates costs one redraw.
 */
(() => {
  'use strict';

  const SEVERITIES = ['low', 'medium', 'high', 'critical'];
  const RANK = { low: 0, medium: 1, high: 2, critical: 3 };
  const SEV_COLOR = { low: '#5aa9ff', medium: '#f2c14e', high: '#ff8c42', critical: '#ff4d6d' };
  const SEV_RADIUS = { low: 3, medium: 4.2, high: 5.6, critical: 7.4 };
  const SEV_BANDS = [1, 1.5, 2.5, 4];
  const TYPE_LABEL = {
    spike: 'Spike', level_shift: 'Level shift', trend: 'Trend', variance: 'Variance',
    pattern: 'Pattern', row: 'Table row',
  };
  const THEMES = {
    thermal: [[0, '#07060f'], [0.16, '#22104d'], [0.34, '#63167a'], [0.52, '#b8234e'],
      [0.68, '#eb5a1f'], [0.84, '#fbab1d'], [1, '#fff7cf']],
    plasma: [[0, '#0d0887'], [0.14, '#41049d'], [0.29, '#6a00a8'], [0.43, '#8f0da4'],
      [0.57, '#b12a90'], [0.71, '#cc4778'], [0.79, '#e16462'], [0.86, '#f2844b'],
      [0.93, '#fca636'], [1, '#f0f921']],
    holographic: [[0, '#050a1f'], [0.2, '#10306e'], [0.4, '#1573ab'], [0.56, '#19c4d6'],
      [0.7, '#84f4e8'], [0.86, '#e490ff'], [1, '#fff2ff']],
    contour: [[0, '#0c1738'], [0.25, '#1d4f7c'], [0.5, '#279b8d'], [0.75, '#b9d96c'],
      [1, '#fdf1a9']],
  };
  const CONTOUR_LEVELS = 9;
  // the themes' accent colours (as in dashboard.css), for the canvas
  const ACCENT = { thermal: '#ff8a4c', plasma: '#c86bfa', holographic: '#4fe3f0', contour: '#8fd694' };
  const PANELS = {
    heatmap: 'size-full', series: 'size-full', timeline: 'size-two-thirds',
    severity: 'size-third', types: 'size-half', features: 'size-half', recent: 'size-full',
  };
  const PANEL_TITLES = {
    heatmap: 'Feature contributions', series: 'Score and anomalous spans',
    timeline: 'Anomaly timeline', severity: 'Severity distribution', types: 'By type',
    features: 'By feature to blame', recent: 'Recent anomalies',
  };
  const PANEL_OF = { heatmap: 'heatmap', series: 'series', timeline: 'timeline', severity: 'severity',
    types: 'types', features: 'features', recent: 'recent' };
  const SIZES = ['size-full', 'size-two-thirds', 'size-half', 'size-third'];
  const PAGE = 50;
  const TOP_LAYERS = 12;
  const MAX_LIVE_POINTS = 3000;
  const MAX_ROWS = 250;
  const HEATMAP_MARGIN = { left: 128, right: 18, top: 6, bottom: 42 };

  const $ = (id) => document.getElementById(id);
  const fmt = new Intl.NumberFormat('en');
  const state = {
    token: null, auth: 'local', health: null,
    filters: emptyFilters(), saved: {}, theme: 'thermal', layout: null,
    summary: null, heatmap: null, heatmapError: null, recent: [], nextCursor: null,
    models: new Map(), heatmapModel: '', series: new Set(),
    lastSeq: null, maxSeq: null, seen: new Set(), live: [], liveCount: 0, freshIds: new Map(), rows: new Map(),
    hover: null, brush: null, started: false,
  };

  function emptyFilters() {
    return { severity: [], min_severity: '', anomaly_type: '', model_id: '', series_id: '',
      dataset_id: '', start: null, end: null };
  }

  // ------------------------------------------------------------ utilities
  class ApiError extends Error {
    constructor(status, detail) { super(detail); this.status = status; this.detail = detail; }
  }

  async function api(path, { method = 'GET', params = null, body } = {}) {
    const url = new URL(path, location.origin);
    if (params) {
      for (const [key, value] of Object.entries(params)) {
        if (value === null || value === undefined || value === '') continue;
        if (Array.isArray(value)) { if (value.length) url.searchParams.set(key, value.join(',')); }
        else url.searchParams.set(key, String(value));
      }
    }
    const headers = { Accept: 'application/json' };
    if (state.token) headers.Authorization = `Bearer ${state.token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const answer = await fetch(url, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!answer.ok) {
      let detail = answer.statusText;
      try { detail = (await answer.json()).detail || detail; } catch (_) { /* not JSON */ }
      if (typeof detail !== 'string') detail = JSON.stringify(detail);
      throw new ApiError(answer.status, detail);
    }
    return answer.json();
  }

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'text') node.textContent = value;
      else node.setAttribute(key, value === true ? '' : value);
    }
    for (const child of children) if (child != null) node.append(child);
    return node;
  }

  function svg(tag, attrs = {}) {
    const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
    return node;
  }

  const pad = (n, w = 2) => String(n).padStart(w, '0');
  const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

  function utc(ms, seconds = false) {
    const d = new Date(ms);
    const text = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
      `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
    return seconds ? `${text}:${pad(d.getUTCSeconds())}` : text;
  }

  function ago(ms) {
    const s = Math.round((Date.now() - ms) / 1000);
    if (s < 0) return 'in the future';
    if (s < 60) return `${s} s ago`;
    if (s < 3600) return `${Math.round(s / 60)} min ago`;
    if (s < 86400) return `${Math.round(s / 3600)} h ago`;
    return `${Math.round(s / 86400)} days ago`;
  }

  const isEpoch = (ms) => Math.abs(ms) > 1e11; // after 1973: epoch ms, else point indices
  const toInputValue = (ms) => (ms == null ? '' : new Date(ms).toISOString().slice(0, 19));
  function fromInputValue(text) {
    if (!text) return null;
    const ms = Date.parse(text.length === 16 ? `${text}:00Z` : `${text}Z`);
    return Number.isFinite(ms) ? ms : null;
  }

  function debounce(fn, wait) {
    let timer = null;
    return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), wait); };
  }

  function toast(text, kind = '') {
    const node = el('div', { class: `toast ${kind}`, text });
    $('toasts').append(node);
    setTimeout(() => node.remove(), kind === 'error' ? 9000 : 5000);
  }

  let announceTimer = null;
  let announcePending = { n: 0, serious: 0 };
  function announce(record) {
    announcePending.n += 1;
    if (RANK[record.severity] >= RANK.high) announcePending.serious += 1;
    if (announceTimer) return;
    announceTimer = setTimeout(() => {
      const { n, serious } = announcePending;
      $('announcer').textContent = `${n} new ${n === 1 ? 'anomaly' : 'anomalies'}` +
        (serious ? `, ${serious} high or critical` : '');
      announcePending = { n: 0, serious: 0 };
      announceTimer = null;
    }, 4000);
  }

  // ------------------------------------------------------------ colours
  function hexToRgb(hex) {
    const v = parseInt(hex.slice(1), 16);
    return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
  }

  const lutCache = {};
  function lut(theme) {
    if (lutCache[theme]) return lutCache[theme];
    const stops = THEMES[theme].map(([at, hex]) => [at, hexToRgb(hex)]);
    const table = new Uint8ClampedArray(256 * 3);
    for (let i = 0; i < 256; i += 1) {
      let t = i / 255;
      if (theme === 'contour') t = Math.min(1, Math.floor(t * CONTOUR_LEVELS) / (CONTOUR_LEVELS - 1));
      let k = 1;
      while (k < stops.length - 1 && stops[k][0] < t) k += 1;
      const [a, ca] = stops[k - 1];
      const [b, cb] = stops[k];
      const f = b > a ? Math.min(1, Math.max(0, (t - a) / (b - a))) : 0;
      for (let c = 0; c < 3; c += 1) table[i * 3 + c] = ca[c] + (cb[c] - ca[c]) * f;
    }
    lutCache[theme] = table;
    return table;
  }

  // ------------------------------------------------------------ axes
  const TIME_STEPS = [1e3, 2e3, 5e3, 1e4, 15e3, 3e4, 6e4, 12e4, 3e5, 6e5, 9e5, 18e5, 36e5,
    72e5, 108e5, 216e5, 432e5, 864e5, 1728e5, 6048e5, 12096e5, 2592e6, 7776e6, 15552e6, 31536e6];

  function niceStep(raw) {
    const power = 10 ** Math.floor(Math.log10(raw || 1));
    const unit = raw / power;
    return (unit <= 1 ? 1 : unit <= 2 ? 2 : unit <= 5 ? 5 : 10) * power;
  }

  function ticks(t0, t1, maxTicks) {
    if (!(t1 > t0)) return [{ at: t0, label: isEpoch(t0) ? utc(t0) : fmt.format(t0) }];
    if (!isEpoch(t0)) {
      const step = Math.max(1, niceStep((t1 - t0) / maxTicks));
      const out = [];
      for (let v = Math.ceil(t0 / step) * step; v <= t1; v += step) out.push({ at: v, label: fmt.format(v) });
      return out;
    }
    const span = t1 - t0;
    const step = TIME_STEPS.find((s) => span / s <= maxTicks) || TIME_STEPS[TIME_STEPS.length - 1];
    const out = [];
    let lastDay = null;
    for (let v = Math.ceil(t0 / step) * step; v <= t1; v += step) {
      const d = new Date(v);
      const day = `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}`;
      let label;
      if (step >= 864e5) label = span > 3e10 ? `${day} ${d.getUTCFullYear()}` : day;
      else {
        label = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}` +
          (step < 6e4 ? `:${pad(d.getUTCSeconds())}` : '');
        if (day !== lastDay) label = [label, day];
      }
      lastDay = day;
      out.push({ at: v, label });
    }
    return out;
  }

  function prepCanvas(canvas, height, fixedWidth = null) {
    const dpr = window.devicePixelRatio || 1;
    const width = fixedWidth || Math.max(120, canvas.parentElement.clientWidth - 32);
    canvas.style.height = `${height}px`;
    const W = Math.round(width * dpr);
    const H = Math.round(height * dpr);
    if (canvas.width !== W || canvas.height !== H) { canvas.width = W; canvas.height = H; }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.font = '11.5px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
    return { ctx, width, height };
  }

  function drawTimeAxis(ctx, x0, x1, y, t0, t1) {
    ctx.fillStyle = '#a3aec8';
    ctx.strokeStyle = '#2a3858';
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    const list = ticks(t0, t1, Math.max(2, Math.floor((x1 - x0) / 96)));
    for (const tick of list) {
      const x = x0 + ((tick.at - t0) / (t1 - t0 || 1)) * (x1 - x0);
      if (x < x0 - 1 || x > x1 + 1) continue;
      ctx.beginPath(); ctx.moveTo(x + 0.5, y); ctx.lineTo(x + 0.5, y + 4); ctx.stroke();
      const lines = Array.isArray(tick.label) ? tick.label : [tick.label];
      lines.forEach((line, i) => ctx.fillText(line, x, y + 6 + i * 13));
    }
  }

  // ------------------------------------------------------------ scheduling
  const pending = [];
  const dirty = new Set();
  const stats = { frames: 0, messages: 0, renders: {}, ms: {} };
  let frameRequested = false;
  let animating = false;

  function requestFrame() {
    if (frameRequested) return;
    frameRequested = true;
    if (document.hidden) setTimeout(() => frame(performance.now()), 250);
    else requestAnimationFrame(frame);
  }

  // Hidden panels are not drawn; they are drawn when shown again.
  const stale = new Set();
  function isHidden(name) {
    const panel = state.layout && state.layout.panels.find((p) => p.id === PANEL_OF[name]);
    return !!(panel && panel.hidden);
  }

  function markDirty(...names) { names.forEach((n) => dirty.add(n)); requestFrame(); }

  function frame(now) {
    frameRequested = false;
    stats.frames += 1;
    if (pending.length) {
      const batch = pending.splice(0, pending.length);
      stats.messages += batch.length;
      for (const message of batch) handleMessage(message);
    }
    const names = [...dirty];
    dirty.clear();
    for (const name of names) {
      if (name !== 'kpis' && isHidden(name)) { stale.add(name); continue; }
      stats.renders[name] = (stats.renders[name] || 0) + 1;
      const began = performance.now();
      try { RENDER[name](now); } catch (exc) { console.warn('render', name, exc); }
      stats.ms[name] = (stats.ms[name] || 0) + performance.now() - began;
    }
    if (animating) { animating = false; dirty.add('timeline'); requestFrame(); }
  }

  // ------------------------------------------------------------ filters
  function filterParams(f = state.filters) {
    return {
      severity: f.severity, min_severity: f.min_severity, anomaly_type: f.anomaly_type,
      model_id: f.model_id, series_id: f.series_id, dataset_id: f.dataset_id,
      start: f.start, end: f.end,
    };
  }

  function readForm() {
    const form = $('filters');
    const f = emptyFilters();
    f.severity = [...form.querySelectorAll('input[name="severity"]:checked')].map((i) => i.value);
    f.min_severity = $('f-min-severity').value;
    f.anomaly_type = $('f-type').value;
    f.model_id = $('f-model').value;
    f.series_id = $('f-series').value.trim();
    f.dataset_id = state.filters.dataset_id;
    f.start = fromInputValue($('f-start').value);
    f.end = fromInputValue($('f-end').value);
    if (f.start != null && f.end != null && f.start > f.end) [f.start, f.end] = [f.end, f.start];
    return f;
  }

  function writeForm() {
    const f = state.filters;
    for (const input of $('filters').querySelectorAll('input[name="severity"]')) {
      input.checked = f.severity.includes(input.value);
    }
    $('f-min-severity').value = f.min_severity;
    $('f-type').value = f.anomaly_type;
    if (f.model_id && !state.models.has(f.model_id)) {
      $('f-model').append(el('option', { value: f.model_id, text: f.model_id }));
    }
    $('f-model').value = f.model_id;
    $('f-series').value = f.series_id;
    $('f-start').value = toInputValue(f.start);
    $('f-end').value = toInputValue(f.end);
  }

  function filtersFromUrl() {
    const q = new URLSearchParams(location.search);
    const f = emptyFilters();
    f.severity = (q.get('severity') || '').split(',').filter((s) => RANK[s] !== undefined);
    f.min_severity = RANK[q.get('min_severity')] !== undefined ? q.get('min_severity') : '';
    f.anomaly_type = TYPE_LABEL[q.get('anomaly_type')] ? q.get('anomaly_type') : '';
    f.model_id = q.get('model_id') || '';
    f.series_id = q.get('series_id') || '';
    f.dataset_id = q.get('dataset_id') || '';
    for (const key of ['start', 'end']) {
      const text = q.get(key);
      if (!text) continue;
      const ms = /^-?\d+$/.test(text) ? Number(text) : Date.parse(text);
      if (Number.isFinite(ms)) f[key] = ms;
    }
    return f;
  }

  function filtersToUrl() {
    const f = state.filters;
    const q = new URLSearchParams();
    if (f.severity.length) q.set('severity', f.severity.join(','));
    for (const key of ['min_severity', 'anomaly_type', 'model_id', 'series_id', 'dataset_id']) {
      if (f[key]) q.set(key, f[key]);
    }
    for (const key of ['start', 'end']) {
      if (f[key] != null) q.set(key, new Date(f[key]).toISOString().replace('.000Z', 'Z'));
    }
    const text = q.toString();
    history.replaceState(null, '', `${location.pathname}${text ? `?${text}` : ''}`);
  }

  function setFilters(changes) {
    state.filters = { ...state.filters, ...changes };
    writeForm();
    applyFilters();
  }

  function applyFilters() {
    filtersToUrl();
    refresh();
  }

  // A live record passes when a listing with the same filters would return it.
  function matches(r) {
    const f = state.filters;
    if (f.severity.length && !f.severity.includes(r.severity)) return false;
    if (f.min_severity && RANK[r.severity] < RANK[f.min_severity]) return false;
    if (f.anomaly_type && r.anomaly_type !== f.anomaly_type) return false;
    if (f.model_id && r.model_id !== f.model_id) return false;
    if (f.series_id && r.series_id !== f.series_id) return false;
    if (f.dataset_id && r.dataset_id !== f.dataset_id) return false;
    if (f.start != null && r.timestamp < f.start) return false;
    if (f.end != null && r.timestamp > f.end) return false;
    const s = state.saved || {};
    if (s.model_ids && s.model_ids.length && !s.model_ids.includes(r.model_id)) return false;
    if (s.layer_ids && s.layer_ids.length && !s.layer_ids.includes(r.layer)) return false;
    const ratio = r.metadata && r.metadata.score_ratio;
    if (s.intensity_range && (ratio == null || ratio < s.intensity_range[0] ||
      ratio > s.intensity_range[1])) return false;
    if (s.time_range) {
      if (s.time_range[0] != null && r.timestamp < s.time_range[0]) return false;
      if (s.time_range[1] != null && r.timestamp > s.time_range[1]) return false;
    }
    return true;
  }

  // ------------------------------------------------------------ loading
  let refreshId = 0;

  function timelineBuckets() {
    const width = $('timeline-canvas').parentElement.clientWidth || 800;
    return Math.max(30, Math.min(400, Math.floor(width / 7)));
  }

  async function refresh({ quiet = false } = {}) {
    const id = ++refreshId;
    const params = filterParams();
    try {
      const [summary, page] = await Promise.all([
        api('/api/summary', { params: { ...params, buckets: timelineBuckets(), top: TOP_LAYERS } }),
        api('/api/anomalies', { params: { ...params, limit: PAGE } }),
      ]);
      if (id !== refreshId) return;
      state.summary = summary;
      state.lastSeq = Math.max(summary.last_seq, 0);
      state.maxSeq = state.lastSeq;
      state.seen = new Set();
      state.recent = page.anomalies;
      state.trimmed = false;
      state.nextCursor = page.next_cursor;
      state.recent.forEach(noteSeries);
      if (!quiet) state.live = state.live.filter((p) => matches(p.record));
      subscribe();
      markDirty('kpis', 'timeline', 'severity', 'types', 'features', 'recent');
      await loadHeatmap(id);
    } catch (exc) {
      if (id === refreshId) failed(exc, 'Could not load the anomalies');
    }
    if (id === refreshId) document.body.dataset.state = 'ready';
  }

  async function loadHeatmap(id = refreshId) {
    const f = state.filters;
    const model = state.heatmapModel || (f.model_id && isScored(f.model_id) ? f.model_id : '');
    const width = $('heatmap-canvas').parentElement.clientWidth || 900;
    const columns = Math.max(20, Math.min(1200, Math.floor(width - 32 - HEATMAP_MARGIN.left - HEATMAP_MARGIN.right) / 3));
    try {
      const grid = await api('/api/heatmap', {
        params: {
          model_id: model, series_id: f.series_id, dataset_id: f.dataset_id, start: f.start,
          end: f.end, severity: f.severity, min_severity: f.min_severity,
          anomaly_type: f.anomaly_type, columns: Math.floor(columns),
        },
      });
      if (id !== refreshId) return;
      if (grid.model_id == null) {
        state.heatmap = null;
        state.heatmapError = 'No detector has stored per-feature contributions here yet: fit one ' +
          'on a series, score a series with one, or push live points, and its heatmap appears.';
        subscribeHeatmap();
      } else {
        state.heatmap = grid;
        state.heatmap.tail = [];
        state.heatmapError = null;
        subscribeHeatmap();
      }
    } catch (exc) {
      if (id !== refreshId) return;
      if (exc instanceof ApiError && exc.status === 401) { failed(exc); return; }
      state.heatmap = null;
      state.heatmapError = exc instanceof ApiError ? exc.detail : String(exc);
    }
    markDirty('heatmap', 'series');
  }

  function isScored(modelId) {
    const model = state.models.get(modelId);
    return !model || model.kind === 'detector';
  }

  async function loadModels() {
    const { models } = await api('/api/models');
    state.models = new Map(models.map((m) => [m.model_id, m]));
    const select = $('f-model');
    const chosen = state.filters.model_id;
    select.replaceChildren(el('option', { value: '', text: 'All models' }));
    for (const m of models) {
      select.append(el('option', { value: m.model_id, text: `${m.name} · ${m.kind}` }));
    }
    if (chosen && !state.models.has(chosen)) select.append(el('option', { value: chosen, text: chosen }));
    select.value = chosen;
    const heat = $('heatmap-model');
    heat.replaceChildren(el('option', { value: '', text: 'Newest scored' }));
    for (const m of models) {
      if (m.kind === 'detector' && m.status === 'ready') {
        heat.append(el('option', { value: m.model_id, text: m.name }));
      }
    }
    heat.value = state.models.has(state.heatmapModel) ? state.heatmapModel : '';
  }

  async function loadMore() {
    if (!state.nextCursor) return;
    const button = $('load-more');
    button.disabled = true;
    try {
      const page = await api('/api/anomalies', {
        params: { ...filterParams(), limit: PAGE, cursor: state.nextCursor },
      });
      const known = new Set(state.recent.map((r) => r.id));
      state.recent.push(...page.anomalies.filter((r) => !known.has(r.id)));
      state.nextCursor = page.next_cursor;
      markDirty('recent');
    } catch (exc) {
      failed(exc, 'Could not load older anomalies');
    } finally {
      button.disabled = false;
    }
  }

  function noteSeries(record) {
    if (record.series_id && !state.series.has(record.series_id) && state.series.size < 500) {
      state.series.add(record.series_id);
      $('series-options').append(el('option', { value: record.series_id }));
    }
  }

  function failed(exc, what = 'Request failed') {
    if (exc instanceof ApiError && exc.status === 401) {
      showLogin(exc.detail);
      return;
    }
    toast(`${what}: ${exc.detail || exc.message || exc}`, 'error');
  }

  // ------------------------------------------------------------ live updates
  let socket = null;
  let backoff = 1000;
  let reconnectTimer = null;
  let requestId = 0;
  let pingTimer = null;

  function setConn(kind, text) {
    $('conn').dataset.conn = kind;
    $('conn-text').textContent = text;
  }

  function connect() {
    clearTimeout(reconnectTimer);
    if (socket) { socket.onclose = null; socket.close(); }
    setConn('connecting', 'Connecting…');
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${scheme}//${location.host}/ws`);
    socket = ws;
    ws.onopen = () => {
      // the token as a first message, not in the address (proxies log those);
      // a server in local mode answers it with an error, ignored below
      if (state.token) ws.send(JSON.stringify({ type: 'auth', id: 'auth', data: { token: state.token } }));
      backoff = 1000;
      subscribe();
      subscribeHeatmap();
      send({ type: 'subscribe_jobs', data: {} });
      setConn('live', 'Live');
      clearInterval(pingTimer);
      pingTimer = setInterval(() => send({ type: 'ping', data: {} }), 25000);
    };
    ws.onmessage = (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch (_) { return; }
      pending.push(message);
      requestFrame();
    };
    ws.onclose = (event) => {
      clearInterval(pingTimer);
      if (socket !== ws) return;
      if (event.code === 1008) {
        setConn('offline', 'Not signed in');
        showLogin('The live connection refused the token.');
        return;
      }
      const wait = backoff;
      backoff = Math.min(30000, backoff * 2);
      setConn('reconnecting', `Reconnecting in ${Math.round(wait / 1000)} s`);
      reconnectTimer = setTimeout(connect, wait);
    };
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ id: `r${++requestId}`, ...message }));
      return true;
    }
    return false;
  }

  function subscribe() {
    const f = state.filters;
    const floor = Math.max(f.min_severity ? RANK[f.min_severity] : 0,
      f.severity.length ? Math.min(...f.severity.map((s) => RANK[s])) : 0);
    if (state.maxSeq == null) return; // not before the first summary: it says where to start
    const data = { since_seq: state.maxSeq };
    if (floor > 0) data.min_severity = SEVERITIES[floor];
    if (f.model_id) data.model_ids = [f.model_id];
    send({ type: 'subscribe_anomalies', data });
  }

  function subscribeHeatmap() {
    const model = state.filters.model_id || (state.heatmap && state.heatmap.model_id);
    send({ type: 'subscribe_heatmap', data: model ? { model_ids: [model] } : {} });
  }

  function handleMessage(message) {
    const data = message.data || {};
    switch (message.type) {
      case 'anomaly_update':
        for (const record of data.anomalies || []) applyRecord(record);
        break;
      case 'heatmap_update':
        applyHeatmapUpdate(data);
        break;
      case 'job_update':
        applyJob(data);
        break;
      case 'lagged':
        toast(`${fmt.format(data.dropped || 0)} low or medium updates were skipped; the counts were refreshed.`, 'warn');
        resync();
        break;
      case 'error':
        if (message.id === 'auth') break;
        toast(`Live connection: ${data.message || data.code}`, 'warn');
        break;
      default:
        break; // subscribed, replayed, pong...
    }
  }

  const resync = debounce(() => refresh({ quiet: true }), 1500);

  function applyRecord(record) {
    const seq = record.seq ?? record.id;
    if (seq <= state.lastSeq || state.seen.has(seq)) return;
    state.seen.add(seq);
    state.maxSeq = Math.max(state.maxSeq ?? 0, seq);
    // A record updated in place (a live alert whose severity rose, made final
    // or withdrawn) keeps its id under a new seq: it replaces its row, and
    // the counts, which held its earlier version, are fetched again.
    const updated = record.id !== seq;
    const index = state.recent.findIndex((r) => r.id === record.id);
    if (index >= 0) { state.recent.splice(index, 1); state.rows.delete(record.id); }
    if (updated) resync();
    if (!matches(record)) {
      if (index >= 0) markDirty('recent');
      return;
    }
    state.liveCount += 1;
    noteSeries(record);
    announce(record);
    if (!updated) countRecord(record);
    state.recent.unshift(record);
    state.recent.sort((a, b) => b.timestamp - a.timestamp || b.id - a.id);
    if (state.recent.length > MAX_ROWS) {
      // the rows dropped at the end are no longer before the cursor
      state.recent.length = MAX_ROWS;
      state.nextCursor = null;
      state.trimmed = true;
    }
    state.freshIds.set(record.id, performance.now());
    const ratio = record.metadata && record.metadata.score_ratio;
    state.live.push({ t: record.timestamp, ratio: ratio ?? null, sev: record.severity,
      born: performance.now(), seq, record });
    if (state.live.length > MAX_LIVE_POINTS) state.live.splice(0, state.live.length - MAX_LIVE_POINTS);
    paintSpan(record);
    markDirty('kpis', 'timeline', 'severity', 'types', 'features', 'recent');
  }

  function countRecord(r) {
    const s = state.summary;
    if (!s) return;
    s.total += 1;
    s.by_severity[r.severity] = (s.by_severity[r.severity] || 0) + 1;
    s.by_type[r.anomaly_type] = (s.by_type[r.anomaly_type] || 0) + 1;
    const entry = s.by_layer.find((e) => e.layer === r.layer);
    if (entry) entry.count += 1;
    else if (s.by_layer.length < TOP_LAYERS) s.by_layer.push({ layer: r.layer, count: 1 });
    else s.other_layers += 1;
    s.by_layer.sort((a, b) => b.count - a.count);
    s.newest = s.newest == null ? r.timestamp : Math.max(s.newest, r.timestamp);
    const time = s.time;
    const ratio = r.metadata ? r.metadata.score_ratio : null;
    if (!time.bucket_ms) { resync(); return; }
    const index = Math.floor((r.timestamp - time.start) / time.bucket_ms);
    const limit = Math.ceil(timelineBuckets() * 1.5);
    if (index < 0 || index >= limit) { resync(); return; }
    while (time.counts.length <= index) {
      time.counts.push([0, 0, 0, 0]);
      time.max_ratio.push([null, null, null, null]);
    }
    time.end = Math.max(time.end, r.timestamp);
    const rank = RANK[r.severity];
    time.counts[index][rank] += 1;
    if (ratio != null) time.max_ratio[index][rank] = Math.max(time.max_ratio[index][rank] ?? 0, ratio);
  }

  function paintSpan(r) {
    const hm = state.heatmap;
    const loc = r.location || {};
    if (!hm || !hm.starts.length || r.model_id !== hm.model_id || loc.start_index == null) return;
    if (hm.series_id && r.series_id !== hm.series_id) return;
    if (hm.dataset_id && r.dataset_id && r.dataset_id !== hm.dataset_id) return;
    const n = hm.starts.length;
    const low = hm.first_index;
    const high = hm.last_index + 1;
    let changed = false;
    for (let i = 0; i < n; i += 1) {
      const a = Math.floor(low + (i * (high - low)) / n);
      const b = Math.floor(low + ((i + 1) * (high - low)) / n) - 1;
      if (b >= loc.start_index && a <= loc.end_index) {
        const now = hm.severity[i];
        if (now == null || RANK[now] < RANK[r.severity]) { hm.severity[i] = r.severity; changed = true; }
      }
    }
    if (changed) markDirty('heatmap', 'series');
  }

  // heatmap_update: the per-feature intensities (contribution / threshold)
  // of a live series' newest final points: {model_id, series_id,
  // feature_names, threshold, time_unit, final: {start_index, time: [...],
  // intensities: [[one per feature], ...]}, interim}. They extend the heatmap
  // of that series, or start one when nothing stored is shown.
  const LIVE_COLUMNS = 360;

  function applyHeatmapUpdate(d) {
    const f = state.filters;
    const final = d.final;
    if (!final || !Array.isArray(final.time) || !Array.isArray(final.intensities)) return;
    if (f.end != null || (f.model_id && d.model_id !== f.model_id)) return;
    if (f.series_id && d.series_id !== f.series_id) return;
    let hm = state.heatmap;
    if (hm && (hm.model_id !== d.model_id || hm.series_id !== d.series_id)) return;
    const names = d.feature_names || (hm && hm.feature_names) || [];
    if (!hm) {
      hm = state.heatmap = {
        model_id: d.model_id, series_id: d.series_id, dataset_id: null, feature_names: names,
        threshold: d.threshold, time_unit: d.time_unit, live: true, points_per_column: 1,
        first_index: final.start_index, last_index: final.start_index - 1, starts: [], ends: [],
        scores: [], intensities: names.map(() => []), severity: [], tail: [],
      };
      state.heatmapError = null;
    }
    const per = Math.max(1, Math.round(hm.points_per_column || 1));
    const maxColumns = hm.live ? LIVE_COLUMNS : Math.max(hm.starts.length, 1);
    final.time.forEach((t, k) => {
      const row = final.intensities[k];
      const index = final.start_index + k;
      if (!Array.isArray(row) || row.length !== names.length) return;
      if (index <= hm.last_index + hm.tail.length) return; // already shown
      hm.tail.push({ t, v: row.map(Number) });
      if (hm.tail.length < per) return;
      const tail = hm.tail.splice(0, hm.tail.length);
      hm.starts.push(tail[0].t);
      hm.ends.push(tail[tail.length - 1].t);
      names.forEach((_, j) => hm.intensities[j].push(Math.max(...tail.map((q) => q.v[j]))));
      hm.scores.push(Math.max(...tail.map((q) => q.v.reduce((a, b) => a + b, 0) * (hm.threshold || 1))));
      hm.severity.push(null);
      hm.last_index += tail.length;
      while (hm.starts.length > maxColumns) {
        hm.starts.shift(); hm.ends.shift(); hm.scores.shift(); hm.severity.shift();
        hm.intensities.forEach((r) => r.shift());
        hm.first_index += per;
      }
    });
    // spans of the anomalies already shown, now that their points are
    for (const r of state.recent) if (r.series_id === hm.series_id) paintSpan(r);
    markDirty('heatmap', 'series');
  }

  const reloadModels = debounce(async () => {
    try { await loadModels(); } catch (exc) { failed(exc, 'Could not list the models'); }
    loadHeatmap();
  }, 500);

  function applyJob(job) {
    if (job.status === 'completed') {
      const kind = (job.kind || 'job').replace('_', ' ');
      toast(`${kind[0].toUpperCase()}${kind.slice(1)} completed: ${fmt.format(job.anomaly_count || 0)} ${job.anomaly_count === 1 ? 'anomaly' : 'anomalies'}.`);
      if (job.kind === 'fit_model' || job.kind === 'score_series' || job.kind === 'check_model') reloadModels();
    } else if (job.status === 'failed') {
      toast(`A ${job.kind || ''} job failed: ${job.error_message || 'see the server log'}`, 'error');
    }
  }

  // ------------------------------------------------------------ rendering
  function setText(id, text) {
    const node = $(id);
    if (node.textContent !== text) {
      node.textContent = text;
      if (state.started) {
        // opacity only: the compositor animates it without a layout
        node.animate([{ opacity: 0.3 }, { opacity: 1 }], { duration: 500, easing: 'ease-out' });
      }
    }
  }

  function renderKpis() {
    const s = state.summary;
    if (!s) return;
    const share = (n) => (s.total ? `${((100 * n) / s.total).toFixed(1)}% of matching` : ' ');
    setText('kpi-total', fmt.format(s.total));
    $('kpi-total-note').textContent = s.time.start != null && s.total
      ? (isEpoch(s.time.start) ? `since ${utc(s.time.start)}` : `points ${s.time.start}–${s.time.end}`) : 'none match';
    setText('kpi-critical', fmt.format(s.by_severity.critical || 0));
    $('kpi-critical-note').textContent = share(s.by_severity.critical || 0);
    setText('kpi-high', fmt.format(s.by_severity.high || 0));
    $('kpi-high-note').textContent = share(s.by_severity.high || 0);
    $('kpi-newest').textContent = s.newest != null ? (isEpoch(s.newest) ? utc(s.newest) : `point ${s.newest}`) : '–';
    $('kpi-newest-note').textContent = s.newest != null && isEpoch(s.newest) ? ago(s.newest) : ' ';
    setText('kpi-live', fmt.format(state.liveCount));
    $('kpi-live-note').textContent = `since this page opened · seq ${fmt.format(state.lastSeq)}`;
    document.body.dataset.total = String(s.total);
  }

  function renderHeatmap() {
    const canvas = $('heatmap-canvas');
    const hm = state.heatmap;
    const empty = $('heatmap-empty');
    const hasData = hm && hm.starts.length;
    canvas.hidden = !hasData;
    $('heatmap-legend').hidden = !hasData;
    empty.hidden = !!hasData;
    if (!hasData) {
      empty.textContent = state.heatmapError || (state.summary ? 'No scored points in this time range.' : 'Loading…');
      $('heatmap-sub').textContent = 'Per feature over time: contribution / threshold';
      return;
    }
    const model = state.models.get(hm.model_id);
    $('heatmap-sub').textContent = `${hm.live ? 'Live, final scores · ' : ''}${model ? model.name : hm.model_id}` +
      `${hm.series_id ? ` on ${hm.series_id}` : ''} · ${fmt.format(hm.last_index - hm.first_index + 1)} points` +
      ` · ${hm.points_per_column > 1 ? `${hm.points_per_column.toFixed(1)} points per column (highest shown)` : 'one point per column'}`;
    const rows = hm.feature_names.length;
    const rowHeight = rows > 16 ? 14 : rows > 8 ? 20 : 28;
    const m = HEATMAP_MARGIN;
    const { ctx, width, height } = prepCanvas(canvas, m.top + rows * rowHeight + m.bottom);
    const x0 = m.left;
    const x1 = width - m.right;
    const cols = hm.starts.length;
    // The colour scale tops out at the 99.5th percentile (at least 1.5× the
    // threshold): one huge outlier must not turn the rest of the map dark.
    const all = [];
    for (const row of hm.intensities) for (const v of row) all.push(v);
    all.sort((a, b) => a - b);
    const top = all.length ? all[all.length - 1] : 1;
    const vmax = Math.max(1.5, all.length ? all[Math.floor(0.995 * (all.length - 1))] : 1);
    hm.vmax = vmax;
    hm.top = top;
    const table = lut(state.theme);
    const image = new ImageData(cols, rows);
    for (let f = 0; f < rows; f += 1) {
      const row = hm.intensities[f];
      for (let i = 0; i < cols; i += 1) {
        const t = Math.min(1, Math.sqrt(Math.max(0, row[i]) / vmax));
        const k = Math.min(255, Math.round(t * 255)) * 3;
        const p = (f * cols + i) * 4;
        image.data[p] = table[k]; image.data[p + 1] = table[k + 1]; image.data[p + 2] = table[k + 2];
        image.data[p + 3] = 255;
      }
    }
    const off = document.createElement('canvas');
    off.width = cols; off.height = rows;
    off.getContext('2d').putImageData(image, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(off, x0, m.top, x1 - x0, rows * rowHeight);
    const cw = (x1 - x0) / cols;
    if (state.theme === 'contour') {
      // iso-lines between cells of different levels
      const level = (f, i) => Math.min(CONTOUR_LEVELS - 1, Math.floor(Math.min(1, Math.sqrt(Math.max(0, hm.intensities[f][i]) / vmax)) * CONTOUR_LEVELS));
      ctx.strokeStyle = 'rgba(255,255,255,0.55)';
      ctx.lineWidth = 1;
      ctx.beginPath();
      for (let f = 0; f < rows; f += 1) {
        for (let i = 0; i < cols; i += 1) {
          const here = level(f, i);
          const x = x0 + i * cw;
          const y = m.top + f * rowHeight;
          if (i + 1 < cols && level(f, i + 1) !== here) { ctx.moveTo(x + cw, y); ctx.lineTo(x + cw, y + rowHeight); }
          if (f + 1 < rows && level(f + 1, i) !== here) { ctx.moveTo(x, y + rowHeight); ctx.lineTo(x + cw, y + rowHeight); }
        }
      }
      ctx.stroke();
    }
    // row separators and names
    ctx.strokeStyle = 'rgba(10,15,28,0.85)';
    ctx.lineWidth = 1;
    for (let f = 1; f < rows; f += 1) {
      ctx.beginPath(); ctx.moveTo(x0, m.top + f * rowHeight + 0.5); ctx.lineTo(x1, m.top + f * rowHeight + 0.5); ctx.stroke();
    }
    ctx.fillStyle = '#cdd5ea';
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    hm.feature_names.forEach((name, f) => {
      const label = name.length > 18 ? `${name.slice(0, 17)}…` : name;
      ctx.fillText(label, x0 - 10, m.top + f * rowHeight + rowHeight / 2);
    });
    // anomalous spans: a severity strip under the grid
    const yStrip = m.top + rows * rowHeight + 2;
    for (let i = 0; i < cols; i += 1) {
      const sev = hm.severity[i];
      if (!sev) continue;
      ctx.fillStyle = SEV_COLOR[sev];
      ctx.fillRect(x0 + i * cw, yStrip, Math.max(1, cw), 4);
    }
    drawTimeAxis(ctx, x0, x1, yStrip + 6, hm.starts[0], hm.ends[cols - 1]);
    drawCrosshair(ctx, x0, cw, m.top, m.top + rows * rowHeight);
    drawBrush(ctx, m.top, m.top + rows * rowHeight);
    canvas.setAttribute('aria-label', `Heatmap of ${rows} features over ${cols} time buckets; ` +
      `highest intensity ${top.toFixed(2)} times the threshold.`);
    renderLegend(vmax, top);
  }

  function renderLegend(vmax, top) {
    const canvas = $('legend-canvas');
    const { ctx, width } = prepCanvas(canvas, 30, 300);
    const table = lut(state.theme);
    const x0 = 8;
    const x1 = width - 34;
    for (let x = x0; x <= x1; x += 1) {
      const k = Math.round(((x - x0) / (x1 - x0)) * 255) * 3;
      ctx.fillStyle = `rgb(${table[k]},${table[k + 1]},${table[k + 2]})`;
      ctx.fillRect(x, 2, 1.5, 10);
    }
    ctx.strokeStyle = '#33446b';
    ctx.strokeRect(x0 - 0.5, 1.5, x1 - x0 + 1, 11);
    ctx.fillStyle = '#a3aec8';
    ctx.textBaseline = 'top';
    const mark = (v, label, align = 'center') => {
      const x = x0 + Math.sqrt(Math.min(1, v / vmax)) * (x1 - x0); // the map's √ scale
      ctx.fillRect(Math.round(x), 12, 1, 4);
      ctx.textAlign = align;
      ctx.fillText(label, x, 17);
    };
    mark(0, '0', 'left');
    if (vmax >= 2) mark(1, '1×');
    mark(vmax, `${top > vmax ? '≥ ' : ''}${+vmax.toPrecision(3)}×`, 'right');
  }

  function drawCrosshair(ctx, x0, cw, top, bottom) {
    if (state.hover == null || !state.heatmap) return;
    const x = x0 + (state.hover + 0.5) * cw;
    ctx.strokeStyle = 'rgba(255,255,255,0.7)';
    ctx.setLineDash([3, 3]);
    ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, bottom); ctx.stroke();
    ctx.setLineDash([]);
  }

  function drawBrush(ctx, top, bottom) {
    if (!state.brush) return;
    const a = Math.min(state.brush.a, state.brush.b);
    const b = Math.max(state.brush.a, state.brush.b);
    ctx.fillStyle = 'rgba(122,162,255,0.18)';
    ctx.fillRect(a, top, b - a, bottom - top);
    ctx.strokeStyle = 'rgba(122,162,255,0.9)';
    ctx.strokeRect(a + 0.5, top + 0.5, b - a, bottom - top);
  }

  function renderSeries() {
    const canvas = $('series-canvas');
    const hm = state.heatmap;
    const empty = $('series-empty');
    const hasData = hm && hm.starts.length;
    canvas.hidden = !hasData;
    empty.hidden = !!hasData;
    if (!hasData) { empty.textContent = state.heatmapError || (state.summary ? 'No scored points in this time range.' : 'Loading…'); return; }
    const m = HEATMAP_MARGIN;
    const { ctx, width, height } = prepCanvas(canvas, 200);
    const x0 = m.left;
    const x1 = width - m.right;
    const top = 10;
    const bottom = height - 30;
    const cols = hm.scores.length;
    const cw = (x1 - x0) / cols;
    const threshold = hm.threshold || 0;
    // A log axis: quiet stretches and a peak hundreds of times the threshold
    // both stay readable.
    let low = Infinity;
    let high = threshold * 2;
    for (const v of hm.scores) { if (v > 0 && v < low) low = v; if (v > high) high = v; }
    low = Math.max(Number.isFinite(low) ? low : threshold / 10, threshold > 0 ? threshold / 30 : 1e-9);
    high = Math.max(high, low * 10) * 1.25;
    const span = Math.log(high / low);
    const y = (v) => bottom - (Math.log(Math.max(v, low) / low) / span) * (bottom - top);
    // spans
    let i = 0;
    let spans = 0;
    while (i < cols) {
      const sev = hm.severity[i];
      if (!sev) { i += 1; continue; }
      let j = i;
      while (j + 1 < cols && hm.severity[j + 1] === sev) j += 1;
      ctx.fillStyle = `${SEV_COLOR[sev]}30`;
      ctx.fillRect(x0 + i * cw, top, (j - i + 1) * cw, bottom - top);
      ctx.fillStyle = SEV_COLOR[sev];
      ctx.fillRect(x0 + i * cw, top, Math.max(1.5, (j - i + 1) * cw), 3);
      spans += 1;
      i = j + 1;
    }
    // grid and y axis
    ctx.strokeStyle = '#1f2a44';
    ctx.fillStyle = '#a3aec8';
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    let lastY = Infinity;
    for (let e = Math.floor(Math.log10(low)); e <= Math.ceil(Math.log10(high)); e += 1) {
      for (const m of [1, 2, 5]) {
        const v = m * 10 ** e;
        if (v < low || v > high || lastY - y(v) < 22) continue;
        lastY = y(v);
        ctx.beginPath(); ctx.moveTo(x0, Math.round(y(v)) + 0.5); ctx.lineTo(x1, Math.round(y(v)) + 0.5); ctx.stroke();
        ctx.fillText(v >= 1000 ? fmt.format(v) : String(+v.toPrecision(2)), x0 - 10, y(v));
      }
    }
    ctx.save();
    ctx.translate(14, (top + bottom) / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = 'center';
    ctx.fillStyle = '#7b87a6';
    ctx.fillText('score (log)', 0, 0);
    ctx.restore();
    // score area and line
    const accent = ACCENT[state.theme] || '#7aa2ff';
    ctx.beginPath();
    ctx.moveTo(x0, bottom);
    hm.scores.forEach((v, k) => ctx.lineTo(x0 + (k + 0.5) * cw, y(v)));
    ctx.lineTo(x1, bottom);
    ctx.closePath();
    const gradient = ctx.createLinearGradient(0, top, 0, bottom);
    gradient.addColorStop(0, `${accent}55`);
    gradient.addColorStop(1, `${accent}05`);
    ctx.fillStyle = gradient;
    ctx.fill();
    ctx.beginPath();
    hm.scores.forEach((v, k) => (k ? ctx.lineTo : ctx.moveTo).call(ctx, x0 + (k + 0.5) * cw, y(v)));
    ctx.strokeStyle = accent;
    ctx.lineWidth = 1.6;
    ctx.stroke();
    ctx.lineWidth = 1;
    if (threshold > 0) {
      ctx.strokeStyle = '#f2c14e';
      ctx.setLineDash([6, 4]);
      ctx.beginPath(); ctx.moveTo(x0, y(threshold)); ctx.lineTo(x1, y(threshold)); ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = '#f2c14e';
      ctx.textAlign = 'right';
      ctx.textBaseline = 'bottom';
      ctx.fillText(`threshold ${+threshold.toPrecision(3)}`, x1 - 4, y(threshold) - 3);
    }
    drawTimeAxis(ctx, x0, x1, bottom + 2, hm.starts[0], hm.ends[cols - 1]);
    drawCrosshair(ctx, x0, cw, top, bottom);
    drawBrush(ctx, top, bottom);
    $('series-sub').textContent = `Highest score per column against the threshold · ${spans} anomalous ${spans === 1 ? 'span' : 'spans'} shown`;
    canvas.setAttribute('aria-label', `Score series of ${cols} buckets with ${spans} anomalous spans; threshold ${threshold.toPrecision(3)}.`);
  }

  function timelinePoints() {
    const s = state.summary;
    const out = [];
    if (s && s.time.bucket_ms) {
      s.time.counts.forEach((counts, i) => {
        counts.forEach((n, rank) => {
          if (!n) return;
          const ratio = s.time.max_ratio[i][rank];
          out.push({ t: s.time.start + (i + 0.5) * s.time.bucket_ms, ratio: ratio ?? 1, sev: SEVERITIES[rank],
            n, from: s.time.start + i * s.time.bucket_ms, to: s.time.start + (i + 1) * s.time.bucket_ms - 1 });
        });
      });
    }
    return out;
  }

  function renderTimeline(now) {
    const canvas = $('timeline-canvas');
    const s = state.summary;
    const empty = $('timeline-empty');
    const hasData = s && (s.total > 0 || state.live.length);
    canvas.hidden = !hasData;
    empty.hidden = !!hasData;
    if (!hasData) { empty.textContent = s ? 'No anomalies match these filters.' : 'Loading…'; return; }
    const { ctx, width, height } = prepCanvas(canvas, 270);
    const m = { left: 66, right: 16, top: 12, bottom: 62 };
    const x0 = m.left;
    const x1 = width - m.right;
    const top = m.top;
    const bottom = height - m.bottom;
    const points = timelinePoints();
    const live = state.live;
    let t0 = s.time.start ?? (live[0] && live[0].t);
    let t1 = s.time.end ?? t0;
    for (const p of live) { t0 = Math.min(t0, p.t); t1 = Math.max(t1, p.t); }
    if (s.time.bucket_ms) t1 = Math.max(t1, s.time.start + s.time.counts.length * s.time.bucket_ms);
    if (t1 <= t0) { t0 -= 30000; t1 += 30000; }
    let rmax = 5;
    for (const p of points) rmax = Math.max(rmax, p.ratio);
    for (const p of live) if (p.ratio) rmax = Math.max(rmax, p.ratio);
    rmax *= 1.15;
    const lmax = Math.log(rmax);
    const x = (t) => x0 + ((t - t0) / (t1 - t0)) * (x1 - x0);
    const y = (r) => bottom - (Math.log(Math.max(1, r)) / lmax) * (bottom - top);
    // severity bands
    SEVERITIES.forEach((sev, k) => {
      const lo = SEV_BANDS[k];
      const hi = k + 1 < SEV_BANDS.length ? SEV_BANDS[k + 1] : rmax;
      ctx.fillStyle = `${SEV_COLOR[sev]}0f`;
      ctx.fillRect(x0, y(hi), x1 - x0, y(lo) - y(hi));
    });
    ctx.strokeStyle = '#1f2a44';
    ctx.fillStyle = '#a3aec8';
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    let lastY = Infinity;
    for (const v of [1, 1.5, 2.5, 4, 10, 25, 100, 250, 1000, 10000]) {
      if (v > rmax || lastY - y(v) < 16) continue;
      lastY = y(v);
      ctx.beginPath(); ctx.moveTo(x0, Math.round(y(v)) + 0.5); ctx.lineTo(x1, Math.round(y(v)) + 0.5); ctx.stroke();
      ctx.fillText(`${v}×`, x0 - 8, y(v));
    }
    // volume strip
    const stripTop = bottom + 8;
    const stripHeight = 14;
    if (s.time.bucket_ms) {
      let cmax = 1;
      for (const c of s.time.counts) cmax = Math.max(cmax, c[0] + c[1] + c[2] + c[3]);
      s.time.counts.forEach((c, i) => {
        let base = stripTop + stripHeight;
        const xa = x(s.time.start + i * s.time.bucket_ms);
        const xb = x(s.time.start + (i + 1) * s.time.bucket_ms);
        c.forEach((n, rank) => {
          if (!n) return;
          const h = (n / cmax) * stripHeight;
          ctx.fillStyle = SEV_COLOR[SEVERITIES[rank]];
          ctx.fillRect(xa, base - h, Math.max(1, xb - xa - 0.5), h);
          base -= h;
        });
      });
    }
    // dots: low first so that critical ones stay on top
    const drawn = [];
    const sorted = points.slice().sort((a, b) => RANK[a.sev] - RANK[b.sev]);
    for (const p of sorted) {
      const px = x(p.t);
      const py = y(p.ratio);
      const r = SEV_RADIUS[p.sev] * (1 + 0.12 * Math.log10(p.n));
      ctx.beginPath(); ctx.arc(px, py, r, 0, Math.PI * 2);
      ctx.fillStyle = `${SEV_COLOR[p.sev]}cc`;
      ctx.fill();
      ctx.strokeStyle = 'rgba(8,12,24,0.9)';
      ctx.stroke();
      drawn.push({ ...p, px, py, r });
    }
    for (const p of live) {
      if (p.ratio == null) continue;
      const px = x(p.t);
      const py = y(p.ratio);
      const r = SEV_RADIUS[p.sev];
      const age = (now || performance.now()) - p.born;
      if (age < 1600) {
        animating = true;
        const k = age / 1600;
        ctx.beginPath(); ctx.arc(px, py, r + 14 * k, 0, Math.PI * 2);
        ctx.strokeStyle = `${SEV_COLOR[p.sev]}${Math.round((1 - k) * 255).toString(16).padStart(2, '0')}`;
        ctx.lineWidth = 2;
        ctx.stroke();
        ctx.lineWidth = 1;
      }
      ctx.beginPath(); ctx.arc(px, py, r, 0, Math.PI * 2);
      ctx.fillStyle = SEV_COLOR[p.sev];
      ctx.fill();
      ctx.strokeStyle = '#ffffff';
      ctx.stroke();
      drawn.push({ ...p, px, py, r, n: 1, from: p.t, to: p.t, live: true });
    }
    state.timelineDots = drawn;
    drawTimeAxis(ctx, x0, x1, stripTop + stripHeight + 4, t0, t1);
    ctx.save();
    ctx.translate(12, (top + bottom) / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = 'center';
    ctx.fillStyle = '#7b87a6';
    ctx.fillText('peak score / threshold (log)', 0, 0);
    ctx.restore();
    canvas.setAttribute('aria-label', `Anomaly timeline: ${fmt.format(s.total)} anomalies from ` +
      `${isEpoch(t0) ? utc(t0) : t0} to ${isEpoch(t1) ? utc(t1) : t1}.`);
  }

  function arc(cx, cy, r, a0, a1) {
    const p = (a) => [cx + r * Math.sin(a), cy - r * Math.cos(a)];
    const [xa, ya] = p(a0);
    const [xb, yb] = p(a1);
    return `M ${xa} ${ya} A ${r} ${r} 0 ${a1 - a0 > Math.PI ? 1 : 0} 1 ${xb} ${yb}`;
  }

  function renderSeverity() {
    const s = state.summary;
    if (!s) return;
    const donut = $('severity-donut');
    donut.replaceChildren();
    donut.append(svg('circle', { cx: 60, cy: 60, r: 46, fill: 'none', stroke: '#1a2540', 'stroke-width': 16 }));
    let angle = 0;
    for (const sev of SEVERITIES) {
      const n = s.by_severity[sev] || 0;
      if (!n) continue;
      const sweep = (n / s.total) * Math.PI * 2;
      const path = n === s.total
        ? svg('circle', { cx: 60, cy: 60, r: 46, fill: 'none', stroke: SEV_COLOR[sev], 'stroke-width': 16 })
        : svg('path', { d: arc(60, 60, 46, angle, angle + sweep - 0.015), fill: 'none', stroke: SEV_COLOR[sev], 'stroke-width': 16 });
      donut.append(path);
      angle += sweep;
    }
    const total = svg('text', { x: 60, y: 62, 'text-anchor': 'middle', class: 'donut-total' });
    total.textContent = fmt.format(s.total);
    const label = svg('text', { x: 60, y: 77, 'text-anchor': 'middle', class: 'donut-label' });
    label.textContent = s.total === 1 ? 'anomaly' : 'anomalies';
    donut.append(total, label);
    donut.setAttribute('aria-label', `Severity distribution: ${SEVERITIES.map((v) => `${v} ${s.by_severity[v] || 0}`).join(', ')}`);
    const list = $('severity-list');
    const focused = document.activeElement && document.activeElement.dataset.sev;
    list.replaceChildren(...SEVERITIES.slice().reverse().map((sev) => {
      const n = s.by_severity[sev] || 0;
      const chosen = state.filters.severity.includes(sev);
      const button = el('button', { type: 'button', class: 'sev-row', 'data-sev': sev, 'aria-pressed': String(chosen),
        'aria-label': `${sev}: ${n} anomalies. ${chosen ? 'Remove from' : 'Add to'} the severity filter` },
      el('span', { class: `sev-swatch ${sev}`, 'aria-hidden': 'true' }),
      el('span', { text: sev[0].toUpperCase() + sev.slice(1) }),
      el('span', { class: 'sev-count', text: fmt.format(n) }),
      el('span', { class: 'sev-share', text: s.total ? `${((100 * n) / s.total).toFixed(1)}%` : '–' }));
      button.addEventListener('click', () => {
        const chosenNow = state.filters.severity.includes(sev);
        setFilters({ severity: chosenNow ? state.filters.severity.filter((v) => v !== sev)
          : [...state.filters.severity, sev] });
      });
      return el('li', {}, button);
    }));
    if (focused) { const again = list.querySelector(`[data-sev="${focused}"]`); if (again) again.focus(); }
  }

  function renderBars(listId, entries, { onPick = null, picked = null, label = (k) => k } = {}) {
    const list = $(listId);
    const focused = document.activeElement && list.contains(document.activeElement)
      ? document.activeElement.dataset.key : null;
    const max = Math.max(1, ...entries.map((e) => e.count));
    if (!entries.length) {
      list.replaceChildren(el('li', { class: 'empty', text: 'No anomalies match these filters.' }));
      return;
    }
    list.replaceChildren(...entries.map((e) => {
      const fill = el('span', { class: `bar-fill ${e.cls || ''}` });
      fill.style.width = `${(100 * e.count) / max}%`;
      const tag = onPick ? 'button' : 'div';
      const row = el(tag, {
        class: 'bar-row', 'data-key': e.key,
        type: onPick ? 'button' : null,
        'aria-pressed': onPick ? String(picked === e.key) : null,
        'aria-label': onPick ? `${label(e.key)}: ${e.count} anomalies. ${picked === e.key ? 'Clear' : 'Apply'} this filter` : null,
      }, el('span', { class: 'bar-name', text: label(e.key), title: label(e.key) }),
      el('span', { class: 'bar-track', 'aria-hidden': 'true' }, fill),
      el('span', { class: 'bar-count', text: fmt.format(e.count) }));
      if (onPick) row.addEventListener('click', () => onPick(e.key));
      return el('li', {}, row);
    }));
    if (focused) { const again = list.querySelector(`[data-key="${CSS.escape(focused)}"]`); if (again) again.focus(); }
  }

  function renderTypes() {
    const s = state.summary;
    if (!s) return;
    const entries = Object.entries(s.by_type).filter(([, n]) => n > 0)
      .sort((a, b) => b[1] - a[1]).map(([key, count]) => ({ key, count }));
    renderBars('types-bars', entries, {
      picked: state.filters.anomaly_type,
      label: (k) => TYPE_LABEL[k] || k,
      onPick: (k) => setFilters({ anomaly_type: state.filters.anomaly_type === k ? '' : k }),
    });
  }

  function renderFeatures() {
    const s = state.summary;
    if (!s) return;
    const entries = s.by_layer.map((e) => ({ key: e.layer ?? '(none)', count: e.count }));
    if (s.other_layers > 0) entries.push({ key: 'other features', count: s.other_layers, cls: 'other' });
    renderBars('features-bars', entries);
  }

  function modelName(id) {
    const model = state.models.get(id);
    return model ? model.name : id || '–';
  }

  const FRESH_MS = 6000;
  let freshTimer = null;

  function recordRow(r) {
    const ratio = r.metadata && r.metadata.score_ratio;
    return el('tr', { 'data-id': r.id, 'data-severity': r.severity },
      el('td', { class: 'time', text: isEpoch(r.timestamp) ? utc(r.timestamp, true) : `point ${r.timestamp}` }),
      el('td', {}, el('span', { class: `badge ${r.severity}`, text: r.severity })),
      el('td', { text: TYPE_LABEL[r.anomaly_type] || r.anomaly_type }),
      el('td', { text: r.layer ?? '–' }),
      el('td', { class: 'num', text: ratio != null ? `${ratio.toFixed(2)}×` : '–' }),
      el('td', { text: modelName(r.model_id), title: r.model_id || '' }),
      el('td', { class: 'mono', text: r.series_id || (r.location && r.location.sheet_name != null ? `sheet ${r.location.sheet_name}` : '–') }),
      el('td', { class: 'desc', text: r.description || '' }));
  }

  function renderRecent() {
    const body = $('recent-rows');
    // Rows are built once per record and kept; a live update prepends its
    // row instead of rebuilding the table.
    const wanted = state.recent.map((r) => {
      let row = state.rows.get(r.id);
      if (!row) { row = recordRow(r); state.rows.set(r.id, row); }
      return row;
    });
    const current = [...body.children];
    const added = wanted.length - current.length;
    const prepend = added >= 0 && current.every((row, i) => row === wanted[i + added]);
    if (prepend) body.prepend(...wanted.slice(0, added));
    else {
      for (const row of current.slice(wanted.length)) row.remove();
      const same = current.length >= wanted.length && wanted.every((row, i) => row === current[i]);
      if (!same) body.replaceChildren(...wanted);
    }
    if (state.rows.size > 4 * MAX_ROWS) {
      const keep = new Set(state.recent.map((r) => r.id));
      for (const id of state.rows.keys()) if (!keep.has(id)) state.rows.delete(id);
    }
    const now = performance.now();
    for (const [id, at] of state.freshIds) {
      const row = state.rows.get(id);
      const fresh = now - at < FRESH_MS;
      if (row) row.classList.toggle('fresh', fresh);
      if (!fresh) state.freshIds.delete(id);
    }
    clearTimeout(freshTimer);
    if (state.freshIds.size) freshTimer = setTimeout(() => markDirty('recent'), FRESH_MS);
    const s = state.summary;
    $('recent-empty').hidden = state.recent.length > 0;
    $('recent-empty').textContent = 'No anomalies match these filters.';
    $('load-more').hidden = !state.nextCursor;
    $('recent-sub').textContent = s ? `Newest first · ${fmt.format(state.recent.length)} of ${fmt.format(s.total)} shown` +
      (state.trimmed ? ' (the newest; reload to page further)' : '') : 'Newest first';
  }

  const RENDER = {
    kpis: renderKpis, heatmap: renderHeatmap, series: renderSeries, timeline: renderTimeline,
    severity: renderSeverity, types: renderTypes, features: renderFeatures, recent: renderRecent,
  };

  // ------------------------------------------------------------ chart interaction
  function columnAt(canvas, clientX) {
    const hm = state.heatmap;
    if (!hm || !hm.starts.length) return null;
    const rect = canvas.getBoundingClientRect();
    const x = clientX - rect.left;
    const x0 = HEATMAP_MARGIN.left;
    const x1 = rect.width - HEATMAP_MARGIN.right;
    if (x < x0 || x > x1) return null;
    return { i: Math.min(hm.starts.length - 1, Math.floor(((x - x0) / (x1 - x0)) * hm.starts.length)), x };
  }

  function showTooltip(clientX, clientY, title, rows) {
    const tip = $('tooltip');
    tip.replaceChildren(el('strong', { text: title }),
      ...rows.map(([k, v]) => el('div', { class: 'tt-row' }, el('span', { text: k }), el('b', { text: v }))));
    tip.hidden = false;
    const w = tip.offsetWidth;
    const h = tip.offsetHeight;
    tip.style.left = `${Math.min(window.innerWidth - w - 8, clientX + 14)}px`;
    tip.style.top = `${Math.max(8, clientY - h - 12)}px`;
  }

  function hideTooltip() { $('tooltip').hidden = true; }

  function bindChart(canvas) {
    canvas.addEventListener('mousemove', (event) => {
      const at = columnAt(canvas, event.clientX);
      if (state.brush) { state.brush.b = event.clientX - canvas.getBoundingClientRect().left; markDirty('heatmap', 'series'); }
      if (!at) { if (state.hover != null) { state.hover = null; markDirty('heatmap', 'series'); } hideTooltip(); return; }
      if (state.hover !== at.i) { state.hover = at.i; markDirty('heatmap', 'series'); }
      const hm = state.heatmap;
      const i = at.i;
      const when = isEpoch(hm.starts[i]) ? `${utc(hm.starts[i], true)} – ${utc(hm.ends[i], true).slice(11)}` : `points ${hm.starts[i]}–${hm.ends[i]}`;
      const rows = [['score', `${+hm.scores[i].toPrecision(4)} (${(hm.scores[i] / (hm.threshold || 1)).toFixed(2)}×)`]];
      if (hm.severity[i]) rows.push(['anomaly', hm.severity[i]]);
      const order = hm.feature_names.map((name, f) => [name, hm.intensities[f][i]]).sort((a, b) => b[1] - a[1]);
      for (const [name, v] of order.slice(0, 6)) rows.push([name, `${v.toFixed(3)}×`]);
      showTooltip(event.clientX, event.clientY, `${when} UTC`, rows);
    });
    canvas.addEventListener('mouseleave', () => { state.hover = null; hideTooltip(); markDirty('heatmap', 'series'); });
    canvas.addEventListener('mousedown', (event) => {
      const at = columnAt(canvas, event.clientX);
      if (!at || !isEpoch(state.heatmap.starts[0])) return;
      state.brush = { a: at.x, b: at.x, i: at.i, canvas };
      event.preventDefault();
    });
    window.addEventListener('mouseup', (event) => {
      const brush = state.brush;
      if (!brush || brush.canvas !== canvas) return;
      state.brush = null;
      const at = columnAt(canvas, event.clientX);
      markDirty('heatmap', 'series');
      if (!at || Math.abs(at.x - brush.a) < 6) return;
      const hm = state.heatmap;
      const a = Math.min(brush.i, at.i);
      const b = Math.max(brush.i, at.i);
      setFilters({ start: hm.starts[a], end: hm.ends[b] });
    });
    canvas.addEventListener('dblclick', () => {
      if (state.filters.start != null || state.filters.end != null) setFilters({ start: null, end: null });
    });
  }

  function bindTimeline() {
    const canvas = $('timeline-canvas');
    canvas.addEventListener('mousemove', (event) => {
      const rect = canvas.getBoundingClientRect();
      const x = event.clientX - rect.left;
      const y = event.clientY - rect.top;
      let best = null;
      let bestD = 14 * 14;
      for (const p of state.timelineDots || []) {
        const d = (p.px - x) ** 2 + (p.py - y) ** 2;
        if (d < bestD) { bestD = d; best = p; }
      }
      if (!best) { hideTooltip(); return; }
      const title = best.live ? `New ${best.sev} anomaly` : `${fmt.format(best.n)} ${best.sev} ${best.n === 1 ? 'anomaly' : 'anomalies'}`;
      const rows = [['peak', `${best.ratio.toFixed(2)}× threshold`]];
      if (isEpoch(best.from)) rows.push(['time', best.live ? utc(best.t, true) : `${utc(best.from)} – ${utc(best.to).slice(11)}`]);
      if (best.live && best.record) rows.push(['model', modelName(best.record.model_id)], ['feature', best.record.layer || '–']);
      showTooltip(event.clientX, event.clientY, title, rows);
    });
    canvas.addEventListener('mouseleave', hideTooltip);
  }

  // ------------------------------------------------------------ settings
  async function setTheme(theme, save = true) {
    if (!THEMES[theme]) theme = 'thermal';
    state.theme = theme;
    document.documentElement.dataset.theme = theme;
    $('theme').value = theme;
    markDirty('heatmap', 'series');
    if (save) {
      try { await api('/api/theme', { method: 'POST', body: { theme } }); }
      catch (exc) { failed(exc, 'Could not save the theme'); }
    }
  }

  function defaultLayout() {
    return { version: 1, panels: Object.entries(PANELS).map(([id, size]) => ({ id, size, hidden: false })) };
  }

  function normaliseLayout(layout) {
    const known = new Set(Object.keys(PANELS));
    const panels = [];
    for (const p of (layout && Array.isArray(layout.panels)) ? layout.panels : []) {
      if (p && known.has(p.id) && !panels.some((q) => q.id === p.id)) {
        panels.push({ id: p.id, size: SIZES.includes(p.size) ? p.size : PANELS[p.id], hidden: !!p.hidden });
      }
    }
    for (const [id, size] of Object.entries(PANELS)) {
      if (!panels.some((p) => p.id === id)) panels.push({ id, size, hidden: false });
    }
    return { version: 1, panels };
  }

  function applyLayout() {
    const container = $('panels');
    for (const p of state.layout.panels) {
      const node = container.querySelector(`[data-panel="${p.id}"]`);
      node.classList.remove(...SIZES);
      node.classList.add(p.size);
      node.hidden = p.hidden;
      container.append(node); // DOM order is the focus order
    }
    const list = $('panels-list');
    list.replaceChildren(...state.layout.panels.map((p) => {
      const box = el('input', { type: 'checkbox', 'data-panel': p.id });
      box.checked = !p.hidden;
      box.addEventListener('change', () => { p.hidden = !box.checked; layoutChanged(); });
      return el('label', {}, box, PANEL_TITLES[p.id]);
    }));
    markDirty(...Object.keys(RENDER), ...stale);
    stale.clear();
  }

  const saveLayout = debounce(async () => {
    try { await api('/api/layout', { method: 'POST', body: { layout: state.layout } }); }
    catch (exc) { failed(exc, 'Could not save the layout'); }
  }, 300);

  function layoutChanged() {
    applyLayout();
    saveLayout();
  }

  function panelAction(panelId, action, button) {
    const panels = state.layout.panels;
    const index = panels.findIndex((p) => p.id === panelId);
    const p = panels[index];
    if (action === 'hide') {
      p.hidden = true;
      toast(`${PANEL_TITLES[panelId]} hidden; show it again from Panels.`);
    } else if (action === 'size') {
      p.size = SIZES[(SIZES.indexOf(p.size) + 1) % SIZES.length];
    } else {
      const step = action === 'earlier' ? -1 : 1;
      let j = index + step;
      while (j >= 0 && j < panels.length && panels[j].hidden) j += step;
      if (j < 0 || j >= panels.length) return;
      [panels[index], panels[j]] = [panels[j], panels[index]];
    }
    layoutChanged();
    if (action !== 'hide') {
      const again = document.querySelector(`[data-panel="${panelId}"] [data-act="${action}"]`);
      if (again) again.focus();
    } else {
      $('panels-button').focus();
    }
  }

  // ------------------------------------------------------------ sign-in
  let loginResolve = null;

  function showLogin(message = '') {
    const dialog = $('login');
    $('login-error').textContent = message;
    if (!dialog.open) dialog.showModal();
    $('login-token').focus();
    return new Promise((resolve) => { loginResolve = resolve; });
  }

  async function submitLogin(event) {
    event.preventDefault();
    const token = $('login-token').value.trim();
    if (!token) return;
    const previous = state.token;
    state.token = token;
    try {
      await api('/api/theme');
    } catch (exc) {
      state.token = previous;
      $('login-error').textContent = exc instanceof ApiError && exc.status === 401
        ? 'This token is not valid (unknown or revoked).' : `Could not check the token: ${exc.detail || exc}`;
      $('login-token').select();
      return;
    }
    const remember = $('login-remember').checked;
    sessionStorage.setItem('fusionlab-token', token);
    if (remember) localStorage.setItem('fusionlab-token', token);
    $('login').close();
    $('login-token').value = '';
    $('sign-out').hidden = false;
    if (loginResolve) { loginResolve(); loginResolve = null; }
    if (state.started) { connect(); refresh(); }
  }

  function readToken() {
    const query = new URLSearchParams(location.search);
    const hash = new URLSearchParams(location.hash.slice(1));
    const fromUrl = query.get('token') || hash.get('token');
    if (fromUrl) {
      sessionStorage.setItem('fusionlab-token', fromUrl);
      query.delete('token');
      hash.delete('token');
      // keep the token out of the address bar, the history and screenshots
      const rest = query.toString();
      const fragment = hash.toString();
      history.replaceState(null, '', `${location.pathname}${rest ? `?${rest}` : ''}${fragment ? `#${fragment}` : ''}`);
    }
    return fromUrl || sessionStorage.getItem('fusionlab-token') || localStorage.getItem('fusionlab-token');
  }

  function signOut() {
    sessionStorage.removeItem('fusionlab-token');
    localStorage.removeItem('fusionlab-token');
    state.token = null;
    if (socket) { socket.onclose = null; socket.close(); socket = null; }
    setConn('offline', 'Signed out');
    $('sign-out').hidden = true;
    showLogin().then(() => {});
  }

  // ------------------------------------------------------------ start
  function bindControls() {
    const form = $('filters');
    const changed = debounce(() => { state.filters = readForm(); applyFilters(); }, 250);
    form.addEventListener('submit', (event) => { event.preventDefault(); state.filters = readForm(); applyFilters(); });
    form.addEventListener('change', (event) => {
      if (event.target.type === 'datetime-local' || event.target.id === 'f-series') return; // on submit or blur
      changed();
    });
    for (const id of ['f-start', 'f-end', 'f-series']) {
      $(id).addEventListener('blur', () => {
        const f = readForm();
        if (JSON.stringify(f) !== JSON.stringify(state.filters)) { state.filters = f; applyFilters(); }
      });
    }
    $('reset').addEventListener('click', () => { state.filters = emptyFilters(); writeForm(); applyFilters(); });
    $('theme').addEventListener('change', () => setTheme($('theme').value));
    $('heatmap-model').addEventListener('change', () => { state.heatmapModel = $('heatmap-model').value; loadHeatmap(); });
    $('load-more').addEventListener('click', loadMore);
    $('login-form').addEventListener('submit', submitLogin);
    $('login').addEventListener('cancel', (event) => { if (!state.token) event.preventDefault(); });
    $('sign-out').addEventListener('click', signOut);
    const menuButton = $('panels-button');
    const menu = $('panels-menu');
    const closeMenu = () => { menu.hidden = true; menuButton.setAttribute('aria-expanded', 'false'); };
    menuButton.addEventListener('click', () => {
      menu.hidden = !menu.hidden;
      menuButton.setAttribute('aria-expanded', String(!menu.hidden));
      if (!menu.hidden) { const first = menu.querySelector('input'); if (first) first.focus(); }
    });
    menu.addEventListener('keydown', (event) => { if (event.key === 'Escape') { closeMenu(); menuButton.focus(); } });
    document.addEventListener('click', (event) => {
      if (!menu.hidden && !menu.contains(event.target) && event.target !== menuButton) closeMenu();
    });
    $('layout-reset').addEventListener('click', () => { state.layout = defaultLayout(); layoutChanged(); });
    const template = $('panel-tools');
    for (const panel of document.querySelectorAll('.panel')) {
      const tools = template.content.cloneNode(true);
      const head = panel.querySelector('.panel-head');
      let holder = head.querySelector('.panel-tools');
      if (!holder) { holder = el('div', { class: 'panel-tools' }); head.append(holder); }
      holder.append(tools);
      const title = PANEL_TITLES[panel.dataset.panel];
      for (const button of holder.querySelectorAll('[data-act]')) {
        button.setAttribute('aria-label', `${button.getAttribute('aria-label')}: ${title}`);
        button.addEventListener('click', () => panelAction(panel.dataset.panel, button.dataset.act, button));
      }
    }
    bindChart($('heatmap-canvas'));
    bindChart($('series-canvas'));
    bindTimeline();
    let lastWidth = 0;
    new ResizeObserver((entries) => {
      const width = Math.round(entries[0].contentRect.width);
      if (Math.abs(width - lastWidth) < 2) return;
      lastWidth = width;
      markDirty(...Object.keys(RENDER));
    }).observe($('panels'));
    document.addEventListener('visibilitychange', () => { if (!document.hidden) requestFrame(); });
    setInterval(() => markDirty('kpis'), 30000); // "n min ago"
  }

  async function start() {
    bindControls();
    state.filters = filtersFromUrl();
    writeForm();
    state.token = readToken();
    try {
      state.health = await api('/health');
    } catch (exc) {
      setConn('offline', 'Server unreachable');
      toast(`The server does not answer: ${exc.detail || exc.message}`, 'error');
      return;
    }
    state.auth = state.health.auth || 'local';
    // /health may say "local" on a server that has not checked its tokens
    // yet; a 401 is the answer that counts.
    for (;;) {
      try {
        await api('/api/theme');
        break;
      } catch (exc) {
        if (!(exc instanceof ApiError && exc.status === 401)) throw exc;
        state.auth = 'token';
        let message = '';
        if (state.token) {
          sessionStorage.removeItem('fusionlab-token');
          localStorage.removeItem('fusionlab-token');
          state.token = null;
          message = 'The saved token is no longer valid.';
        }
        setConn('offline', 'Not signed in');
        document.body.dataset.state = 'login';
        await showLogin(message);
      }
    }
    if (state.token) state.auth = 'token';
    $('sign-out').hidden = !state.token;
    $('server-info').textContent = `fusionlab ${state.health.version} · ${state.health.database}` +
      `${state.auth === 'token' ? ' · token required' : ' · local mode'}`;
    try {
      const [theme, layout, saved] = await Promise.all([
        api('/api/theme'), api('/api/layout'), api('/api/filter'), loadModels()]);
      state.saved = saved.filter || {};
      state.layout = normaliseLayout(layout.layout);
      await setTheme(theme.theme, false);
      const keys = Object.keys(state.saved);
      $('saved-filter').hidden = !keys.length;
      $('saved-filter').textContent = keys.length
        ? `A filter saved for this token also applies (${keys.join(', ')}); clear it with the client's clear_filter().` : '';
    } catch (exc) {
      failed(exc, 'Could not load the settings');
      state.layout = defaultLayout();
    }
    writeForm();
    applyLayout();
    state.started = true;
    connect();
    await refresh();
  }

  // For tests and the curious: the page's state, read-only by convention.
  window.fusionlabDashboard = { state, stats };
  document.addEventListener('DOMContentLoaded', () => {
    start().catch((exc) => { toast(`The dashboard could not start: ${exc.message || exc}`, 'error'); });
  });
})();
