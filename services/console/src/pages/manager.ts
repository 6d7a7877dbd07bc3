// Manager view: SLA summary per district and department (MTTA, MTTR, breach rate, overdue now), a
// chart over time and the overdue cases, refreshed every 15 s. Reads GET /api/v1/sla/summary
// (issue C) tolerantly; while that endpoint does not exist (404) it says so plainly. Below, the
// outcome figures of the account's scope (issue K, ./figures.ts).
import { ApiError, api, TERMINAL, type Case, type Item } from '../api';
import { clear, h, icon, statusBadge, tx } from '../dom';
import { dateTime, duration, percent } from '../format';
import { nm, t, type Key, type Names } from '../i18n';
import * as reg from '../registry';
import type { Page } from '../router';
import { LiveChannel } from '../ws';
import { errorState, loadingState } from './common';
import { figuresPanel } from './figures';
import { managerChannel } from '../session';

const REFRESH_MS = 15_000;
type Row = Record<string, unknown>;

const isObj = (v: unknown): v is Row => !!v && typeof v === 'object' && !Array.isArray(v);
const rows = (v: unknown): Row[] => (Array.isArray(v) ? v.filter(isObj) : isObj(v) ? Object.entries(v).map(([code, r]) => (isObj(r) ? { code, ...r } : { code, value: r })) : []);

function pick(o: Row, ...keys: string[]): unknown {
  for (const k of keys) if (o[k] !== undefined && o[k] !== null) return o[k];
  return undefined;
}

