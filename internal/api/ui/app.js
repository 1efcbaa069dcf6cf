// The bras status page: reads the daemon's HTTP API (/api/v1) with the
// operator's bearer token and redraws every few seconds. No framework, no
// outside resources; every value is put in the page as text, never as HTML.
'use strict';

(() => {
  const TOKEN_KEY = 'bras.api.token';
  const PAGE = 200; // sessions per page
  const SETUP_MINUTES = 10;
  const $ = (id) => document.getElementById(id);

  let timer = 0;
  let loop = 0; // bumped to stop an older refresh loop
  let offset = 0;
  let search = null; // {field, value}
  let prev = new Map(); // session id -> {t, inO, outO}: the last poll's counters

  class AuthError extends Error {}

  // api fetches a path of the API with the token, when there is one. A 401
  // is an AuthError carrying the server's reason.
  async function api(path, opts = {}) {
    const headers = { Accept: 'application/json' };
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = 'Bearer ' + token;
    const r = await fetch(path, { ...opts, headers, cache: 'no-store', credentials: 'omit' });
    if (r.status === 401) throw new AuthError(await reason(r));
    return r;
  }

  async function reason(r) {
    try {
      const b = await r.json();
      if (b && b.error) return b.error;
    } catch (_) { /* not JSON */ }
    return r.status + ' ' + r.statusText;
  }

  // get returns the decoded JSON and the response, or null for a 404 (an
  // endpoint this daemon does not have).
  async function get(path) {
    const r = await api(path);
    if (r.status === 404) return null;
    if (!r.ok) throw new Error(path + ': ' + await reason(r));
    return { body: await r.json(), resp: r };
  }

  // el builds an element: attributes (class, dataset, title...) and
  // children, strings becoming text nodes.
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v;
      else if (k === 'dataset') Object.assign(e.dataset, v);
      else e.setAttribute(k, v);
    }
    for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(k == null ? '' : String(k)));
    return e;
  }
  const td = (v, cls) => el('td', cls ? { class: cls } : null, v);
  const num = (v) => td(v, 'num');

  function fill(tbody, rows, empty, cols) {
    tbody.replaceChildren(...rows);
    if (rows.length === 0) tbody.append(el('tr', null, el('td', { colspan: cols, class: 'muted' }, empty)));
  }

  function fmtRate(bps) {
    if (bps == null) return '–';
    const u = ['bit/s', 'kbit/s', 'Mbit/s', 'Gbit/s'];
    let i = 0;
    while (bps >= 1000 && i < u.length - 1) { bps /= 1000; i++; }
    return (i === 0 ? Math.round(bps) : bps.toFixed(bps < 10 ? 2 : 1)) + ' ' + u[i];
  }

  function fmtBytes(n) {
    const u = ['B', 'kB', 'MB', 'GB', 'TB'];
    let i = 0;
    while (n >= 1000 && i < u.length - 1) { n /= 1000; i++; }
    return (i === 0 ? n : n.toFixed(n < 10 ? 2 : 1)) + ' ' + u[i];
  }

  function fmtAge(since) {
    if (!since || since.startsWith('0001-')) return '';
    let s = Math.max(0, Math.floor((Date.now() - Date.parse(since)) / 1000));
    const d = Math.floor(s / 86400); s -= d * 86400;
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    const p = (x) => String(x).padStart(2, '0');
    if (d > 0) return d + 'd ' + p(h) + 'h';
    if (h > 0) return h + 'h ' + p(m) + 'm';
    return m + 'm ' + p(s) + 's';
  }

  const escapeRe = (s) => s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');

  // searchParam turns the search box into the API's filter: a part of a
  // name is an unanchored, case-blind regular expression (user~=...), a
  // MAC is matched in its canonical form, an address or prefix exactly.
  function searchParam(q) {
    if (!search) return;
    const v = search.value;
    switch (search.field) {
      case 'ip': q.set('ip', v); break;
      case 'mac': q.set('mac~', escapeRe(v.toLowerCase().replace(/-/g, ':'))); break;
      default: q.set(search.field + '~', '(?i)' + escapeRe(v));
    }
  }

  function badge(state) {
    const cls = state === 'up' || state === 'established' ? 'up' : state === 'down' ? 'down' : 'other';
    return el('span', { class: 'badge ' + cls }, state);
  }

  async function refreshSessions() {
    const q = new URLSearchParams({ sort: 'user', offset: String(offset), limit: String(PAGE) });
    searchParam(q);
    const r = await api('/api/v1/sessions?' + q);
    const err = $('search-error');
    if (r.status === 400) {
      err.textContent = await reason(r);
      err.hidden = false;
      return;
    }
    if (!r.ok) throw new Error('sessions: ' + await reason(r));
    err.hidden = true;
    const ss = await r.json();
    const total = Number(r.headers.get('X-Total-Count') || ss.length);
    const t = performance.now();
    const next = new Map();
    const rows = ss.map((s) => {
      const p = prev.get(s.id);
      let down = null, up = null;
      if (p && t > p.t && s.out_octets >= p.outO && s.in_octets >= p.inO) {
        const dt = (t - p.t) / 1000;
        down = (s.out_octets - p.outO) * 8 / dt;
        up = (s.in_octets - p.inO) * 8 / dt;
      }
      next.set(s.id, { t, inO: s.in_octets, outO: s.out_octets });
      const addr = [s.addr && s.addr !== 'invalid IP' ? s.addr : '', s.delegated_prefix || s.ipv6_prefix || ''].filter(Boolean).join(' ');
      const btn = el('button', { type: 'button', class: 'disconnect', title: 'end this session (Admin-Reset)', dataset: { id: s.id, user: s.user } }, 'disconnect');
      return el('tr', { dataset: { id: s.id, user: s.user } },
        td(s.user), td(badge(s.state)), td(addr), td(s.mac || ''), td(s.circuit_id || ''), td(s.lac || s.lac_addr || ''),
        num(s.tunnel_id + '/' + s.session_id), td(fmtAge(s.started)),
        num(fmtRate(down)), num(fmtRate(up)), num(fmtBytes(s.in_octets)), num(fmtBytes(s.out_octets)), td(btn));
    });
    prev = next;
    fill($('sessions').tBodies[0], rows, search ? 'no session matches' : 'no sessions', 13);
    const shown = ss.length ? (offset + 1) + '–' + (offset + ss.length) + ' of ' : '';
    $('session-count').textContent = shown + total + (search ? ' matching' : '');
    $('page-prev').disabled = offset === 0;
    $('page-next').disabled = offset + ss.length >= total;
    return total;
  }

  async function refreshTunnels() {
    const r = await get('/api/v1/tunnels');
    const ts = r ? r.body : [];
    fill($('tunnels').tBodies[0], ts.map((t) => el('tr', null,
      num(t.local_id), num(t.peer_id), td(t.peer), td(t.host_name), td(badge(t.state)), num(t.sessions), td(fmtAge(t.established)))),
    'no tunnels', 7);
    return ts.length;
  }

  async function refreshPools() {
    const r = await get('/api/v1/pools');
    $('pools-note').hidden = !!r;
    $('pools-note').textContent = r ? '' : 'this daemon has no address pools';
    const ps = r ? r.body : [];
    fill($('pools').tBodies[0], ps.map((p) => {
      const pct = p.size > 0 ? 100 * p.used / p.size : 0;
      const bar = el('span', { class: 'bar' + (pct >= 95 ? ' full' : pct >= 80 ? ' high' : '') }, el('span'));
      bar.firstChild.style.width = Math.min(100, pct).toFixed(1) + '%';
      const name = p.name + (p.shared ? ' (shared)' : '');
      return el('tr', { dataset: { pool: p.name } }, td(name), td(p.family + (p.length ? ' /' + p.length : '')),
        num(p.size), num(p.used), num(p.free), td(el('span', null, bar, pct.toFixed(1) + ' %')));
    }), r ? 'no pools' : '', 6);
  }

  async function refreshRadius() {
    const r = await get('/api/v1/radius');
    $('radius-note').hidden = !!r;
    $('radius-note').textContent = r ? '' : 'this daemon uses no RADIUS servers';
    const ss = r ? r.body : [];
    fill($('radius').tBodies[0], ss.map((s) => {
      const state = s.up ? badge('up') : el('span', { title: 'held down until ' + s.dead_until }, badge('down'),
        ' until ' + new Date(s.dead_until).toLocaleTimeString());
      return el('tr', { dataset: { server: s.addr, kind: s.kind } }, td(s.addr), td(s.kind), td(state),
        num(s.last_answer ? s.last_latency_ms.toFixed(1) + ' ms' : '–'), num(s.accepts), num(s.rejects), num(s.timeouts));
    }), r ? 'no servers' : '', 7);
  }

  const SVG = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text != null) e.textContent = text;
    return e;
  }

  // drawSetups draws the buckets as stacked bars, one slot per 10 s, the
  // bucket in progress at the right.
  function drawSetups(h) {
    const slots = h.minutes * 60 / h.bucket_seconds;
    const W = 600, H = 110, top = 12, bottom = 14, left = 28;
    const bw = (W - left) / slots;
    const last = h.buckets.length ? Date.parse(h.buckets[h.buckets.length - 1].start) : 0;
    const peak = Math.max(1, ...h.buckets.map((b) => b.up + b.failed));
    const scale = (H - top - bottom) / peak;
    const g = svg('svg', { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': 'session set-ups per 10 s' });
    g.append(svg('line', { x1: left, y1: H - bottom, x2: W, y2: H - bottom }), svg('line', { x1: left, y1: top, x2: W, y2: top }));
    g.append(svg('text', { x: 0, y: top + 4 }, String(peak)), svg('text', { x: 0, y: H - bottom }, '0'));
    g.append(svg('text', { x: left, y: H - 2 }, '-' + h.minutes + ' min'), svg('text', { x: W - 24, y: H - 2 }, 'now'));
    for (const b of h.buckets) {
      const i = slots - 1 - Math.round((last - Date.parse(b.start)) / (h.bucket_seconds * 1000));
      if (i < 0) continue;
      const x = left + i * bw;
      const hu = b.up * scale, hf = b.failed * scale;
      const tip = new Date(b.start).toLocaleTimeString() + ': ' + b.up + ' up, ' + b.failed + ' failed';
      if (b.up) g.append(svg('rect', { class: 'up', x, y: H - bottom - hu, width: Math.max(1, bw - 1), height: hu }));
      if (b.failed) g.append(svg('rect', { class: 'failed', x, y: H - bottom - hu - hf, width: Math.max(1, bw - 1), height: hf }));
      const hit = svg('rect', { x, y: top, width: bw, height: H - top - bottom, fill: 'transparent' });
      hit.append(svg('title', {}, tip));
      g.append(hit);
    }
    $('setup-chart').replaceChildren(g);
  }

  async function refreshSetups() {
    const r = await get('/api/v1/setups?minutes=' + SETUP_MINUTES);
    if (!r) {
      $('setup-summary').textContent = 'this daemon keeps no set-up history';
      $('setup-chart').replaceChildren();
      return;
    }
    const h = r.body;
    $('setup-minutes').textContent = h.minutes;
    const cur = h.buckets.length > 1 ? h.buckets[h.buckets.length - 2] : { up: 0, failed: 0 };
    const b = (v) => el('b', null, v);
    $('setup-summary').replaceChildren(b(h.up), ' up, ', b(h.failed), ' failed',
      el('span', { class: 'muted' }, ' · last full 10 s: ' + cur.up + ' up (' + (cur.up / h.bucket_seconds).toFixed(1) + '/s), ' + cur.failed + ' failed'));
    drawSetups(h);
  }

  let versionShown = false;
  async function refreshVersion() {
    if (versionShown) return;
    const r = await get('/api/v1/version');
    if (!r) return;
    const v = r.body;
    $('version').textContent = v.version + (v.commit ? ' ' + v.commit.slice(0, 12) : '') + (v.modified ? '+' : '');
    versionShown = true;
  }

  async function refresh() {
    clearTimeout(timer);
    const mine = ++loop;
    try {
      const [total, tunnels] = await Promise.all([refreshSessions(), refreshTunnels(), refreshPools(), refreshRadius(), refreshSetups(), refreshVersion()]);
      showDash();
      $('status').textContent = 'updated ' + new Date().toLocaleTimeString() + ' · ' + total + ' sessions · ' + tunnels + ' tunnels';
    } catch (e) {
      if (e instanceof AuthError) {
        showLogin(e.message);
        return;
      }
      $('status').textContent = 'error: ' + e.message;
    }
    const every = Number($('interval').value);
    if (every > 0 && mine === loop) timer = setTimeout(refresh, every);
  }

  function showDash() {
    $('login').hidden = true;
    $('dash').hidden = false;
    $('signout').hidden = false;
  }

  function showLogin(msg) {
    clearTimeout(timer);
    loop++;
    sessionStorage.removeItem(TOKEN_KEY);
    prev = new Map();
    $('dash').hidden = true;
    $('signout').hidden = true;
    $('login').hidden = false;
    $('status').textContent = 'not signed in';
    $('auth-error').textContent = msg ? 'The API answered 401: ' + msg : '';
    $('auth-error').hidden = !msg;
    $('token-input').focus();
  }

  $('token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $('token-input').value.trim());
    $('token-input').value = '';
    refresh();
  });
  $('signout').addEventListener('click', () => showLogin(''));
  $('interval').addEventListener('change', refresh);
  $('search-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = $('search-text').value.trim();
    search = v ? { field: $('search-field').value, value: v } : null;
    offset = 0;
    refresh();
  });
  $('search-clear').addEventListener('click', () => {
    $('search-text').value = '';
    search = null;
    offset = 0;
    refresh();
  });
  $('page-prev').addEventListener('click', () => { offset = Math.max(0, offset - PAGE); refresh(); });
  $('page-next').addEventListener('click', () => { offset += PAGE; refresh(); });
  $('sessions').addEventListener('click', async (ev) => {
    const btn = ev.target.closest('button.disconnect');
    if (!btn) return;
    const { id, user } = btn.dataset;
    if (!window.confirm('Disconnect ' + user + ' (session ' + id + ')? The subscriber is cut off (Admin-Reset).')) return;
    btn.disabled = true;
    try {
      const r = await api('/api/v1/sessions/' + encodeURIComponent(id), { method: 'DELETE' });
      $('status').textContent = r.status === 204 ? 'disconnected ' + user : r.status === 404 ? user + ' had already gone' : 'disconnect ' + user + ': ' + await reason(r);
    } catch (e) {
      if (e instanceof AuthError) { showLogin(e.message); return; }
      $('status').textContent = 'disconnect ' + user + ': ' + e.message;
    }
    refresh();
  });

  // The first request goes out even without a token: the API's 401 is
  // what brings up the token form.
  refresh();
})();
