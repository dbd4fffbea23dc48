// Lockstep dashboard (docs/coordinator.md, "Dashboard"). Plain browser JavaScript, no
// dependencies: it reads the coordinator's JSON API with the bearer token the user signed
// in with (kept in this tab's sessionStorage), so it shows exactly what that token may
// see. Every value from the API is inserted as text, never as markup. The visible view
// reloads every two seconds while it is open, so a settlement is seen moving.
'use strict';

const REFRESH_MS = 2000;
const PAGE = 20;
const $ = (id) => document.getElementById(id);

/** An element with attributes (`on*` are listeners) and children (nodes or text). */
function h(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const k of kids.flat()) {
    if (k === undefined || k === null || k === false) continue;
    e.append(k instanceof Node ? k : String(k));
  }
  return e;
}
const badge = (text) => h('span', { class: `badge ${text}` }, text);
const link = (href, text) => h('a', { href }, text);
const table = (id, head, rows) =>
  h('table', { id }, h('thead', {}, h('tr', {}, head.map((c) => h('th', {}, c)))),
    h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: head.length, class: 'muted' }, 'none'))));
const row = (...cells) => h('tr', {}, cells.map((c) => (c instanceof Node && c.tagName === 'TD' ? c : h('td', {}, c))));
const mono = (text) => h('td', { class: 'mono' }, text ?? '-');

const session = {
  get token() { return sessionStorage.getItem('lockstep.token'); },
  get role() { return sessionStorage.getItem('lockstep.role'); },
  set(token, role) { sessionStorage.setItem('lockstep.token', token); sessionStorage.setItem('lockstep.role', role); },
  clear() { sessionStorage.removeItem('lockstep.token'); sessionStorage.removeItem('lockstep.role'); },
};

class Unauthorised extends Error {}

/** Calls the API with the session's token: `{status, data}`; a 401 signs out. */
async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${session.token}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  try { data = await r.json(); } catch (_) { data = null; }
  if (r.status === 401) {
    signOut('The coordinator refused the token (401).');
    throw new Unauthorised();
  }
  return { status: r.status, data };
}

// ---- session ------------------------------------------------------------------------

async function signIn(event) {
  event.preventDefault();
  const token = $('token').value.trim();
  session.set(token, '');
  $('sign-in-error').textContent = '';
  const r = await fetch('/v1/operator/settlement-counts', { headers: { Authorization: `Bearer ${token}` } });
  if (r.status === 200 || r.status === 403) {
    session.set(token, r.status === 200 ? 'operator' : 'platform');
    $('token').value = '';
    location.hash = '#/settlements';
    start();
  } else {
    session.clear();
    $('sign-in-error').textContent = r.status === 401 ? 'That token is not valid.' : `Sign-in failed (HTTP ${r.status}).`;
  }
}

function signOut(message) {
  session.clear();
  current = null;
  clearTimeout(timer);
  $('view').replaceChildren();
  $('nav').hidden = true;
  $('sign-in').hidden = false;
  $('sign-in-error').textContent = typeof message === 'string' ? message : '';
}

// ---- views --------------------------------------------------------------------------

let current = null;
let timer = null;

/** Shows a view: `mount` builds it once, `load` (re)fills it now and every REFRESH_MS. */
async function show(view) {
  clearTimeout(timer);
  current = view;
  $('view').replaceChildren(view.mount());
  await refresh(view);
}

async function refresh(view) {
  if (current !== view) return;
  try {
    await view.load();
  } catch (e) {
    if (e instanceof Unauthorised) return;
    view.error?.(String(e));
  }
  if (current === view && view.live) timer = setTimeout(() => refresh(view), REFRESH_MS);
}

