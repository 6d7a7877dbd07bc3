// Town dashboard: pick the town, raise a whistle (item from the registry, with suggestions from
// the description when the assist endpoint exists), follow the town's whistles live; confirm or
// reopen a resolved whistle and comment on any (issue K); the town's own enforcement cases
// (towncases.ts), with "open a town case instead" when the town holds the item itself; before a
// raise is sent, the open whistles of the item nearby (likely duplicates, issue L).
import { api, ApiError, newKey, STATUSES, TERMINAL, type Case, type DuplicateList, type Item, type RouteAnswer, type Status, type TimelineEntry, type Town } from '../api';
import { announce, clear, h, icon, statusBadge, tx } from '../dom';
import { ago, dateTime } from '../format';
import { applyI18n, lang, nm, nmOther, t, type Key } from '../i18n';
import * as reg from '../registry';
import { setParams, type Page } from '../router';
import { LiveChannel } from '../ws';
import { connIndicator, errorState, loadingState, setConn } from './common';
import { account, allowedRoutes } from '../session';
import { chinaMonthStart, ledgerHref } from '../ledgerlinks';
import { commentsOf, rerender, stepError, timelineList } from './casework';
import { townCases, type TownCases } from './towncases';
import { attachmentGallery, evidencePicker } from './evidence';

const STORE_TOWN = 'whistle.town';
const storeIds = (town: string) => `whistle.town.${town}.ids`;
type Filter = 'all' | 'open' | Status;
const FILTERS: Filter[] = ['all', 'open', ...STATUSES];
const LIST_PAGE = 20;

function savedIds(town: string): string[] {
  try {
    const v = JSON.parse(localStorage.getItem(storeIds(town)) ?? '[]');
    return Array.isArray(v) ? v.filter((x) => typeof x === 'string') : [];
  } catch {
    return [];
  }
}
function saveId(town: string, id: string): void {
  try {
    const ids = [id, ...savedIds(town).filter((x) => x !== id)].slice(0, 50);
    localStorage.setItem(storeIds(town), JSON.stringify(ids));
  } catch {
    /* ignore */
  }
}

/** "English text / 中文" → the part in the UI language (the whole text if it has no such split). */
function pickLang(msg: string): string {
  const parts = msg.split(' / ');
  if (parts.length < 2) return msg;
  const zh = parts.find((p) => /[\u4e00-\u9fff]/.test(p));
  const en = parts.find((p) => !/[\u4e00-\u9fff]/.test(p));
  return (lang() === 'zh' ? zh : en) ?? msg;
}

