// The ledger (台账): every whistle the account may see (GET /api/v1/whistles, the server keeps
// each account to its scope), found by status, district, town, department, item, overdue /
// breached / reopened, raise and resolve dates and free text; pages of 50 with "load more"
// (keyset: `next_cursor`); each case opens below the list with its timeline; CSV and XLSX
// exports with the same filters, fetched with the token. The filters live in the hash
// (#/ledger?status=resolved&town=…&case=ID), so a link reproduces the view.
import { api, type Case, type District, type Item, type Status } from '../api';
import { announce, clear, h, statusBadge, tx } from '../dom';
import { dateTime } from '../format';
import { nm, t, type Key, type Names } from '../i18n';
import { LEDGER_FILTERS, OPEN_STATUSES, WHISTLE_STATUSES, filtersOf, type LedgerFilter } from '../ledgerlinks';
import * as reg from '../registry';
import { parseHash, setParams, type Page } from '../router';
import { account, ownDistrict } from '../session';
import { timelineList } from './casework';
import { errorMessage, errorState, loadingState } from './common';

const PAGE = 50;
/** Characters of a description shown in the table (the whole text is in the row's title). */
const DESCRIPTION_CHARS = 40;

type Flag = 'overdue' | 'breached' | 'reopened';
const FLAGS: Flag[] = ['overdue', 'breached', 'reopened'];

