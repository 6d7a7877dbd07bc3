// Registry administration (admin accounts): the items of a district with who holds them now; an
// item's holder history and audit trail; delegate / recover / change the holder, with the what-if
// preview first; CSV export and import. The audit records the logged-in account (no actor field).
import { api, ApiError, type ChangeAction, type DistrictInfo, type HolderChange, type Item, type ItemDetail } from '../api';
import { announce, clear, h, tx } from '../dom';
import { dateTime, percent } from '../format';
import { nm, t, type Key } from '../i18n';
import type { Page } from '../router';
import { setParams } from '../router';
import { errorMessage, errorState, loadingState } from './common';

const ACTIONS: ChangeAction[] = ['delegate', 'recover', 'change_holder'];
const AUTHORITIES = ['statutory', 'empowered', 'delegated', 'department', 'recovered'];

/** "2026-11-27T17:05" for a datetime-local input, `minutes` from now, local time. */
function localInput(minutes: number): string {
  const d = new Date(Date.now() + minutes * 60_000);
  d.setSeconds(0, 0);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function mountRegistry(root: HTMLElement, params: URLSearchParams): Page {
  let districts: DistrictInfo[] = [];
  let district = params.get('district') ?? '500103';
  let items: Item[] = [];
  let selected = params.get('item') ?? '';
  let detail: ItemDetail | null = null;
  let stopped = false;

  const districtSel = h('select', { id: 'registry-district', name: 'district' });
  const search = h('input', { id: 'registry-search', type: 'search', 'data-i18n-placeholder': 'registry.searchPlaceholder' });
  const exportBtn = h('button', { type: 'button', class: 'btn secondary', id: 'registry-export' }, t('registry.export'));
  const importFile = h('input', { type: 'file', id: 'registry-import-file', accept: '.csv,text/csv', class: 'sr-only' });
  const importBtn = h('button', { type: 'button', class: 'btn secondary', id: 'registry-import' }, t('registry.import'));
  const toolStatus = h('div', { id: 'registry-tool-status', 'aria-live': 'polite' });
  const list = h('div', { class: 'panel registry-list', id: 'registry-items' });
  const side = h('div', { class: 'registry-detail', id: 'registry-detail' });

  root.append(
    h(
      'section',
      { class: 'page page-registry', 'aria-labelledby': 'registry-h' },
      h('div', { class: 'page-head' }, h('div', {}, tx('h1', 'registry.title', { id: 'registry-h' }), tx('p', 'registry.subtitle', { class: 'subtitle' }))),
      h(
        'div',
        { class: 'registry-tools' },
        h('div', { class: 'field' }, tx('label', 'registry.district', { for: 'registry-district' }), districtSel),
        h('div', { class: 'field grow' }, tx('label', 'registry.search', { for: 'registry-search' }), search),
        exportBtn,
        h('label', { class: 'sr-only', for: 'registry-import-file' }, t('registry.importFile')),
        importFile,
        importBtn,
      ),
      toolStatus,
      h('div', { class: 'registry-body' }, list, side),
    ),
  );

  districtSel.addEventListener('change', () => {
    district = districtSel.value;
    setParams({ district });
    loadItems();
  });
  search.addEventListener('input', renderList);
  exportBtn.addEventListener('click', exportCsv);
  importBtn.addEventListener('click', () => importFile.click());
  importFile.addEventListener('change', importCsv);

  init();

  async function init(): Promise<void> {
    clear(list, loadingState());
    try {
      districts = await api.districts();
    } catch (e) {
      clear(list, errorState(e, init));
      return;
    }
    if (district !== '*' && !districts.some((d) => d.code === district)) district = districts[0]?.code ?? '*';
    fillDistricts();
    await loadItems();
    if (selected) open(selected);
    else clear(side, h('div', { class: 'empty hint' }, tx('p', 'registry.pickItem')));
  }

  function fillDistricts(): void {
    clear(
      districtSel,
      h('option', { value: '*', selected: district === '*' }, t('registry.cityWide')),
      districts.map((d) => h('option', { value: d.code, selected: d.code === district }, `${nm(d.names)} · ${d.code}`)),
    );
  }

  async function loadItems(): Promise<void> {
    clear(list, loadingState());
    try {
      items = await api.items(district === '*' ? undefined : district);
    } catch (e) {
      if (!stopped) clear(list, errorState(e, loadItems));
      return;
    }
    if (!stopped) renderList();
  }

  function holderLabel(it: { holder?: Item['holder'] }): string {
    const hd = it.holder as { kind: string; code?: string; department_type?: string; names?: { zh: string; en: string } } | null | undefined;
    if (!hd) return '—';
    if (hd.kind === 'towns') return t('registry.towns');
    return nm(hd.names, hd.code ?? hd.department_type ?? '');
  }

  function renderList(): void {
    const q = search.value.trim().toLowerCase();
    const shown = items.filter((i) => !q || i.code.toLowerCase().includes(q) || i.names.zh.includes(q) || i.names.en.toLowerCase().includes(q));
    clear(
      list,
      h('h2', {}, t('registry.items', { n: shown.length })),
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { class: 'item-table' },
          h('thead', {}, h('tr', {}, (['registry.code', 'registry.name', 'registry.holder', 'registry.authority'] as Key[]).map((k) => h('th', { scope: 'col' }, t(k))))),
          h(
            'tbody',
            {},
            shown.slice(0, 300).map((i) =>
              h(
                'tr',
                { 'data-item': i.code, 'aria-selected': String(i.code === selected), onclick: () => open(i.code) },
                h('td', { class: 'code' }, h('button', { type: 'button', class: 'link', onclick: (e: Event) => (e.stopPropagation(), open(i.code)) }, i.code)),
                h('td', { class: 'name' }, nm(i.names)),
                h('td', {}, holderLabel(i)),
                h('td', {}, i.authority ? t(`authority.${i.authority}` as Key) : '—'),
              ),
            ),
          ),
        ),
      ),
    );
  }

  async function open(code: string): Promise<void> {
    selected = code;
    setParams({ item: code });
    list.querySelectorAll('tr[data-item]').forEach((tr) => tr.setAttribute('aria-selected', String((tr as HTMLElement).dataset.item === code)));
    clear(side, loadingState());
    try {
      const d = await api.registryItem(code);
      if (selected !== code || stopped) return;
      detail = d;
      renderDetail();
    } catch (e) {
      if (selected === code) clear(side, errorState(e, () => open(code)));
    }
  }

  const districtName = (code: string): string => (code === '*' ? t('registry.cityWide') : nm(districts.find((d) => d.code === code)?.names, code));

  function renderDetail(): void {
    if (!detail) return;
    const d = detail;
    const form = changeForm(d);
    clear(
      side,
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 'item-h' },
        h('h2', { id: 'item-h' }, nm(d.names), ' ', h('span', { class: 'code' }, `${d.code} · v${d.version}`)),
        d.legal_basis ? h('p', { class: 'hint' }, d.legal_basis) : null,
        h('h3', {}, t('registry.history')),
        h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            { id: 'item-history' },
            h('thead', {}, h('tr', {}, (['registry.district', 'registry.heldBy', 'registry.authority', 'registry.from', 'registry.to', 'registry.reason'] as Key[]).map((k) => h('th', { scope: 'col' }, t(k))))),
            h(
              'tbody',
              {},
              d.history.map((v) =>
                h(
                  'tr',
                  {},
                  h('td', {}, districtName(v.district)),
                  h('td', {}, v.holder.kind === 'towns' ? t('registry.towns') : (v.holder.department_type ?? '')),
                  h('td', {}, t(`authority.${v.authority}` as Key)),
                  h('td', {}, dateTime(v.effective_from)),
                  h('td', {}, v.effective_to ? dateTime(v.effective_to) : '—'),
                  h('td', {}, v.reason ?? ''),
                ),
              ),
            ),
          ),
        ),
        h('h3', {}, t('registry.audit')),
        d.audit.length
          ? h(
              'ol',
              { class: 'timeline', id: 'item-audit' },
              d.audit.map((a) =>
                h(
                  'li',
                  {},
                  h('time', { datetime: a.recorded_at }, dateTime(a.recorded_at)),
                  ` · v${a.version} · ${t(`registry.action.${a.action}` as Key)} · ${districtName(a.district)} · `,
                  h('strong', { class: 'audit-actor' }, a.actor),
                  h('span', { class: 'detail' }, ` ${a.reason}`),
                ),
              ),
            )
          : h('p', { class: 'hint', id: 'item-audit' }, t('registry.noAudit')),
      ),
      form,
    );
  }

  function changeForm(d: ItemDetail): HTMLElement {
    const action = h('select', { id: 'change-action' }, ACTIONS.map((a) => h('option', { value: a }, t(`registry.action.${a}` as Key))));
    const where = h(
      'select',
      { id: 'change-district' },
      h('option', { value: '*' }, t('registry.cityWide')),
      districts.map((x) => h('option', { value: x.code, selected: x.code === (district === '*' ? '' : district) }, `${nm(x.names)} · ${x.code}`)),
    );
    const deptTypes = [...new Set(districts.flatMap((x) => (x.departments ?? []).map((dp) => dp.department_type ?? dp.code.split('-')[1] ?? '')))].filter(Boolean).sort();
    const deptType = h('input', { id: 'change-dept-type', list: 'dept-types', 'data-i18n-placeholder': 'registry.deptTypePlaceholder', value: d.holder?.kind === 'department' ? ((d.holder as { department_type?: string }).department_type ?? '') : '' });
    const authority = h('select', { id: 'change-authority' }, h('option', { value: '' }, t('registry.authorityDefault')), AUTHORITIES.map((a) => h('option', { value: a }, t(`authority.${a}` as Key))));
    const from = h('input', { id: 'change-from', type: 'datetime-local', required: true, value: localInput(10) });
    const reason = h('textarea', { id: 'change-reason', rows: 2, required: true, 'data-i18n-placeholder': 'registry.reasonPlaceholder' });
    const preview = h('button', { type: 'button', class: 'btn secondary', id: 'change-preview' }, t('registry.preview'));
    const apply = h('button', { type: 'submit', class: 'btn primary', id: 'change-apply' }, t('registry.apply'));
    const out = h('div', { id: 'change-status', 'aria-live': 'polite' });
    deptType.setAttribute('placeholder', t('registry.deptTypePlaceholder'));
    const syncAction = () => {
      deptType.disabled = action.value === 'delegate';
    };
    action.addEventListener('change', syncAction);
    syncAction();
    reason.setAttribute('placeholder', t('registry.reasonPlaceholder'));

    const body = (): HolderChange | null => {
      const r = reason.value.trim();
      const when = new Date(from.value);
      if (!r || Number.isNaN(when.getTime())) {
        clear(out, h('div', { class: 'callout error', role: 'alert' }, h('p', {}, t('town.required'))));
        (r ? from : reason).focus();
        return null;
      }
      return {
        district: where.value,
        effective_from: when.toISOString(),
        reason: r,
        // A delegation hands the item to the towns: no department.
        department_type: action.value === 'delegate' ? null : deptType.value.trim() || null,
        authority: authority.value || null,
      };
    };
    const busy = (on: boolean) => {
      preview.disabled = apply.disabled = on;
      if (on) clear(out, h('p', { class: 'hint' }, t('registry.working')));
    };
    const fail = (e: unknown) =>
      clear(out, h('div', { class: 'callout error', role: 'alert', id: 'change-error', 'data-code': e instanceof ApiError ? e.code : 'error' }, h('p', {}, errorMessage(e))));

    preview.addEventListener('click', async () => {
      const b = body();
      if (!b) return;
      busy(true);
      try {
        const r = await api.whatIf(d.code, action.value as ChangeAction, b);
        clear(
          out,
          h(
            'div',
            { class: 'callout info', id: 'whatif', role: 'status' },
            h('p', {}, t('registry.whatif', { open: r.open_total, total: r.last_month_total, affected: r.last_month_affected, share: percent(r.last_month_share) })),
            r.open_affected.length
              ? h('ul', {}, r.open_affected.slice(0, 20).map((c) => h('li', { class: 'code' }, `${c.id.slice(0, 8)} · ${c.town} · ${c.now} → ${c.proposed}`)))
              : null,
          ),
        );
      } catch (e) {
        fail(e);
      } finally {
        busy(false);
      }
    });

    const form = h(
      'form',
      { class: 'panel', id: 'change-form', novalidate: true, 'aria-labelledby': 'change-h' },
      h('datalist', { id: 'dept-types' }, deptTypes.map((x) => h('option', { value: x }))),
      tx('h2', 'registry.change', { id: 'change-h' }),
      h(
        'div',
        { class: 'row' },
        h('div', { class: 'field' }, tx('label', 'registry.action', { for: 'change-action' }), action),
        h('div', { class: 'field' }, tx('label', 'registry.district', { for: 'change-district' }), where),
      ),
      h(
        'div',
        { class: 'row' },
        h('div', { class: 'field' }, tx('label', 'registry.deptType', { for: 'change-dept-type' }), deptType),
        h('div', { class: 'field' }, tx('label', 'registry.authority', { for: 'change-authority' }), authority),
        h('div', { class: 'field' }, tx('label', 'registry.effectiveFrom', { for: 'change-from' }), from),
      ),
      h('div', { class: 'field' }, tx('label', 'registry.reason', { for: 'change-reason' }), reason),
      h('div', { class: 'row' }, preview, apply),
      out,
    );
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const b = body();
      if (!b) return;
      busy(true);
      try {
        const r = await api.registryChange(d.code, action.value as ChangeAction, b);
        detail = r;
        items = await api.items(district === '*' ? undefined : district).catch(() => items);
        renderList();
        renderDetail();
        const msg = t('registry.applied', { item: r.code, v: r.version });
        announce(msg);
        side.querySelector('#change-status')?.replaceChildren(h('div', { class: 'callout ok', role: 'status', id: 'change-ok' }, h('p', {}, msg)));
      } catch (err) {
        fail(err);
        busy(false);
      }
    });
    return form;
  }

  async function exportCsv(): Promise<void> {
    exportBtn.disabled = true;
    try {
      const csv = await api.exportCsv();
      const url = URL.createObjectURL(new Blob([csv], { type: 'text/csv;charset=utf-8' }));
      const a = h('a', { href: url, download: 'registry.csv' });
      document.body.append(a);
      a.click();
      a.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
      clear(toolStatus);
    } catch (e) {
      clear(toolStatus, h('div', { class: 'callout error', role: 'alert' }, h('p', {}, errorMessage(e))));
    } finally {
      exportBtn.disabled = false;
    }
  }

  async function importCsv(): Promise<void> {
    const f = importFile.files?.[0];
    importFile.value = '';
    if (!f) return;
    importBtn.disabled = true;
    clear(toolStatus, h('p', { class: 'hint' }, t('registry.working')));
    try {
      const r = await api.importCsv(await f.text());
      clear(toolStatus, h('div', { class: 'callout ok', role: 'status', id: 'import-ok' }, h('p', {}, t('registry.imported', { rows: r.rows, items: r.items, n: r.changed.length }))));
      await loadItems();
      if (selected) open(selected);
    } catch (e) {
      clear(toolStatus, h('div', { class: 'callout error', role: 'alert', id: 'import-error' }, h('p', {}, errorMessage(e))));
    } finally {
      importBtn.disabled = false;
    }
  }

  return {
    unmount() {
      stopped = true;
    },
    relabel() {
      if (!districts.length) return;
      fillDistricts();
      exportBtn.textContent = t('registry.export');
      importBtn.textContent = t('registry.import');
      if (items.length) renderList();
      if (detail) renderDetail();
    },
  };
}