export function mountTown(root: HTMLElement, params: URLSearchParams): Page {
  let towns: Town[] = [];
  let town: Town | undefined;
  let items: Item[] = [];
  let route: RouteAnswer | null = null;
  let routeFor = '';
  let channel: LiveChannel | null = null;
  let filter: Filter = 'all';
  let idemKey = newKey();
  let suggestAvailable = true;
  let suggestTimer: number | undefined;
  let suggestSeq = 0;
  let dupTimer: number | undefined;
  let dupSeq = 0;
  let dups: DuplicateList | null = null;
  let listLoaded = false;
  let listLimit = LIST_PAGE;
  let lastRaised = '';
  let listTimer: number | undefined;
  const cases = new Map<string, Case>();
  let tc: TownCases | null = null;
  /** Per whistle: the closing-the-loop action being sent, or its refusal. */
  const loopPending = new Map<string, string>();
  const loopError = new Map<string, { code: string; msg: string }>();

  // A town account raises for its own town only: preselected, not changeable.
  const ownTown = account()?.role === 'town' ? (account()?.town ?? null) : null;
  const townSel = h('select', { id: 'town-select', name: 'town', disabled: !!ownTown, 'aria-describedby': ownTown ? 'town-own' : undefined });
  const conn = connIndicator();
  conn.hidden = true;
  const townTitle = h('p', { class: 'subtitle', id: 'town-name' });
  const body = h('div', { class: 'town-body' });
  /** Links to the town's whistles in the ledger (resolved this month, all of them). */
  const ledgerLinks = h('p', { class: 'ledger-links', id: 'town-ledger-links' });

  root.append(
    h(
      'section',
      { class: 'page page-town', 'aria-labelledby': 'town-h' },
      h('div', { class: 'page-head' }, h('div', {}, tx('h1', 'town.title', { id: 'town-h' }), townTitle), conn),
      h(
        'div',
        { class: 'pickers' },
        h('div', { class: 'field grow' }, tx('label', 'town.pick', { for: 'town-select' }), townSel, ownTown ? tx('p', 'town.ownTown', { class: 'hint', id: 'town-own' }) : null),
      ),
      ledgerLinks,
      body,
    ),
  );
  townSel.addEventListener('change', () => select(townSel.value));

  // ---- the raise form
  const itemSel = h('select', { id: 'item', name: 'item', required: true, 'aria-describedby': 'item-err item-info route-preview' });
  const itemInfo = h('p', { id: 'item-info', class: 'hint' });
  const routePreview = h('div', { id: 'route-preview', class: 'route', 'aria-live': 'polite' });
  const desc = h('textarea', { id: 'description', name: 'description', rows: 3, required: true, 'data-i18n-placeholder': 'town.descriptionPlaceholder', 'aria-describedby': 'description-err suggestions' });
  const suggestions = h('div', { id: 'suggestions', class: 'suggestions', 'aria-live': 'polite' });
  const address = h('input', { id: 'address', name: 'address', type: 'text', required: true, autocomplete: 'street-address', 'data-i18n-placeholder': 'town.addressPlaceholder', 'aria-describedby': 'address-err' });
  const lat = h('input', { id: 'lat', name: 'lat', type: 'number', step: 'any', min: -90, max: 90, required: true, inputmode: 'decimal', 'aria-describedby': 'lat-err' });
  const lon = h('input', { id: 'lon', name: 'lon', type: 'number', step: 'any', min: -180, max: 180, required: true, inputmode: 'decimal', 'aria-describedby': 'lon-err' });
  const photos = h('textarea', { id: 'photos', name: 'photos', rows: 2, placeholder: 'https://…' });
  const evidence = evidencePicker('raise');
  const submit = h('button', { type: 'submit', class: 'btn primary big', id: 'raise-submit' }, t('town.submit'));
  const formStatus = h('div', { id: 'form-status', class: 'form-status' });
  /** Likely duplicates of what is being raised (same item, nearby, open), before it is sent. */
  const dupPanel = h('div', { id: 'duplicates', class: 'duplicates', 'aria-live': 'polite' });
  const locBtn = h('button', { type: 'button', class: 'btn ghost small', id: 'use-location' }, t('town.useLocation'));
  const err = (id: string) => h('p', { id, class: 'field-error', hidden: true });

  const form = h(
    'form',
    { id: 'raise-form', class: 'panel raise', novalidate: true, 'aria-labelledby': 'raise-h' },
    tx('h2', 'town.raise', { id: 'raise-h' }),
    h('div', { class: 'field' }, tx('label', 'town.item', { for: 'item' }), itemSel, itemInfo, routePreview, err('item-err')),
    h('div', { class: 'field' }, tx('label', 'town.description', { for: 'description' }), desc, err('description-err'), suggestions),
    h('div', { class: 'field' }, tx('label', 'town.address', { for: 'address' }), address, err('address-err')),
    h(
      'div',
      { class: 'row coords' },
      h('div', { class: 'field' }, tx('label', 'town.lat', { for: 'lat' }), lat, err('lat-err')),
      h('div', { class: 'field' }, tx('label', 'town.lon', { for: 'lon' }), lon, err('lon-err')),
      locBtn,
    ),
    dupPanel,
    evidence.el,
    h('div', { class: 'field' }, tx('label', 'town.photos', { for: 'photos' }), photos),
    h('div', { class: 'submit-row' }, submit, formStatus),
  );
  const filterBar = h('div', { class: 'filters', role: 'radiogroup', 'aria-labelledby': 'filter-label' });
  const list = h('div', { id: 'whistle-list', class: 'whistle-list' });
  const listPanel = h(
    'section',
    { class: 'panel list', 'aria-labelledby': 'list-h' },
    tx('h2', 'town.list', { id: 'list-h' }),
    h('p', { id: 'filter-label', class: 'sr-only' }, t('town.filter')),
    filterBar,
    list,
  );

  itemSel.addEventListener('change', () => {
    clearErr('item-err');
    onItem();
    lookForDuplicates();
  });
  desc.addEventListener('input', () => {
    clearErr('description-err');
    clearTimeout(suggestTimer);
    suggestTimer = window.setTimeout(suggest, 350);
  });
  for (const [el, id] of [
    [address, 'address-err'],
    [lat, 'lat-err'],
    [lon, 'lon-err'],
  ] as const)
    el.addEventListener('input', () => clearErr(id));
  for (const el of [lat, lon]) el.addEventListener('input', lookForDuplicates);
  locBtn.addEventListener('click', useLocation);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    raise();
  });

  init();

  async function init(): Promise<void> {
    clear(body, loadingState());
    try {
      towns = await reg.towns();
    } catch (e) {
      clear(body, errorState(e, init));
      return;
    }
    if (ownTown) towns = towns.filter((x) => x.code === ownTown);
    fillTowns();
    const want = ownTown ?? params.get('town') ?? localStorage.getItem(STORE_TOWN) ?? '';
    select(towns.some((x) => x.code === want) ? want : '');
  }

  function fillTowns(): void {
    const groups = new Map<string, { names: Town['district']['names']; towns: Town[] }>();
    for (const tw of towns) {
      const g = groups.get(tw.district.code) ?? { names: tw.district.names, towns: [] };
      g.towns.push(tw);
      groups.set(tw.district.code, g);
    }
    clear(
      townSel,
      ownTown ? null : h('option', { value: '' }, t('town.pickPlaceholder')),
      [...groups.values()].map((g) =>
        h('optgroup', { label: nm(g.names) }, g.towns.map((tw) => h('option', { value: tw.code, selected: tw.code === town?.code }, nm(tw.names)))),
      ),
    );
  }

  function renderLedgerLinks(): void {
    if (!town || !allowedRoutes().includes('ledger')) return clear(ledgerLinks);
    clear(
      ledgerLinks,
      h('a', { href: ledgerHref({ town: town.code, status: 'resolved', resolved_from: chinaMonthStart() }), class: 'btn ghost small', id: 'town-ledger-resolved' }, t('ledger.link.townResolved')),
      h('a', { href: ledgerHref({ town: town.code }), class: 'btn ghost small', id: 'town-ledger-all' }, t('ledger.link.town')),
    );
  }

  async function select(code: string): Promise<void> {
    channel?.close();
    channel = null;
    cases.clear();
    listLoaded = false;
    lastRaised = '';
    route = null;
    routeFor = '';
    town = towns.find((x) => x.code === code);
    townSel.value = town?.code ?? '';
    setParams({ town: town?.code ?? null });
    townTitle.textContent = town ? `${nm(town.names)} · ${nm(town.district.names)}` : '';
    renderLedgerLinks();
    if (!town) {
      conn.hidden = true;
      clear(body, h('div', { class: 'empty hint' }, tx('p', 'town.pickHint')));
      return;
    }
    try {
      localStorage.setItem(STORE_TOWN, town.code);
    } catch {
      /* ignore */
    }
    clear(body, loadingState());
    const me = town;
    try {
      items = await reg.items(me.district.code);
    } catch (e) {
      clear(body, errorState(e, () => select(code)));
      return;
    }
    if (town !== me) return;
    tc = townCases(me, items, (id) => saveId(me.code, id));
    clear(body, form, listPanel, tc.el);
    applyI18n(body);
    fillItems();
    onItem();
    renderFilters();
    renderList();
    conn.hidden = false;
    channel = new LiveChannel(`town:${me.code}`, {
      snapshot(open, reset) {
        const stale = reset ? [...cases.values()].filter((c) => !TERMINAL.has(c.status) && !open.some((o) => o.id === c.id)) : [];
        for (const c of open) if (!tc?.take(c, false)) cases.set(c.id, c);
        listLoaded = true;
        renderList();
        // Closed whistles are not in the snapshot: fetch the ones raised from this browser, and
        // after a reset the ones that closed while we were away.
        loadSaved(me.code, stale.map((c) => c.id));
      },
      page(list) {
        for (const c of list) if (!cases.has(c.id) && !tc?.take(c, false)) cases.set(c.id, c);
        renderList();
      },
      event(c) {
        // A town case: its own panel.
        if (tc?.take(c, true)) return;
        const before = cases.get(c.id);
        cases.set(c.id, c);
        // Live frames carry summaries: an opened row fetches its timeline again.
        if (timelines.has(c.id)) loadTimeline(c.id);
        // Coalesce bursts (a replay after a reconnect) into one re-render.
        if (listTimer === undefined)
          listTimer = window.setTimeout(() => {
            listTimer = undefined;
            renderList();
            track();
          }, 30);
        if (before && before.status !== c.status) {
          announce(t('town.newStatus', { item: nm(itemBy(c.item)?.names, c.item), status: t(`status.${c.status}` as Key) }));
        }
      },
      state(s) {
        setConn(conn, s);
      },
      error(code, message) {
        clear(list, errorState(new ApiError(0, code, message), () => select(me.code)));
      },
    });
    setConn(conn, channel.state);
  }

  /** Timelines of the rows opened, fetched from `GET /api/v1/whistles/{id}` (frames carry none). */
  const timelines = new Map<string, TimelineEntry[]>();
  /** The whistle views fetched (confirmation, reopens). */
  const views = new Map<string, Case>();
  /** Fetch the timeline; with `grew`, poll until it has more steps than that (an action just sent). */
  async function loadTimeline(id: string, grew?: number): Promise<void> {
    for (let i = 0; i < (grew === undefined ? 1 : 40); i++) {
      const view = await api.whistle(id).catch(() => null);
      if (view?.timeline && (grew === undefined || view.timeline.length > grew)) {
        timelines.set(id, view.timeline);
        views.set(id, view);
        if (cases.has(id)) cases.set(id, { ...cases.get(id)!, status: view.status });
        renderList();
        return;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async function loadSaved(code: string, refresh: string[] = []): Promise<void> {
    const missing = [...savedIds(code).filter((id) => !cases.has(id)), ...refresh];
    const got = await Promise.all(missing.map((id) => api.whistle(id).catch(() => null)));
    if (town?.code !== code) return;
    for (const c of got) if (c && c.town === code && !tc?.take(c, false)) cases.set(c.id, c);
    renderList();
    track();
  }

  /** The whistle just raised: its status and department, live, next to the form. */
  function track(): void {
    const el = document.getElementById('raise-track');
    const c = lastRaised ? cases.get(lastRaised) : undefined;
    if (!el || !c) return;
    clear(
      el,
      statusBadge(c.status),
      c.department ? h('span', { class: 'track-dept' }, ` ${t('town.department')}: ${nm(c.department.names, c.department.code)}`) : null,
    );
  }

  function itemBy(code: string): Item | undefined {
    return items.find((i) => i.code === code);
  }

  function fillItems(): void {
    const keep = itemSel.value;
    const dept = items.filter((i) => i.holder?.kind !== 'towns');
    const own = items.filter((i) => i.holder?.kind === 'towns');
    const opt = (i: Item, suffix = '') => h('option', { value: i.code, selected: i.code === keep }, `${nm(i.names)}${suffix}`);
    clear(
      itemSel,
      h('option', { value: '' }, t('town.itemPlaceholder')),
      h('optgroup', { label: t('town.itemGroupDept') }, dept.map((i) => opt(i))),
      own.length ? h('optgroup', { label: t('town.itemGroupTown') }, own.map((i) => opt(i, t('town.itemTownSuffix')))) : null,
    );
    itemSel.value = keep;
  }

  async function onItem(): Promise<void> {
    const it = itemBy(itemSel.value);
    clear(itemInfo, it ? [h('span', { lang: nmOther(it.names) === it.names.en ? 'en' : 'zh-CN' }, nmOther(it.names)), h('span', { class: 'code' }, ` · ${it.code}`)] : null);
    if (!it || !town) {
      route = null;
      routeFor = '';
      renderRoute();
      return;
    }
    const key = `${town.code}/${it.code}`;
    if (routeFor === key && route) return renderRoute();
    routeFor = key;
    route = null;
    clear(routePreview, h('p', { class: 'route-checking' }, t('town.routeChecking')));
    try {
      const r = await api.route(town.code, it.code);
      if (routeFor !== key) return;
      route = r;
    } catch {
      if (routeFor !== key) return;
      route = null; // the server will tell on submit
    }
    renderRoute();
  }

  function renderRoute(): void {
    submit.disabled = false;
    if (!route) {
      clear(routePreview);
      return;
    }
    if (route.outcome === 'town') {
      submit.disabled = true;
      clear(
        routePreview,
        h(
          'div',
          { class: 'callout warn', role: 'alert', id: 'holds-item' },
          h('strong', {}, t('town.holdsItemTitle')),
          h('p', {}, nm(route.message)),
          caseInstead(),
        ),
      );
    } else if (route.outcome === 'triage') {
      clear(routePreview, h('div', { class: 'callout info' }, h('p', {}, nm(route.message) || t('town.triage'))));
    } else {
      clear(
        routePreview,
        h(
          'div',
          { class: 'callout ok' },
          h('span', { class: 'route-label' }, `${t('town.routePreview')}: `),
          h('strong', { id: 'route-dept' }, nm(route.department?.names, route.department?.code ?? '')),
          route.authority ? h('span', { class: 'authority' }, ` · ${t(`authority.${route.authority}` as Key)}`) : null,
        ),
      );
    }
  }

  /** Asks, a moment after the item or the coordinates change, which open whistles are nearby. */
  function lookForDuplicates(): void {
    clearTimeout(dupTimer);
    dupTimer = window.setTimeout(duplicates, 400);
  }

  async function duplicates(): Promise<void> {
    const seq = ++dupSeq;
    const la = Number(lat.value);
    const lo = Number(lon.value);
    const it = itemBy(itemSel.value);
    const usable = lat.value.trim() && lon.value.trim() && Math.abs(la) <= 85 && Math.abs(lo) <= 180;
    if (!it || !usable || route?.outcome === 'town') {
      dups = null;
      renderDuplicates();
      return;
    }
    try {
      const found = await api.duplicates(it.code, la, lo);
      if (seq !== dupSeq) return;
      dups = found;
    } catch {
      if (seq !== dupSeq) return;
      dups = null; // the raise answers possible_duplicates anyway
    }
    renderDuplicates();
  }

  function renderDuplicates(): void {
    if (!dups || !dups.items.length) {
      clear(dupPanel);
      return;
    }
    const d = dups;
    clear(
      dupPanel,
      h(
        'div',
        { class: 'callout info', id: 'duplicates-found' },
        h('strong', {}, t('town.dupTitle')),
        h('p', {}, t('town.dupHint', { n: d.items.length, r: d.radius_m, h: d.window_hours })),
        h(
          'ul',
          { class: 'duplicate-list' },
          d.items.map((x) =>
            h(
              'li',
              { 'data-id': x.id },
              h('span', { class: 'dup-meta' }, t('town.dupItem', { d: Math.round(x.distance_m), s: t(`status.${x.status}` as Key), t: ago(x.raised_at) })),
              ' ',
              h('span', { class: 'dup-desc' }, x.readable ? `${x.description ?? ''}${x.address ? ` · ${x.address}` : ''}` : t('town.dupOther')),
              ' ',
              h('code', { class: 'dup-id' }, x.id.slice(0, 8)),
            ),
          ),
        ),
      ),
    );
  }

  async function suggest(): Promise<void> {
    const text = desc.value.trim();
    const seq = ++suggestSeq;
    if (!suggestAvailable || text.length < 2) {
      clear(suggestions);
      return;
    }
    try {
      const s = await api.suggest(text);
      if (seq !== suggestSeq) return;
      const known = s.filter((x) => itemBy(x.item)).slice(0, 3);
      clear(
        suggestions,
        known.length
          ? [
              h('span', { class: 'hint' }, t('town.suggestions')),
              known.map((x) =>
                h(
                  'button',
                  {
                    type: 'button',
                    class: 'chip',
                    'data-item': x.item,
                    onclick: () => {
                      itemSel.value = x.item;
                      onItem();
                      itemSel.focus();
                    },
                  },
                  nm(itemBy(x.item)?.names ?? x.names, x.item),
                ),
              ),
            ]
          : null,
      );
    } catch (e) {
      // No assist endpoint yet (404/501), or it failed: typing goes on without suggestions.
      if (e instanceof ApiError && (e.status === 404 || e.status === 501)) suggestAvailable = false;
      clear(suggestions);
    }
  }

  function useLocation(): void {
    if (!navigator.geolocation) return showErr('lat-err', t('town.locationFailed'));
    locBtn.textContent = t('town.locating');
    navigator.geolocation.getCurrentPosition(
      (p) => {
        lat.value = p.coords.latitude.toFixed(6);
        lon.value = p.coords.longitude.toFixed(6);
        locBtn.textContent = t('town.useLocation');
      },
      () => {
        locBtn.textContent = t('town.useLocation');
        showErr('lat-err', t('town.locationFailed'));
      },
      { timeout: 10_000 },
    );
  }

  function showErr(id: string, msg: string): void {
    const el = document.getElementById(id);
    if (!el) return;
    el.textContent = msg;
    el.hidden = false;
    inputOf(id)?.setAttribute('aria-invalid', 'true');
  }
  function clearErr(id: string): void {
    const el = document.getElementById(id);
    if (el) el.hidden = true;
    inputOf(id)?.removeAttribute('aria-invalid');
  }
  /** "lat-err" → the #lat control. */
  function inputOf(errId: string): HTMLElement | null {
    return form.querySelector(`#${errId.replace(/-err$/, '')}`);
  }

  function validate(): boolean {
    let first: HTMLElement | null = null;
    const need = (ok: boolean, id: string, input: HTMLElement, msg: Key = 'town.required') => {
      if (ok) return clearErr(id);
      showErr(id, t(msg));
      first ??= input;
    };
    need(!!itemSel.value, 'item-err', itemSel);
    need(!!desc.value.trim(), 'description-err', desc);
    need(!!address.value.trim(), 'address-err', address);
    const la = Number(lat.value);
    const lo = Number(lon.value);
    if (!lat.value.trim()) need(false, 'lat-err', lat);
    else need(la >= -90 && la <= 90, 'lat-err', lat, 'town.badLat');
    if (!lon.value.trim()) need(false, 'lon-err', lon);
    else need(lo >= -180 && lo <= 180, 'lon-err', lon, 'town.badLon');
    (first as HTMLElement | null)?.focus();
    return !first;
  }

  async function raise(): Promise<void> {
    if (!town || !validate()) return;
    if (evidence.busy()) {
      clear(formStatus, h('div', { class: 'callout warn', role: 'alert', id: 'raise-error', 'data-code': 'uploading' }, h('p', {}, t('evidence.wait'))));
      return;
    }
    const me = town;
    const attachments = evidence.ids();
    const req = {
      town: me.code,
      item: itemSel.value,
      description: desc.value.trim(),
      location: { address: address.value.trim(), lat: Number(lat.value), lon: Number(lon.value) },
      photos: photos.value
        .split(/\s+/)
        .map((s) => s.trim())
        .filter(Boolean),
      ...(attachments.length ? { attachments } : {}),
    };
    submit.disabled = true;
    submit.textContent = t('town.submitting');
    clear(formStatus);
    try {
      const res = await api.raise(req, idemKey);
      idemKey = newKey();
      saveId(me.code, res.id);
      const now = new Date().toISOString();
      if (!cases.has(res.id)) {
        cases.set(res.id, { id: res.id, status: res.status, town: me.code, district: me.district.code, item: req.item, description: req.description, location: req.location, photos: req.photos, attachments: req.attachments, raised_at: now, updated_at: now, department: null, timeline: [] });
      }
      lastRaised = res.id;
      renderList();
      const nDup = res.possible_duplicates?.length ?? 0;
      clear(
        formStatus,
        h(
          'div',
          { class: 'callout ok', role: 'status', id: 'raise-ok' },
          h('p', {}, t('town.raised')),
          nDup ? h('p', { id: 'raise-duplicates' }, t('town.dupRaised', { n: nDup })) : null,
          h('p', { id: 'raise-track', 'aria-live': 'polite' }),
        ),
      );
      dups = null;
      renderDuplicates();
      track();
      desc.value = '';
      photos.value = '';
      evidence.reset();
      clear(suggestions);
    } catch (e) {
      const holds = e instanceof ApiError && e.code === 'town_holds_item';
      // The server's message carries both languages ("en / zh"); show the one in use, and
      // refresh the route preview so the form explains the same thing.
      let holdsMsg = holds ? pickLang((e as ApiError).message) : '';
      if (holds) {
        try {
          route = await api.route(me.code, req.item);
          routeFor = `${me.code}/${req.item}`;
          renderRoute();
          holdsMsg = nm(route.message) || holdsMsg;
        } catch {
          /* keep the server's words */
        }
      }
      clear(
        formStatus,
        h(
          'div',
          { class: `callout ${holds ? 'warn' : 'error'}`, role: 'alert', id: 'raise-error', 'data-code': e instanceof ApiError ? e.code : 'error' },
          holds ? h('strong', {}, t('town.holdsItemTitle')) : null,
          h('p', {}, holds ? holdsMsg : stepError(e).msg),
          holds ? caseInstead('raise-case-instead') : null,
        ),
      );
    } finally {
      submit.textContent = t('town.submit');
      submit.disabled = route?.outcome === 'town';
    }
  }

  /** "Open a town case instead": the case form below, prefilled with what was typed here. */
  function caseInstead(id = 'open-case-instead'): HTMLElement {
    return h(
      'button',
      {
        type: 'button',
        class: 'btn secondary small case-instead',
        id,
        onclick: () =>
          tc?.prefill({ item: itemSel.value, description: desc.value.trim(), address: address.value.trim(), lat: lat.value, lon: lon.value }),
      },
      t('case.instead'),
    );
  }

  /** Confirm (rating + comment) or reopen (reason) a resolved whistle; comment on any. */
  function loopSection(c: Case): HTMLElement {
    const id = c.id;
    const v = views.get(id);
    const conf = v?.confirmation;
    const busy = loopPending.get(id);
    const err = loopError.get(id);
    const status = v?.status ?? c.status;
    const comments = commentsOf(timelines.get(id));
    const send = (action: 'confirm' | 'reopen' | 'comment', call: (key: string) => Promise<unknown>, clearIds: string[]) => async () => {
      loopPending.set(id, action);
      loopError.delete(id);
      renderList();
      const before = timelines.get(id)?.length ?? 0;
      try {
        await call(newKey());
        for (const f of clearIds) {
          const el = document.getElementById(f) as HTMLTextAreaElement | null;
          if (el) el.value = '';
        }
        announce(t(`loop.${action}Sent` as Key));
        await loadTimeline(id, before);
      } catch (e) {
        loopError.set(id, stepError(e));
      } finally {
        loopPending.delete(id);
        renderList();
      }
    };
    const val = (f: string) => ((document.getElementById(f) as HTMLTextAreaElement | HTMLSelectElement | null)?.value ?? '').trim();
    const need = (f: string, key: Key, go: () => void) => () => {
      if (val(f)) return go();
      loopError.set(id, { code: 'required', msg: t(key) });
      renderList();
      document.getElementById(f)?.focus();
    };
    const form = (cls: string, onsubmit: () => void, ...kids: (HTMLElement | null)[]) =>
      h(
        'form',
        {
          class: `loop-form ${cls}`,
          novalidate: true,
          onsubmit: (e: Event) => {
            e.preventDefault();
            onsubmit();
          },
        },
        ...kids,
      );
    return h(
      'div',
      { class: 'loop', 'data-id': id },
      conf
        ? h(
            'p',
            { class: 'callout ok confirmation', id: `confirmation-${id}`, 'data-rating': conf.rating },
            t(conf.by === 'deemed' ? 'loop.deemed' : 'loop.confirmed', { rating: conf.rating }),
            ' ',
            h('span', { class: 'stars', 'aria-hidden': 'true' }, '★'.repeat(conf.rating) + '☆'.repeat(5 - conf.rating)),
            conf.comment ? h('span', { class: 'detail' }, ` ${conf.comment}`) : null,
          )
        : null,
      v?.reopens ? h('p', { class: 'hint reopens' }, t('loop.reopens', { n: v.reopens })) : null,
      status === 'resolved' && !conf
        ? h(
            'div',
            { class: 'row loop-actions' },
            form(
              'confirm-form',
              send('confirm', (key) => api.confirm(id, Number(val(`confirm-rating-${id}`)), val(`confirm-comment-${id}`) || undefined, key), [`confirm-comment-${id}`]),
              tx('h4', 'loop.confirm'),
              h(
                'div',
                { class: 'field' },
                h('label', { for: `confirm-rating-${id}` }, t('loop.rating')),
                h('select', { id: `confirm-rating-${id}` }, [5, 4, 3, 2, 1].map((n) => h('option', { value: n }, t(`loop.rating${n}` as Key)))),
              ),
              h('div', { class: 'field' }, h('label', { for: `confirm-comment-${id}` }, t('loop.confirmComment')), h('textarea', { id: `confirm-comment-${id}`, rows: 2 })),
              h('button', { type: 'submit', class: 'btn primary', 'data-action': 'confirm', disabled: !!busy }, busy === 'confirm' ? t('board.sending') : t('loop.confirmSubmit')),
            ),
            form(
              'reopen-form',
              need(`reopen-reason-${id}`, 'loop.reasonRequired', send('reopen', (key) => api.reopen(id, val(`reopen-reason-${id}`), key), [`reopen-reason-${id}`])),
              tx('h4', 'loop.reopen'),
              h('div', { class: 'field' }, h('label', { for: `reopen-reason-${id}` }, t('loop.reopenReason')), h('textarea', { id: `reopen-reason-${id}`, rows: 2 })),
              h('button', { type: 'submit', class: 'btn danger-outline', 'data-action': 'reopen', disabled: !!busy }, busy === 'reopen' ? t('board.sending') : t('loop.reopenSubmit')),
            ),
          )
        : null,
      h(
        'div',
        { class: 'comments-box' },
        tx('h4', 'comments.title'),
        comments.length ? h('p', { class: 'sr-only' }, t('comments.count', { n: comments.length })) : null,
        form(
          'comment-form',
          need(`comment-text-${id}`, 'comments.required', send('comment', (key) => api.comment(id, val(`comment-text-${id}`), key), [`comment-text-${id}`])),
          h('label', { for: `comment-text-${id}`, class: 'sr-only' }, t('comments.label')),
          h('textarea', { id: `comment-text-${id}`, rows: 2, placeholder: t('comments.placeholder') }),
          h('button', { type: 'submit', class: 'btn secondary', 'data-action': 'comment', disabled: !!busy }, busy === 'comment' ? t('board.sending') : t('comments.send')),
        ),
      ),
      err ? h('p', { class: 'field-error loop-error', role: 'alert', 'data-code': err.code }, err.msg) : null,
    );
  }

  function renderFilters(): void {
    clear(
      filterBar,
      FILTERS.map((f) =>
        h(
          'button',
          {
            type: 'button',
            role: 'radio',
            class: 'chip filter',
            'data-filter': f,
            'aria-checked': String(f === filter),
            tabindex: f === filter ? 0 : -1,
            onclick: () => {
              filter = f;
              listLimit = LIST_PAGE;
              renderFilters();
              renderList();
              filterBar.querySelector<HTMLElement>(`[data-filter="${f}"]`)?.focus();
            },
            onkeydown: (e: Event) => {
              const k = (e as KeyboardEvent).key;
              const i = FILTERS.indexOf(filter);
              const j = k === 'ArrowRight' || k === 'ArrowDown' ? i + 1 : k === 'ArrowLeft' || k === 'ArrowUp' ? i - 1 : null;
              if (j === null) return;
              e.preventDefault();
              filter = FILTERS[(j + FILTERS.length) % FILTERS.length];
              renderFilters();
              renderList();
              filterBar.querySelector<HTMLElement>(`[data-filter="${filter}"]`)?.focus();
            },
          },
          f === 'all' ? t('town.filterAll') : f === 'open' ? t('town.filterOpen') : t(`status.${f}` as Key),
        ),
      ),
    );
  }

  function renderList(): void {
    rerender(list, renderListNow);
  }

  function renderListNow(): void {
    if (!town) return;
    const all = [...cases.values()].sort((a, b) => Date.parse(b.raised_at) - Date.parse(a.raised_at));
    const shown = all.filter((c) => (filter === 'all' ? true : filter === 'open' ? !TERMINAL.has(c.status) : c.status === filter));
    if (!listLoaded && all.length === 0) return clear(list, loadingState());
    if (!shown.length) return clear(list, h('p', { class: 'empty' }, all.length ? t('town.emptyFiltered') : t('town.empty')));
    const open = new Set([...list.querySelectorAll<HTMLDetailsElement>('details[open]')].map((d) => d.dataset.id));
    clear(
      list,
      h(
        'ul',
        { class: 'whistles' },
        shown.slice(0, listLimit).map((c) =>
          h(
            'li',
            { class: 'whistle', 'data-id': c.id, 'data-status': c.status },
            h(
              'details',
              {
                'data-id': c.id,
                open: open.has(c.id),
                ontoggle: (e: Event) => {
                  if ((e.currentTarget as HTMLDetailsElement).open && !timelines.has(c.id)) loadTimeline(c.id);
                },
              },
              h(
                'summary',
                {},
                h('span', { class: 'w-title' }, nm(itemBy(c.item)?.names, c.item)),
                statusBadge(c.status),
                h('span', { class: 'w-desc' }, c.description),
                h(
                  'span',
                  { class: 'w-meta' },
                  c.department ? nm(c.department.names, c.department.code) : TERMINAL.has(c.status) ? '' : t('town.routing'),
                  ' · ',
                  h('time', { datetime: c.raised_at, title: dateTime(c.raised_at) }, ago(c.raised_at)),
                ),
              ),
              h('p', { class: 'desc' }, c.description),
              h('p', { class: 'loc' }, icon('pin'), c.location?.address ?? ''),
              mergeNote(views.get(c.id) ?? c),
              timelines.has(c.id) ? attachmentGallery(views.get(c.id)?.attachments, `whistle-${c.id}`) : null,
              (timelines.get(c.id) ?? c.timeline)?.length ? timelineList((timelines.get(c.id) ?? c.timeline)!) : null,
              timelines.has(c.id) ? loopSection(c) : null,
            ),
          ),
        ),
      ),
      shown.length > listLimit
        ? h(
            'button',
            {
              type: 'button',
              class: 'btn ghost more',
              onclick: () => {
                listLimit += LIST_PAGE * 5;
                renderList();
              },
            },
            t('common.showMore', { n: shown.length - listLimit }),
          )
        : null,
    );
  }

  /** Where a merged whistle went, or which were merged into this one. */
  function mergeNote(c: Case): HTMLElement | null {
    if (c.merged_into) return h('p', { class: 'callout info merged-into' }, t('town.mergedInto', { id: c.merged_into.id }));
    if (c.merged?.length) return h('p', { class: 'hint merged-from' }, t('town.mergedFrom', { list: c.merged.map((m) => `${m.id.slice(0, 8)} (${m.town})`).join(', ') }));
    return null;
  }

  return {
    unmount() {
      clearTimeout(suggestTimer);
      clearTimeout(dupTimer);
      clearTimeout(listTimer);
      channel?.close();
    },
    relabel() {
      if (towns.length) fillTowns();
      townTitle.textContent = town ? `${nm(town.names)} · ${nm(town.district.names)}` : '';
      renderLedgerLinks();
      if (!town || !items.length) return;
      fillItems();
      const it = itemBy(itemSel.value);
      clear(itemInfo, it ? [h('span', {}, nmOther(it.names)), h('span', { class: 'code' }, ` · ${it.code}`)] : null);
      renderRoute();
      submit.textContent = t('town.submit');
      locBtn.textContent = t('town.useLocation');
      renderFilters();
      renderList();
      tc?.relabel();
      evidence.relabel();
      renderDuplicates();
      if (formStatus.querySelector('#raise-ok')) {
        formStatus.querySelector('#raise-ok p')!.textContent = t('town.raised');
        track();
      }
      if (channel) setConn(conn, channel.state);
      clear(suggestions);
    },
  };
}