function listView(params) {
  const box = h('div', { id: 'list' });
  const offset = Number(params.get('offset') || 0);
  const filters = ['state', 'template', 'platform_id'];
  return {
    live: true,
    mount() {
      const form = h('form', { class: 'filters', id: 'filters', onsubmit: (e) => {
        e.preventDefault();
        const q = new URLSearchParams();
        for (const f of filters) { const v = form.elements[f]?.value.trim(); if (v) q.set(f, v); }
        location.hash = `#/settlements?${q}`;
      } },
      h('label', {}, 'State', h('select', { name: 'state' }, ['', 'INSTRUCTED', 'COMPLIANCE_CHECKING', 'COMPLIANCE_CLEARED', 'AWAITING_DEPOSITS',
        'EXECUTING_SWAP', 'FINALIZED', 'ROLLED_BACK', 'TIMED_OUT'].map((s) => h('option', { value: s, selected: params.get('state') === s }, s || 'any')))),
      h('label', {}, 'Template', h('input', { name: 'template', value: params.get('template') || '', placeholder: 'cross-chain-dvp' })),
      session.role === 'operator' && h('label', {}, 'Platform', h('input', { name: 'platform_id', value: params.get('platform_id') || '', placeholder: 'plt_...' })),
      h('button', { type: 'submit' }, 'Filter'));
      return h('div', {}, h('h1', {}, 'Settlements'), form, box);
    },
    async load() {
      const q = new URLSearchParams({ limit: PAGE, offset });
      for (const f of filters) if (params.get(f)) q.set(f, params.get(f));
      const { status, data } = await api('GET', `/v1/settlements?${q}`);
      if (status !== 200) { box.replaceChildren(h('p', { class: 'error' }, data?.detail || `HTTP ${status}`)); return; }
      const rows = data.items.map((s) => row(
        h('td', { class: 'mono' }, link(`#/settlement/${s.id}`, s.id)), mono(s.trade_reference), s.settlement_type,
        badge(s.state), s.parties.map((p) => `${p.role}: ${p.platform_id}`).join(', '), s.updated_at));
      const page = (o) => { const p = new URLSearchParams(params); p.set('offset', o); return `#/settlements?${p}`; };
      box.replaceChildren(
        table('settlements-table', ['Settlement', 'Trade reference', 'Template', 'State', 'Parties', 'Updated'], rows),
        h('div', { class: 'pager' }, `${data.total} in all, showing ${data.total ? offset + 1 : 0}–${offset + data.items.length}`,
          offset > 0 && link(page(Math.max(0, offset - PAGE)), '← newer'),
          offset + data.items.length < data.total && link(page(offset + PAGE), 'older →')));
    },
    error(m) { box.replaceChildren(h('p', { class: 'error' }, m)); },
  };
}

function settlementView(id) {
  const box = h('div', { id: 'settlement' });
  let bundle = null;
  const verifyResult = h('div', { id: 'verify-result', role: 'status' });
  return {
    live: true,
    mount() { return box; },
    async load() {
      const s = await api('GET', `/v1/settlements/${encodeURIComponent(id)}`);
      if (s.status === 404) {
        this.live = false;
        box.replaceChildren(h('h1', {}, 'Not found'), h('p', { id: 'not-found' }, 'No such settlement, or this token may not see it.'));
        return;
      }
      if (s.status !== 200) throw new Error(s.data?.detail || `HTTP ${s.status}`);
      const [events, deliveries, evidence] = await Promise.all([
        api('GET', `/v1/settlements/${encodeURIComponent(id)}/events`),
        api('GET', `/v1/settlements/${encodeURIComponent(id)}/webhook-deliveries`),
        api('GET', `/v1/settlements/${encodeURIComponent(id)}/evidence`),
      ]);
      bundle = evidence.data?.bundle ?? null;
      const v = s.data;
      if (['FINALIZED', 'ROLLED_BACK', 'TIMED_OUT'].includes(v.state) && bundle) this.live = false;
      box.replaceChildren(
        h('h1', {}, 'Settlement ', h('span', { class: 'mono' }, v.id), ' ', h('span', { id: 'settlement-state' }, badge(v.state))),
        h('div', { class: 'grid' },
          h('div', { class: 'card' }, h('dl', {},
            h('dt', {}, 'Trade reference'), h('dd', { class: 'mono' }, v.trade_reference),
            h('dt', {}, 'Template'), h('dd', {}, v.settlement_type),
            h('dt', {}, 'Deadline'), h('dd', {}, v.timeout_at),
            h('dt', {}, 'Created'), h('dd', {}, v.created_at),
            h('dt', {}, 'Decision ref'), h('dd', { class: 'mono' }, v.decision_ref ?? '-'))),
          h('div', { class: 'card' }, h('h2', {}, 'Parties'),
            table('parties', ['Role', 'Platform', 'Instruction'], v.parties.map((p) => row(p.role, mono(p.platform_id), mono(p.instruction_id)))))),
        h('h2', {}, 'Legs by chain'), legs(v, bundle),
        h('h2', {}, 'Deposits'),
        table('deposits', ['Chain', 'Leg', 'Depositor', 'Amount', 'When', 'Transaction'], (v.deposits || []).map((d) =>
          row(d.chain_id, d.leg_index, mono(d.depositor), d.amount, new Date(d.block_timestamp * 1000).toISOString(),
            mono(`${d.tx_hash} (block ${d.block_number})`)))),
        h('h2', {}, 'Timeline'), timeline(events.data?.items || []),
        h('h2', {}, 'Webhook deliveries'), webhookTable(deliveries.data?.items || []),
        h('h2', {}, 'Owed legs and claims'),
        table('owed', ['Chain', 'Leg', 'Beneficiary', 'Token', 'Amount', 'Kind'], (v.owed || []).map((o) =>
          row(o.chain_id, o.leg_index, mono(o.beneficiary), mono(o.token), o.amount, o.refund ? 'refund' : 'payout'))),
        h('h2', {}, 'Evidence'), evidenceCard(v, bundle, verifyResult));
    },
    error(m) { box.prepend(h('p', { class: 'error' }, m)); },
  };
}