export function mountLedger(root: HTMLElement, params: URLSearchParams): Page {
  const acc = account();
  const role = acc?.role;
  // What the scope fixes: a town its town, district-bound accounts their district.
  const lockedDistrict = ownDistrict();
  const lockedTown = role === 'town' ? (acc?.town ?? null) : null;
  const ownDept = role === 'department' ? (acc?.department ?? null) : null;

  let filters = filtersOf(params);
  let caseId = params.get('case') ?? '';
  let rows: Case[] = [];
  let cursor: string | null = null;
  let state: 'loading' | 'ok' | 'error' = 'loading';
  let error: unknown = null;
  let loadingMore = false;
  let seq = 0;
  let stopped = false;
  let districts: District[] = [];
  const townNames = new Map<string, Names>();
  const townsOf = new Map<string, { code: string; names: Names }[]>();
  const itemNames = new Map<string, Names>();
  let items: Item[] = [];

  // ---- the form
  const statusBoxes = WHISTLE_STATUSES.map((s) =>
    h('input', { type: 'checkbox', name: 'status', value: s, id: `ledger-status-${s}` }),
  );
  const districtSel = h('select', { id: 'ledger-district', name: 'district' });
  const townSel = h('select', { id: 'ledger-town', name: 'town' });
  const deptSel = h('select', { id: 'ledger-department', name: 'department' });
  const itemSel = h('select', { id: 'ledger-item', name: 'item' });
  const flagSels = Object.fromEntries(FLAGS.map((f) => [f, h('select', { id: `ledger-${f}`, name: f })])) as Record<Flag, HTMLSelectElement>;
  const dates = {
    from: h('input', { type: 'date', id: 'ledger-from', name: 'from' }),
    to: h('input', { type: 'date', id: 'ledger-to', name: 'to' }),
    resolved_from: h('input', { type: 'date', id: 'ledger-resolved_from', name: 'resolved_from' }),
    resolved_to: h('input', { type: 'date', id: 'ledger-resolved_to', name: 'resolved_to' }),
  };
  const qInput = h('input', { type: 'search', id: 'ledger-q', name: 'q', maxlength: 100, 'data-i18n-placeholder': 'ledger.qPlaceholder' });
  const exportStatus = h('p', { class: 'hint', id: 'ledger-export-status', role: 'status', 'aria-live': 'polite' });
  const csvBtn = h('button', { type: 'button', class: 'btn secondary small', id: 'ledger-export-csv', onclick: () => exportAs('csv') });
  const xlsxBtn = h('button', { type: 'button', class: 'btn secondary small', id: 'ledger-export-xlsx', onclick: () => exportAs('xlsx') });
  const openBtn = h('button', { type: 'button', class: 'btn ghost small', id: 'ledger-open-only', onclick: () => tick(OPEN_STATUSES) });

  const field = (key: Key, control: HTMLElement, id: string) => h('div', { class: 'field' }, tx('label', key, { for: id }), control);
  const form = h(
    'form',
    { class: 'panel ledger-filters', id: 'ledger-form', 'aria-labelledby': 'ledger-filters-h' },
    tx('h2', 'ledger.filters', { id: 'ledger-filters-h', class: 'sr-only' }),
    h(
      'fieldset',
      { class: 'ledger-statuses' },
      tx('legend', 'ledger.status'),
      WHISTLE_STATUSES.map((s, i) => h('label', { class: 'check', for: `ledger-status-${s}` }, statusBoxes[i], h('span', { 'data-i18n': `status.${s}` }, t(`status.${s}` as Key)))),
      openBtn,
    ),
    h(
      'div',
      { class: 'ledger-grid' },
      field('ledger.district', districtSel, 'ledger-district'),
      field('ledger.town', townSel, 'ledger-town'),
      field('ledger.department', deptSel, 'ledger-department'),
      field('ledger.item', itemSel, 'ledger-item'),
      FLAGS.map((f) => field(`ledger.${f}` as Key, flagSels[f], `ledger-${f}`)),
      field('ledger.from', dates.from, 'ledger-from'),
      field('ledger.to', dates.to, 'ledger-to'),
      field('ledger.resolvedFrom', dates.resolved_from, 'ledger-resolved_from'),
      field('ledger.resolvedTo', dates.resolved_to, 'ledger-resolved_to'),
      h('div', { class: 'field grow' }, tx('label', 'ledger.q', { for: 'ledger-q' }), qInput),
    ),
    h(
      'div',
      { class: 'submit-row' },
      h('button', { type: 'submit', class: 'btn primary', id: 'ledger-search', 'data-i18n': 'ledger.search' }, t('ledger.search')),
      h('button', { type: 'button', class: 'btn ghost', id: 'ledger-reset', 'data-i18n': 'ledger.reset', onclick: reset }, t('ledger.reset')),
      h('span', { class: 'grow' }),
      csvBtn,
      xlsxBtn,
    ),
    exportStatus,
  );
  const detail = h('div', { class: 'ledger-case', id: 'ledger-case' });
  const results = h('div', { class: 'ledger-results', 'aria-live': 'polite' });

  root.append(
    h(
      'section',
      { class: 'page page-ledger', 'aria-labelledby': 'ledger-h' },
      h('div', { class: 'page-head' }, h('div', {}, tx('h1', 'ledger.title', { id: 'ledger-h' }), tx('p', 'ledger.subtitle', { class: 'subtitle' }))),
      form,
      detail,
      results,
    ),
  );

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    apply(readForm());
  });
  districtSel.addEventListener('change', async () => {
    const values = readForm();
    values.delete('town');
    values.delete('department');
    await fillDistrictLists(districtSel.value, values);
  });
  const onHash = (): void => {
    const { name, params: p } = parseHash();
    if (name !== 'ledger') return;
    const next = filtersOf(p);
    const wanted = p.get('case') ?? '';
    if (next.toString() !== filters.toString()) {
      filters = next;
      fillForm();
      load();
    }
    if (wanted !== caseId) {
      caseId = wanted;
      showCase();
    }
  };
  window.addEventListener('hashchange', onHash);

  relabel();
  init();

  async function init(): Promise<void> {
    clear(results, loadingState());
    try {
      const towns = await reg.towns();
      for (const tw of towns) {
        townNames.set(tw.code, tw.names);
        const list = townsOf.get(tw.district.code) ?? [];
        list.push({ code: tw.code, names: tw.names });
        townsOf.set(tw.district.code, list);
      }
      districts = await reg.districts();
      items = await reg.items('').catch(() => []);
      for (const it of items) itemNames.set(it.code, it.names);
    } catch (e) {
      clear(results, errorState(e, init));
      return;
    }
    if (stopped) return;
    fillForm();
    await load();
    showCase();
  }

  /** Options of a select: "any" first, then `list`; `locked` leaves only its value. */
  function options(sel: HTMLSelectElement, list: { code: string; names?: Names }[], value: string, locked: string | null, anyKey: Key = 'ledger.any'): void {
    const shown = locked ? list.filter((x) => x.code === locked) : list;
    clear(
      sel,
      locked ? null : h('option', { value: '' }, t(anyKey)),
      shown.map((x) => h('option', { value: x.code, selected: x.code === value }, x.names ? `${nm(x.names)}` : x.code)),
    );
    // A value not among the options (a link from elsewhere): kept, shown by its code.
    if (value && !shown.some((x) => x.code === value)) sel.append(h('option', { value, selected: true }, value));
    sel.value = locked ?? value;
    sel.disabled = !!locked;
  }

  /** The town, department and item lists of `district`, with `values` selected. */
  async function fillDistrictLists(district: string, values: URLSearchParams): Promise<void> {
    const towns = district ? (townsOf.get(district) ?? []) : [];
    options(townSel, towns, values.get('town') ?? '', lockedTown, district ? 'ledger.any' : 'ledger.pickDistrictFirst');
    townSel.disabled = !!lockedTown || !district;
    let depts: { code: string; names: Names }[] = [];
    const d = districts.find((x) => x.code === district);
    if (d) depts = await reg.districtDepartments(d).catch(() => []);
    if (ownDept) depts = depts.filter((x) => x.code === ownDept);
    options(deptSel, depts, values.get('department') ?? '', null, district ? 'ledger.any' : 'ledger.pickDistrictFirst');
    deptSel.disabled = !district && !values.get('department');
    const its = district ? await reg.items(district).catch(() => items) : items;
    options(itemSel, its.map((i) => ({ code: i.code, names: i.names })), values.get('item') ?? '', null);
  }

  /** The form from `values` (the filters shown, unless the language changed under an edit). */
  function fillForm(values: URLSearchParams = filters): void {
    const statuses = new Set((values.get('status') ?? '').split(',').filter(Boolean));
    statusBoxes.forEach((box) => (box.checked = statuses.has(box.value)));
    const district = lockedDistrict ?? values.get('district') ?? (lockedTown ? lockedTown.slice(0, 6) : '');
    options(districtSel, districts, district, lockedDistrict);
    for (const f of FLAGS) {
      clear(
        flagSels[f],
        h('option', { value: '' }, t('ledger.any')),
        h('option', { value: 'true' }, t('ledger.yes')),
        h('option', { value: 'false' }, t('ledger.no')),
      );
      flagSels[f].value = values.get(f) ?? '';
    }
    for (const [k, input] of Object.entries(dates)) input.value = values.get(k) ?? '';
    qInput.value = values.get('q') ?? '';
    void fillDistrictLists(districtSel.value, values);
  }

  /** The filters the form says. */
  function readForm(): URLSearchParams {
    const p = new URLSearchParams();
    const statuses = statusBoxes.filter((b) => b.checked).map((b) => b.value);
    if (statuses.length) p.set('status', statuses.join(','));
    const put = (k: LedgerFilter, v: string) => {
      if (v.trim()) p.set(k, v.trim());
    };
    put('district', districtSel.value);
    put('town', townSel.value);
    put('department', deptSel.value);
    put('item', itemSel.value);
    for (const f of FLAGS) put(f, flagSels[f].value);
    for (const [k, input] of Object.entries(dates)) put(k as LedgerFilter, input.value);
    put('q', qInput.value);
    return filtersOf(p);
  }

  function tick(statuses: Status[]): void {
    statusBoxes.forEach((b) => (b.checked = statuses.includes(b.value as Status)));
  }

  function reset(): void {
    apply(new URLSearchParams());
  }

  /** Show `next`: in the hash (a link reproduces it), in the form, then the first page. */
  function apply(next: URLSearchParams): void {
    filters = filtersOf(next);
    const all: Record<string, string | null> = { case: null };
    for (const k of LEDGER_FILTERS) all[k] = filters.get(k);
    setParams(all);
    caseId = '';
    showCase();
    fillForm();
    load();
  }

  async function load(): Promise<void> {
    const mine = ++seq;
    state = 'loading';
    rows = [];
    cursor = null;
    render();
    try {
      const page = await api.ledger(withLimit(filters).toString());
      if (mine !== seq || stopped) return;
      rows = page.items;
      cursor = page.next_cursor;
      state = 'ok';
    } catch (e) {
      if (mine !== seq || stopped) return;
      state = 'error';
      error = e;
    }
    render();
  }

  async function more(): Promise<void> {
    if (!cursor || loadingMore) return;
    const mine = seq;
    loadingMore = true;
    render();
    try {
      const q = withLimit(filters);
      q.set('cursor', cursor);
      const page = await api.ledger(q.toString());
      if (mine !== seq || stopped) return;
      rows = rows.concat(page.items);
      cursor = page.next_cursor;
      announce(t('ledger.shown', { n: rows.length }));
    } catch (e) {
      if (mine !== seq) return;
      error = e;
      clear(exportStatus, h('span', { class: 'field-error' }, errorMessage(e)));
    } finally {
      loadingMore = false;
    }
    render();
  }

  function withLimit(f: URLSearchParams): URLSearchParams {
    const q = new URLSearchParams(f);
    q.set('limit', String(PAGE));
    return q;
  }

  async function exportAs(format: 'csv' | 'xlsx'): Promise<void> {
    csvBtn.disabled = xlsxBtn.disabled = true;
    exportStatus.textContent = t('ledger.exporting');
    try {
      const { blob, name } = await api.ledgerExport(format, filters.toString());
      const url = URL.createObjectURL(blob);
      const a = h('a', { href: url, download: name });
      document.body.append(a);
      a.click();
      a.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
      exportStatus.textContent = t('ledger.exported', { name });
    } catch (e) {
      clear(exportStatus, h('span', { class: 'field-error', role: 'alert' }, errorMessage(e)));
    } finally {
      csvBtn.disabled = xlsxBtn.disabled = false;
    }
  }

  function caseHref(id: string): string {
    const q = new URLSearchParams(filters);
    q.set('case', id);
    return `#/ledger?${q}`;
  }

  function flagsOf(c: Case): Flag[] {
    const out: Flag[] = [];
    if ((c.overdue?.length ?? 0) > 0 && !['resolved', 'rejected', 'merged'].includes(c.status)) out.push('overdue');
    if (c.timeline?.some((e) => e.type === 'sla.breached')) out.push('breached');
    if ((c.reopens ?? 0) > 0) out.push('reopened');
    return out;
  }

  function render(): void {
    results.setAttribute('aria-busy', String(state === 'loading'));
    if (state === 'loading') return clear(results, loadingState());
    if (state === 'error') return clear(results, errorState(error, load));
    const count = h('p', { class: 'hint', id: 'ledger-count' }, t('ledger.shown', { n: rows.length }), cursor ? '' : ` · ${t('ledger.end')}`);
    if (!rows.length) return clear(results, h('div', { class: 'state empty-state', id: 'ledger-empty' }, h('p', {}, t('ledger.empty'))));
    clear(
      results,
      h('section', { class: 'panel', 'aria-labelledby': 'ledger-results-h' },
        h('h2', { id: 'ledger-results-h', class: 'sr-only' }, t('ledger.results')),
        count,
        h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            { id: 'ledger-table' },
            h('thead', {}, h('tr', {}, (['ledger.col.raised', 'ledger.col.status', 'ledger.col.item', 'ledger.col.town', 'ledger.col.department', 'ledger.col.description', 'ledger.col.flags', 'ledger.col.case'] as Key[]).map((k) => h('th', { scope: 'col' }, t(k))))),
            h(
              'tbody',
              {},
              rows.map((c) => {
                const desc = c.description.length > DESCRIPTION_CHARS ? `${c.description.slice(0, DESCRIPTION_CHARS)}…` : c.description;
                return h(
                  'tr',
                  { 'data-id': c.id, 'data-status': c.status, class: c.id === caseId ? 'selected' : '' },
                  h('td', {}, h('time', { datetime: c.raised_at }, dateTime(c.raised_at))),
                  h('td', {}, statusBadge(c.status)),
                  h('td', {}, nm(itemNames.get(c.item), c.item)),
                  h('td', {}, (c.town ? nm(townNames.get(c.town), c.town) : t('common.noTown'))),
                  h('td', {}, c.department ? nm(c.department.names, c.department.code) : '—'),
                  h('td', { class: 'ledger-desc', title: c.description }, desc),
                  h('td', {}, flagsOf(c).map((f) => h('span', { class: `chip flag-${f}` }, t(`ledger.flag.${f}` as Key)))),
                  h('td', {}, h('a', { href: caseHref(c.id), class: 'ledger-case-link', 'data-case': c.id }, t('ledger.view'))),
                );
              }),
            ),
          ),
        ),
        cursor
          ? h('div', { class: 'submit-row' }, h('button', { type: 'button', class: 'btn secondary', id: 'ledger-more', disabled: loadingMore, onclick: more }, loadingMore ? t('common.loading') : t('ledger.more')))
          : null,
      ),
    );
  }

  async function showCase(): Promise<void> {
    if (!caseId) return clear(detail);
    const id = caseId;
    const known = rows.find((c) => c.id === id && c.timeline);
    if (!known) clear(detail, loadingState());
    let c: Case;
    try {
      c = known ?? (await api.whistle(id));
    } catch (e) {
      if (id === caseId) clear(detail, errorState(e, showCase));
      return;
    }
    if (id !== caseId || stopped) return;
    const close = new URLSearchParams(filters);
    clear(
      detail,
      h(
        'section',
        { class: 'panel ledger-detail', 'aria-labelledby': 'ledger-case-h', 'data-id': c.id },
        h(
          'div',
          { class: 'page-head' },
          h('h2', { id: 'ledger-case-h' }, t('ledger.case'), ' ', statusBadge(c.status), ' ', h('strong', {}, nm(itemNames.get(c.item), c.item))),
          h('a', { href: `#/ledger${close.toString() ? `?${close}` : ''}`, class: 'btn ghost small', id: 'ledger-case-close' }, t('ledger.closeCase')),
        ),
        h(
          'dl',
          { class: 'facts' },
          h('dt', {}, t('common.code')),
          h('dd', { class: 'code' }, c.id),
          h('dt', {}, t('ledger.col.town')),
          h('dd', {}, (c.town ? nm(townNames.get(c.town), c.town) : t('common.noTown'))),
          h('dt', {}, t('ledger.col.department')),
          h('dd', {}, c.department ? nm(c.department.names, c.department.code) : '—'),
          h('dt', {}, t('ledger.col.description')),
          h('dd', {}, c.description),
          h('dt', {}, t('ledger.address')),
          h('dd', {}, c.location?.address ?? ''),
          h('dt', {}, t('ledger.col.raised')),
          h('dd', {}, dateTime(c.raised_at)),
        ),
        timelineList(c.timeline ?? []),
      ),
    );
    render();
  }

  function relabel(): void {
    csvBtn.textContent = t('ledger.exportCsv');
    xlsxBtn.textContent = t('ledger.exportXlsx');
    openBtn.textContent = t('ledger.openOnly');
    qInput.placeholder = t('ledger.qPlaceholder');
  }

  return {
    unmount() {
      stopped = true;
      window.removeEventListener('hashchange', onHash);
    },
    relabel() {
      relabel();
      if (districts.length) fillForm(readForm());
      render();
      void showCase();
    },
  };
}