/** A duration field: `<name>_ms`, `<name>_seconds`/`_secs`/`_s`, or `<name>` in seconds / ISO 8601. */
function durationMs(o: Row, name: string): number | undefined {
  const ms = pick(o, `${name}_ms`, `${name}_millis`);
  if (typeof ms === 'number') return ms;
  const s = pick(o, `${name}_seconds`, `${name}_secs`, `${name}_s`, name);
  if (typeof s === 'number') return s * 1000;
  if (typeof s === 'string') {
    const m = /^PT(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?$/.exec(s);
    if (m) return ((Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * 60 + Number(m[3] ?? 0)) * 1000;
  }
  return undefined;
}

function numberOf(o: Row, ...keys: string[]): number | undefined {
  const v = pick(o, ...keys);
  if (typeof v === 'number') return v;
  if (Array.isArray(v)) return v.length;
  return undefined;
}

function namesOf(o: Row): Names | undefined {
  const n = pick(o, 'names', 'name');
  if (isObj(n) && typeof n.zh === 'string') return n as unknown as Names;
  const d = pick(o, 'department', 'district');
  if (isObj(d) && isObj(d.names)) return d.names as unknown as Names;
  return undefined;
}

function codeOf(o: Row): string {
  const c = pick(o, 'code', 'department_code', 'district_code', 'id');
  if (typeof c === 'string') return c;
  const d = pick(o, 'department', 'district');
  if (isObj(d) && typeof d.code === 'string') return d.code;
  return typeof d === 'string' ? d : '';
}

export function mountManager(root: HTMLElement): Page {
  let data: unknown = null;
  let state: 'loading' | 'ok' | 'unavailable' | 'error' = 'loading';
  let error: unknown = null;
  let updated = 0;
  let items: Item[] = [];
  const townNames = new Map<string, Names>();
  const body = h('div', { class: 'manager-body', 'aria-live': 'polite', 'aria-busy': 'true' });
  const stamp = h('p', { class: 'subtitle', id: 'manager-updated' });
  const outcome = figuresPanel();

  root.append(
    h(
      'section',
      { class: 'page page-manager', 'aria-labelledby': 'manager-h' },
      h('div', { class: 'page-head' }, h('div', {}, tx('h1', 'manager.title', { id: 'manager-h' }), stamp)),
      body,
      outcome.el,
    ),
  );

  // Cases overdue right now, live from the gateway's `manager:city` channel (`manager:<district>`
  // for a district manager or a command centre).
  const overdueCases = new Map<string, Case>();
  const isOverdue = (c: Case): boolean => !TERMINAL.has(c.status) && Array.isArray((c as unknown as Row).overdue) && ((c as unknown as Row).overdue as unknown[]).length > 0;
  const live = new LiveChannel(managerChannel(), {
    snapshot(list) {
      overdueCases.clear();
      for (const c of list) if (isOverdue(c)) overdueCases.set(c.id, c);
      if (state === 'ok') render();
    },
    event(c) {
      if (isOverdue(c)) overdueCases.set(c.id, c);
      else overdueCases.delete(c.id);
      if (state === 'ok') render();
    },
  });

  let timer: number | undefined;
  let stopped = false;
  load();

  async function load(): Promise<void> {
    clearTimeout(timer);
    if (state === 'loading') render();
    try {
      data = await api.slaSummary();
      // Names first: the live overdue list may render as soon as the state is 'ok'.
      if (!items.length) {
        items = await reg.items('').catch(() => []);
        for (const tw of await reg.towns().catch(() => [])) townNames.set(tw.code, tw.names);
      }
      state = 'ok';
      updated = Date.now();
    } catch (e) {
      if (e instanceof ApiError && (e.status === 404 || e.status === 501)) state = 'unavailable';
      else {
        state = 'error';
        error = e;
      }
    }
    if (stopped) return;
    render();
    timer = window.setTimeout(load, state === 'ok' ? REFRESH_MS : REFRESH_MS * 2);
  }

  function render(): void {
    body.setAttribute('aria-busy', String(state === 'loading'));
    stamp.textContent = updated ? t('manager.updated', { t: dateTime(new Date(updated).toISOString()) }) : '';
    if (state === 'loading') return clear(body, loadingState());
    if (state === 'error') return clear(body, errorState(error, load));
    if (state === 'unavailable')
      return clear(
        body,
        h(
          'div',
          { class: 'state empty-state', id: 'sla-unavailable', role: 'status' },
          h('div', { class: 'empty-icon' }, icon('clock')),
          h('h2', {}, t('manager.unavailableTitle')),
          h('p', {}, t('manager.unavailable')),
        ),
      );
    const d = isObj(data) ? data : {};
    const districts = rows(pick(d, 'districts', 'by_district'));
    const depts = rows(pick(d, 'departments', 'by_department'));
    const listed = rows(pick(d, 'overdue', 'overdue_cases'));
    const overdue = listed.length ? listed : [...overdueCases.values()].map((c) => c as unknown as Row);
    const series = rows(pick(d, 'series', 'history', 'timeseries', 'buckets'));
    const totals = isObj(pick(d, 'totals', 'total', 'overall')) ? (pick(d, 'totals', 'total', 'overall') as Row) : d;
    clear(
      body,
      h(
        'div',
        { class: 'kpis', id: 'sla-kpis' },
        kpi('manager.mtta', fmtDur(durationMs(totals, 'mtta'))),
        kpi('manager.mttr', fmtDur(durationMs(totals, 'mttr'))),
        kpi('manager.breachRate', fmtPct(numberOf(totals, 'breach_rate', 'breach_ratio'))),
        kpi('manager.overdueNow', String(numberOf(totals, 'overdue_now', 'overdue_count') ?? overdue.length)),
      ),
      series.length ? chart(series) : null,
      h(
        'div',
        { class: 'manager-grid' },
        table('manager.byDistrict', districts),
        table('manager.byDepartment', depts),
      ),
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 'overdue-h' },
        h('h2', { id: 'overdue-h' }, t('manager.overdue'), ' ', h('span', { class: 'count pill' }, String(overdue.length))),
        overdue.length
          ? h('ul', { class: 'overdue-list', id: 'overdue-list' }, overdue.map(overdueRow))
          : h('p', { class: 'empty' }, t('manager.noOverdue')),
      ),
    );
  }

  function kpi(label: Key, value: string): HTMLElement {
    return h('div', { class: 'kpi' }, h('div', { class: 'kpi-value' }, value), h('div', { class: 'kpi-label' }, t(label)));
  }
  const fmtDur = (ms: number | undefined) => (ms === undefined ? '—' : duration(ms));
  const fmtPct = (x: number | undefined) => (x === undefined ? '—' : percent(x));

  function table(title: Key, list: Row[]): HTMLElement | null {
    if (!list.length) return null;
    const sorted = [...list].sort((a, b) => (numberOf(b, 'breach_rate') ?? 0) - (numberOf(a, 'breach_rate') ?? 0));
    return h(
      'section',
      { class: 'panel' },
      h('h2', {}, t(title)),
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          {},
          h(
            'thead',
            {},
            h('tr', {}, (['manager.name', 'manager.mtta', 'manager.mttr', 'manager.breachRate', 'manager.overdueNow'] as Key[]).map((k) => h('th', { scope: 'col' }, t(k)))),
          ),
          h(
            'tbody',
            {},
            sorted.map((r) => {
              const over = numberOf(r, 'overdue_now', 'overdue_count', 'overdue') ?? 0;
              return h(
                'tr',
                { class: over > 0 ? 'has-overdue' : '' },
                h('th', { scope: 'row' }, nm(namesOf(r), codeOf(r))),
                h('td', {}, fmtDur(durationMs(r, 'mtta'))),
                h('td', {}, fmtDur(durationMs(r, 'mttr'))),
                h('td', {}, fmtPct(numberOf(r, 'breach_rate', 'breach_ratio'))),
                h('td', {}, String(over)),
              );
            }),
          ),
        ),
      ),
    );
  }

  function overdueRow(r: Row): HTMLElement {
    const c = isObj(r.case) ? (r.case as Row) : r;
    const item = String(pick(c, 'item') ?? '');
    const itemNames = items.find((i) => i.code === item)?.names;
    const dept = pick(c, 'department');
    const deptNames = isObj(dept) ? (dept.names as Names | undefined) : undefined;
    // The earliest deadline among the breached stages (`overdue` names them, `deadlines` has them).
    const dl = isObj(c.deadlines) ? (c.deadlines as Row) : {};
    const breached = Array.isArray(c.overdue) ? (c.overdue as unknown[]).map((x) => dl[String(x)]).filter((x) => typeof x === 'string') as string[] : [];
    const due = pick(r, 'due', 'deadline', 'due_at', 'overdue_since') ?? pick(c, 'due', 'deadline') ?? breached.sort()[0];
    const dueMs = typeof due === 'string' ? Date.parse(due) : NaN;
    const status = String(pick(c, 'status') ?? '');
    const townCode = String(pick(c, 'town') ?? '');
    return h(
      'li',
      { 'data-id': String(pick(c, 'id', 'whistle') ?? '') },
      status ? statusBadge(status) : null,
      ' ',
      h('strong', {}, nm(itemNames, item)),
      ` · ${nm(deptNames, isObj(dept) ? String(dept.code ?? '') : String(dept ?? ''))}`,
      townCode ? ` · ${nm(townNames.get(townCode), townCode)}` : '',
      Number.isFinite(dueMs) ? h('span', { class: 'overdue-by' }, ` · ${t('manager.overdueFor')} ${duration(Date.now() - dueMs)}`) : null,
    );
  }

  function seriesLabel(k: string): string {
    if (/breach/.test(k)) return t('manager.breachRate');
    if (/overdue/.test(k)) return t('manager.overdueNow');
    if (/mtta/.test(k)) return t('manager.mtta');
    if (/mttr/.test(k)) return t('manager.mttr');
    return k;
  }

  /** A small SVG line chart of the numeric fields of the series (first two). */
  function chart(series: Row[]): HTMLElement {
    const timeKey = ['t', 'time', 'at', 'bucket', 'start'].find((k) => series[0][k] !== undefined) ?? '';
    const keys = Object.keys(series[0]).filter((k) => k !== timeKey && typeof series[0][k] === 'number').slice(0, 2);
    const W = 640;
    const H = 160;
    const P = 28;
    // Each series on its own scale (a rate and a count share the chart); the legend gives the peak.
    const maxOf = (k: string) => Math.max(1e-9, ...series.map((p) => Number(p[k]) || 0));
    const x = (i: number) => P + (i * (W - 2 * P)) / Math.max(1, series.length - 1);
    const y = (v: number, max: number) => H - P - (v / max) * (H - 2 * P);
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', `${t('manager.trend')}: ${keys.join(', ')}`);
    svg.classList.add('chart');
    const axis = document.createElementNS(ns, 'path');
    axis.setAttribute('d', `M${P},${P / 2} V${H - P} H${W - P}`);
    axis.setAttribute('class', 'axis');
    svg.append(axis);
    keys.forEach((k, n) => {
      const line = document.createElementNS(ns, 'polyline');
      const max = maxOf(k);
      line.setAttribute('points', series.map((p, i) => `${x(i).toFixed(1)},${y(Number(p[k]) || 0, max).toFixed(1)}`).join(' '));
      line.setAttribute('class', `series s${n}`);
      svg.append(line);
    });
    const first = String(series[0][timeKey] ?? '');
    const last = String(series[series.length - 1][timeKey] ?? '');
    return h(
      'section',
      { class: 'panel' },
      h('h2', {}, t('manager.trend')),
      svg as unknown as HTMLElement,
      h(
        'p',
        { class: 'legend' },
        keys.map((k, n) => h('span', { class: `key s${n}` }, `${seriesLabel(k)} (max ${/rate|ratio/.test(k) ? percent(maxOf(k)) : maxOf(k)})`)), h('span', { class: 'range' }, first && last ? `${dateTime(first)} – ${dateTime(last)}` : '')),
    );
  }

  return {
    unmount() {
      stopped = true;
      clearTimeout(timer);
      live.close();
      outcome.unmount();
    },
    relabel() {
      render();
      outcome.relabel();
    },
  };
}