/** The terms' legs grouped by endpoint id, with each leg's anchor once final. */
function legs(v, bundle) {
  const terms = v.terms;
  if (!terms) return h('p', { class: 'muted' }, 'Not cleared yet: no terms.');
  const facts = bundle?.facts?.legs || [];
  const rows = terms.legs.map((l, i) => {
    const f = facts.find((x) => x.leg_index === i);
    return row(`${l.eid}${l.eid === terms.hub_eid ? ' (hub)' : ''}`, i, mono(l.token), l.amount,
      mono(l.depositor !== '0x0000000000000000000000000000000000000000' ? l.depositor : `key ${l.deposit_key}`),
      mono(l.recipient), f ? `${f.outcome} tx ${f.anchor.tx_hash} block ${f.anchor.block_number}` : '-');
  }).sort((a, b) => a.firstChild.textContent.localeCompare(b.firstChild.textContent));
  return table('legs', ['Chain (eid)', 'Leg', 'Token', 'Amount', 'Deposited by', 'Paid to', 'Outcome on chain'], rows);
}

function timeline(items) {
  return h('ol', { class: 'timeline', id: 'timeline' }, items.map((e) =>
    h('li', {}, h('strong', {}, e.to_state), ' ', h('span', { class: 'muted' }, e.at), h('div', {}, e.cause))));
}

function webhookTable(items) {
  const rows = items.map((d) => {
    const last = d.attempt_log[d.attempt_log.length - 1];
    const redeliver = session.role === 'platform' && d.status !== 'delivered'
      ? h('button', { class: 'secondary', type: 'button', onclick: async () => { await api('POST', `/v1/webhook-deliveries/${d.id}/redeliver`); } }, 'Redeliver')
      : null;
    return row(mono(d.platform_id), d.event, badge(d.status), d.attempts,
      last ? `${last.status_code ?? last.error ?? '-'} at ${last.at}` : '-', redeliver);
  });
  return table('webhook-deliveries', ['Platform', 'Event', 'Status', 'Attempts', 'Last attempt', ''], rows);
}

function evidenceCard(v, bundle, result) {
  if (!bundle) return h('p', { class: 'muted', id: 'evidence' }, 'The receipt-anchored bundle exists once the settlement is final on chain.');
  const button = h('button', { id: 'verify-button', type: 'button', onclick: async () => {
    result.replaceChildren(h('span', { class: 'muted' }, 'verifying…'));
    result.replaceChildren(await verify(bundle));
  } }, 'Verify bundle');
  return h('div', { class: 'card', id: 'evidence' },
    h('dl', {},
      h('dt', {}, 'Decision ref'), h('dd', { class: 'mono' }, bundle.decision?.decision_ref),
      h('dt', {}, 'Audit chain cap'), h('dd', { class: 'mono' }, bundle.audit_chain?.cap),
      ...(bundle.legs || []).flatMap((l) => [h('dt', {}, `Leg ${l.leg_index}`), h('dd', { class: 'mono' }, l.execution_ref)])),
    h('p', {}, button), result);
}

/** Asks the coordinator to verify `bundle`; the plain verdict with its details. */
async function verify(bundle) {
  const { status, data } = await api('POST', '/v1/evidence/verify', { bundle });
  if (status !== 200) return h('p', { class: 'verdict failed' }, `Not a bundle: ${data?.detail || `HTTP ${status}`}`);
  const word = data.passed ? 'passed' : 'failed';
  return h('div', {},
    h('p', { class: `verdict ${word}` }, data.passed ? 'PASSED: the bundle is genuine' : 'FAILED: the bundle does not verify'),
    h('dl', {},
      h('dt', {}, 'Offline (every ref recomputed)'), h('dd', {}, `${data.offline.passed ? 'passed' : 'failed'}: ${data.offline.detail}`),
      h('dt', {}, 'Against the chains'), h('dd', {}, data.chains ? `${data.chains.passed ? 'passed' : 'failed'}: ${data.chains.detail}` : 'not checked')));
}

function verifyView() {
  const input = h('textarea', { id: 'bundle-input', placeholder: 'Paste an evidence bundle (JSON)' });
  const result = h('div', { id: 'verify-result', role: 'status' });
  return {
    live: false,
    mount() {
      return h('div', {}, h('h1', {}, 'Verify an evidence bundle'), input,
        h('p', {}, h('button', { id: 'verify-pasted', type: 'button', onclick: async () => {
          let bundle;
          try { bundle = JSON.parse(input.value); } catch (e) { result.replaceChildren(h('p', { class: 'verdict failed' }, `Not JSON: ${e.message}`)); return; }
          result.replaceChildren(await verify(bundle));
        } }, 'Verify')), result);
    },
    async load() {},
  };
}

function operatorView() {
  const box = h('div', { id: 'operator' });
  return {
    live: true,
    mount() { return h('div', {}, h('h1', {}, 'Operator'), box); },
    async load() {
      const [counts, stuck, packets, verifiers] = await Promise.all([
        api('GET', '/v1/operator/settlement-counts'),
        api('GET', '/v1/operator/stuck-settlements'),
        api('GET', '/v1/operator/packets?limit=50'),
        api('GET', '/v1/operator/verifiers'),
      ]);
      if (counts.status === 403) { box.replaceChildren(h('p', { class: 'error' }, 'Operator tokens only.')); this.live = false; return; }
      const c = counts.data?.counts || {};
      const byStatus = {};
      for (const p of packets.data?.items || []) byStatus[p.status] = (byStatus[p.status] || 0) + 1;
      const retry = (path) => h('button', { class: 'secondary', type: 'button', onclick: async () => { await api('POST', path); refresh(current); } }, 'Retry now');
      box.replaceChildren(
        h('h2', {}, 'Settlements by state'),
        table('counts', Object.keys(c), [row(...Object.values(c))]),
        h('h2', {}, 'Stuck settlements'),
        table('stuck', ['Settlement', 'State', 'Since', 'Stuck packets', ''], (stuck.data?.items || []).map((s) =>
          row(h('td', { class: 'mono' }, link(`#/settlement/${s.settlement.id}`, s.settlement.id)), badge(s.settlement.state),
            s.settlement.updated_at, s.stuck_packets.length, retry(`/v1/operator/settlements/${s.settlement.id}/retry`)))),
        h('h2', {}, 'Independent verifiers (DVN)'),
        table('verifiers', ['Verifier', 'Health', 'Chains'], (verifiers.data?.items || []).map((v) =>
          row(mono(v.url), badge(v.healthy ? 'healthy' : 'unhealthy'),
            typeof v.detail === 'object' && v.detail?.chains ? JSON.stringify(v.detail.chains) : String(v.detail ?? '-')))),
        h('h2', {}, 'LayerZero packets'),
        h('p', { class: 'muted', id: 'packet-counts' }, Object.entries(byStatus).map(([k, n]) => `${k}: ${n}`).join(', ') || 'no packets'),
        table('packets', ['GUID', 'Path', 'Nonce', 'Kind', 'Status', 'Attempts', 'Last error', ''], (packets.data?.items || []).map((p) =>
          row(mono(p.guid), `${p.path?.src_eid} → ${p.path?.dst_eid}`, p.nonce, p.message_kind ?? '-', badge(p.status), p.attempts,
            p.last_error ?? '-', p.status === 'delivered' ? null : retry(`/v1/operator/packets/${p.guid}/retry`)))));
    },
    error(m) { box.replaceChildren(h('p', { class: 'error' }, m)); },
  };
}

// ---- routing ------------------------------------------------------------------------

function route() {
  if (!session.token || !session.role) { signOut(); return; }
  const [path, qs] = location.hash.slice(1).split('?');
  const parts = path.split('/').filter(Boolean);
  const params = new URLSearchParams(qs || '');
  if (parts[0] === 'settlement' && parts[1]) show(settlementView(decodeURIComponent(parts[1])));
  else if (parts[0] === 'operator') show(operatorView());
  else if (parts[0] === 'verify') show(verifyView());
  else show(listView(params));
}

function start() {
  $('sign-in').hidden = true;
  $('nav').hidden = false;
  $('nav-operator').hidden = session.role !== 'operator';
  $('who').textContent = session.role === 'operator' ? 'signed in: operator' : 'signed in: platform';
  route();
}

document.addEventListener('DOMContentLoaded', () => {
  $('sign-in-form').addEventListener('submit', signIn);
  $('sign-out').addEventListener('click', () => signOut('Signed out.'));
  window.addEventListener('hashchange', () => { if (session.token && session.role) route(); });
  if (session.token && session.role) start(); else signOut();
});
