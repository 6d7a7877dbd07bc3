// Department live board: pick a department; its open cases arrive over the WebSocket without a
// reload, grouped by stage; one click to acknowledge, mark arrived, resolve, or reject with a reason.
import { api, ApiError, newKey, TERMINAL, type Case, type District, type Town } from '../api';
import { announce, clear, h, icon, statusBadge, tx } from '../dom';
import { ago, dateTime, duration, nextDeadline } from '../format';
import { nm, nmOther, t, type Key, type Names } from '../i18n';
import * as reg from '../registry';
import { setParams, type Page } from '../router';
import { LiveChannel, type ConnState } from '../ws';
import { connIndicator, errorMessage, errorState, loadingState, readOnlyNote, setConn } from './common';
import { account, actingDepartment, ownDistrict } from '../session';

const STORE_KEY = 'whistle.board.dept';
type Action = 'acknowledge' | 'arrive' | 'resolve' | 'reject';
type Column = 'new' | 'acknowledged' | 'on_site';
const COLUMNS: Column[] = ['new', 'acknowledged', 'on_site'];
/** Cards shown per column before "show more" (a busy department can have hundreds open). */
const PAGE = 20;

function columnOf(c: Case): Column | null {
  if (TERMINAL.has(c.status)) return null;
  if (c.status === 'acknowledged') return 'acknowledged';
  if (c.status === 'on_site') return 'on_site';
  return 'new';
}

interface CardUi {
  pending?: Action;
  error?: string;
  rejectOpen?: boolean;
  reason?: string;
  fresh?: boolean;
}

export function mountBoard(root: HTMLElement, params: URLSearchParams): Page {
  const cases = new Map<string, Case>();
  const closed: Case[] = [];
  const ui = new Map<string, CardUi>();
  const towns = new Map<string, Town>();
  const itemNames = new Map<string, Names>();
  let channel: LiveChannel | null = null;
  let districts: District[] = [];
  let depts: reg.Department[] = [];
  // What the account may see and do: a department sees only its own board; a command centre and
  // a district manager only their district's; only the department a case belongs to acts on it.
  const role = account()?.role;
  const acting = actingDepartment();
  const lockedDistrict = ownDistrict();
  const lockedDept = role === 'department' ? acting : null;
  let deptCode = lockedDept ?? params.get('dept') ?? (role === 'command_centre' ? acting : null) ?? localStorage.getItem(STORE_KEY) ?? '';
  let districtCode = lockedDistrict ?? deptCode.split('-')[0] ?? '';
  let canAct = false;
  let loaded = false;
  const limit: Record<Column, number> = { new: PAGE, acknowledged: PAGE, on_site: PAGE };
  let lastActed = '';
  let deferred = false;
  // Live events are coalesced: a burst of frames (a replay after a reconnect, a busy district)
  // re-renders the board once.
  let soonTimer: number | undefined;
  let soonFocus: string | undefined;
  const soon = (id: string): void => {
    soonFocus ??= id;
    if (soonTimer !== undefined) return;
    soonTimer = window.setTimeout(() => {
      const f = soonFocus;
      soonTimer = undefined;
      soonFocus = undefined;
      render(f);
    }, 30);
  };

  const districtSel = h('select', { id: 'board-district', name: 'district', disabled: !!lockedDistrict });
  const deptSel = h('select', { id: 'board-dept', name: 'department', disabled: !!lockedDept });
  const note = h('div', { class: 'board-note' });
  const conn = connIndicator();
  const body = h('div', { class: 'board-body' });
  const heading = tx('h1', 'board.title');
  const deptTitle = h('p', { class: 'subtitle', id: 'board-dept-name' });

  root.append(
    h(
      'section',
      { class: 'page page-board', 'aria-labelledby': 'board-h' },
      h(
        'div',
        { class: 'page-head' },
        h('div', {}, Object.assign(heading, { id: 'board-h' }), deptTitle),
        conn,
      ),
      h(
        'div',
        { class: 'pickers' },
        h('div', { class: 'field' }, tx('label', 'board.district', { for: 'board-district' }), districtSel),
        h('div', { class: 'field grow' }, tx('label', 'board.pick', { for: 'board-dept' }), deptSel),
      ),
      note,
      body,
    ),
  );

  districtSel.addEventListener('change', async () => {
    districtCode = districtSel.value;
    deptCode = '';
    await fillDepartments();
    select('');
  });
  deptSel.addEventListener('change', () => select(deptSel.value));
  body.addEventListener('focusout', () => {
    window.setTimeout(() => {
      if (deferred) render();
    }, 300);
  });

  const tick = window.setInterval(updateCountdowns, 500);

  init();

  async function init(): Promise<void> {
    clear(body, loadingState());
    try {
      const all = await reg.towns();
      for (const tw of all) towns.set(tw.code, tw);
      districts = await reg.districts();
    } catch (e) {
      clear(body, errorState(e, init));
      return;
    }
    if (lockedDistrict) districts = districts.filter((d) => d.code === lockedDistrict);
    if (!districts.some((d) => d.code === districtCode)) districtCode = districts[0]?.code ?? '';
    fillDistricts();
    await fillDepartments();
    select(depts.some((d) => d.code === deptCode) ? deptCode : '');
  }

  function fillDistricts(): void {
    clear(
      districtSel,
      districts.map((d) => h('option', { value: d.code, selected: d.code === districtCode }, nm(d.names))),
    );
  }

  async function fillDepartments(): Promise<void> {
    const d = districts.find((x) => x.code === districtCode);
    depts = [];
    if (d) {
      try {
        depts = await reg.departments(d);
        if (lockedDept) depts = depts.filter((x) => x.code === lockedDept);
        for (const it of await reg.items(d.code)) itemNames.set(it.code, it.names);
      } catch (e) {
        clear(body, errorState(e, init));
      }
    }
    clear(
      deptSel,
      lockedDept ? null : h('option', { value: '' }, t('board.pickPlaceholder')),
      depts.map((x) => h('option', { value: x.code, selected: x.code === deptCode }, nm(x.names))),
    );
  }

  /** Who may act here: only the department the board belongs to (the server checks anyway). */
  function renderNote(): void {
    canAct = !!deptCode && acting === deptCode;
    if (!deptCode || canAct) return clear(note);
    if (role === 'manager') return clear(note, readOnlyNote(t('common.readOnly')));
    const own = depts.find((d) => d.code === acting);
    clear(note, readOnlyNote(t('board.readOnlyOther', { dept: own ? nm(own.names) : (acting ?? '') })));
  }

  function select(code: string): void {
    channel?.close();
    channel = null;
    cases.clear();
    closed.length = 0;
    ui.clear();
    loaded = false;
    deptCode = code;
    deptSel.value = code;
    setParams({ dept: code || null });
    const dept = depts.find((d) => d.code === code);
    deptTitle.textContent = dept ? `${nm(dept.names)} · ${dept.code}` : '';
    renderNote();
    if (!code) {
      conn.hidden = true;
      clear(body, h('div', { class: 'empty hint' }, tx('p', 'board.pickHint')));
      return;
    }
    try {
      localStorage.setItem(STORE_KEY, code);
    } catch {
      /* ignore */
    }
    conn.hidden = false;
    clear(body, loadingState('board.loading'));
    channel = new LiveChannel(`department:${code}`, {
      snapshot(list, reset) {
        cases.clear();
        for (const c of list) cases.set(c.id, c);
        if (reset) ui.clear();
        loaded = true;
        render();
      },
      event(c, ev) {
        const known = cases.has(c.id);
        if (TERMINAL.has(c.status)) {
          cases.delete(c.id);
          if (!closed.some((x) => x.id === c.id)) closed.unshift(c);
          ui.delete(c.id);
        } else {
          cases.set(c.id, c);
          const u = ui.get(c.id) ?? {};
          u.pending = undefined;
          u.error = undefined;
          if (!known) u.fresh = true;
          ui.set(c.id, u);
        }
        soon(c.id);
        if (!known && !TERMINAL.has(c.status) && ev.type === 'whistle.dispatched') {
          announce(t('board.newDispatch', { item: itemLabel(c.item), town: townLabel(c.town) }));
        }
      },
      state(s: ConnState) {
        setConn(conn, s);
      },
      error(_code, message) {
        clear(body, errorState(new ApiError(0, _code, message), () => select(code)));
      },
    });
    setConn(conn, channel.state);
  }

  function itemLabel(code: string): string {
    return nm(itemNames.get(code), code);
  }
  function townLabel(code: string): string {
    return nm(towns.get(code)?.names, code);
  }

  /**
   * Render the columns; keep focus on the card that was acted on. While someone is typing a
   * reject reason (possibly through an IME), live updates wait until they leave the form.
   */
  function render(focusId?: string, force = false): void {
    if (!loaded) return;
    if (!force && body.querySelector('.reject-form')?.contains(document.activeElement)) {
      deferred = true;
      return;
    }
    deferred = false;
    const active = document.activeElement;
    const hadFocus = focusId && active instanceof HTMLElement && active.closest(`[data-id="${focusId}"]`) !== null;
    const activeId = active instanceof HTMLElement ? active.id : '';
    const byCol: Record<Column, Case[]> = { new: [], acknowledged: [], on_site: [] };
    for (const c of cases.values()) {
      const col = columnOf(c);
      if (col) byCol[col].push(c);
    }
    for (const col of COLUMNS) byCol[col].sort((a, b) => Date.parse(b.raised_at) - Date.parse(a.raised_at));

    clear(
      body,
      h(
        'div',
        { class: 'columns' },
        COLUMNS.map((col) =>
          h(
            'section',
            { class: `column col-${col}`, 'aria-labelledby': `col-${col}-h`, 'data-column': col },
            h(
              'h2',
              { id: `col-${col}-h` },
              t(`board.col.${col}` as Key),
              ' ',
              h('span', { class: 'count', 'aria-label': t('board.count', { n: byCol[col].length }) }, String(byCol[col].length)),
            ),
            byCol[col].length
              ? h('ul', { class: 'cards' }, byCol[col].slice(0, limit[col]).map((c) => h('li', {}, card(c))))
              : h('p', { class: 'column-empty' }, t('board.empty')),
            byCol[col].length > limit[col]
              ? h(
                  'button',
                  {
                    type: 'button',
                    class: 'btn ghost more',
                    onclick: () => {
                      limit[col] += PAGE * 4;
                      render();
                    },
                  },
                  t('common.showMore', { n: byCol[col].length - limit[col] }),
                )
              : null,
          ),
        ),
      ),
      closed.length
        ? h(
            'details',
            { class: 'closed' },
            h('summary', {}, `${t('board.closed')} (${closed.length})`),
            h(
              'ul',
              { class: 'closed-list' },
              closed.slice(0, 50).map((c) =>
                h(
                  'li',
                  { 'data-id': c.id, 'data-status': c.status },
                  statusBadge(c.status),
                  ' ',
                  h('strong', {}, itemLabel(c.item)),
                  ` · ${townLabel(c.town)} · ${dateTime(c.updated_at)} · `,
                  h('span', { class: 'closed-desc' }, c.description),
                ),
              ),
            ),
          )
        : null,
    );
    for (const u of ui.values()) u.fresh = false;
    updateCountdowns();
    // Keep keyboard users where they were: the same control, or the card they acted on.
    const restore = activeId ? document.getElementById(activeId) : null;
    if (restore && !(restore as HTMLButtonElement).disabled) return restore.focus();
    const target = hadFocus ? focusId : lastActed && (!document.activeElement || document.activeElement === document.body) ? lastActed : '';
    if (target) {
      const el =
        body.querySelector<HTMLElement>(`[data-id="${target}"] .actions button:not([disabled])`) ??
        body.querySelector<HTMLElement>(`article[data-id="${target}"]`);
      el?.focus();
    }
  }

  function card(c: Case): HTMLElement {
    const u = ui.get(c.id) ?? {};
    const names = itemNames.get(c.item);
    const triage = c.department?.code?.endsWith('-CC');
    const dl = nextDeadline(c);
    const id = c.id;
    // Read-only accounts (managers, another department's board) see the cases without buttons.
    const actions: HTMLElement[] = [];
    const btn = (action: Action, cls: string) =>
      h(
        'button',
        {
          type: 'button',
          id: `act-${action}-${id}`,
          class: `btn ${cls}`,
          'data-action': action,
          disabled: !!u.pending,
          'aria-busy': u.pending === action ? 'true' : undefined,
          onclick: () => (action === 'reject' ? openReject(id) : act(id, action)),
        },
        u.pending === action ? t('board.sending') : t(`board.${action}` as Key),
      );
    if (canAct && c.status === 'dispatched') actions.push(btn('acknowledge', 'primary'));
    if (canAct && c.status === 'acknowledged') actions.push(btn('arrive', 'primary'), btn('resolve', 'secondary'));
    if (canAct && c.status === 'on_site') actions.push(btn('resolve', 'primary'));
    if (canAct && (c.status === 'dispatched' || c.status === 'acknowledged')) actions.push(btn('reject', 'danger-outline'));

    const reasonId = `reason-${id}`;
    const reject = u.rejectOpen && canAct
      ? h(
          'form',
          {
            class: 'reject-form',
            novalidate: true,
            onsubmit: (e: Event) => {
              e.preventDefault();
              const reason = (document.getElementById(reasonId) as HTMLTextAreaElement).value.trim();
              if (!reason) {
                u.error = t('board.reasonRequired');
                ui.set(id, u);
                render(id, true);
                document.getElementById(reasonId)?.focus();
                return;
              }
              u.reason = reason;
              act(id, 'reject', { reason });
            },
          },
          h('label', { for: reasonId }, t('board.rejectReason')),
          h('textarea', {
            id: reasonId,
            rows: 2,
            required: true,
            placeholder: t('board.rejectReasonPlaceholder'),
            oninput: (e: Event) => {
              u.reason = (e.target as HTMLTextAreaElement).value;
            },
          }),
          h(
            'div',
            { class: 'row' },
            h('button', { type: 'submit', class: 'btn danger', disabled: !!u.pending }, u.pending === 'reject' ? t('board.sending') : t('board.rejectConfirm')),
            h(
              'button',
              {
                type: 'button',
                class: 'btn ghost',
                onclick: () => {
                  u.rejectOpen = false;
                  u.error = undefined;
                  render(id, true);
                  document.getElementById(`act-reject-${id}`)?.focus();
                },
              },
              t('common.cancel'),
            ),
          ),
        )
      : null;
    if (reject) queueMicrotask(() => {
      const ta = document.getElementById(reasonId) as HTMLTextAreaElement | null;
      if (ta && u.reason && !ta.value) ta.value = u.reason;
    });

    const lat = c.location?.lat;
    const lon = c.location?.lon;
    return h(
      'article',
      {
        class: `card${u.fresh ? ' fresh' : ''}`,
        'data-id': id,
        'data-status': c.status,
        'data-item': c.item,
        tabindex: -1,
        'aria-labelledby': `title-${id}`,
      },
      h(
        'header',
        { class: 'card-head' },
        h('h3', { id: `title-${id}`, class: 'card-title' }, nm(names, c.item)),
        triage ? h('span', { class: 'badge triage' }, t('board.triage')) : null,
        statusBadge(c.status),
      ),
      names ? h('p', { class: 'other-lang', lang: nmOther(names) === names.en ? 'en' : 'zh-CN' }, nmOther(names), h('span', { class: 'code' }, ` · ${c.item}`)) : null,
      h(
        'p',
        { class: 'meta' },
        h('span', { class: 'town' }, townLabel(c.town)),
        ' · ',
        h('time', { datetime: c.raised_at, title: dateTime(c.raised_at), 'data-ago': c.raised_at }, ago(c.raised_at)),
      ),
      dl
        ? h('p', { class: 'due', 'data-due': String(dl.due), 'data-stage': dl.stage, role: 'timer' }, '')
        : null,
      h('p', { class: 'desc' }, c.description),
      h(
        'p',
        { class: 'loc' },
        icon('pin'),
        c.location?.address ?? '',
        ' ',
        Number.isFinite(lat) && Number.isFinite(lon)
          ? h(
              'a',
              {
                href: `https://uri.amap.com/marker?position=${lon},${lat}&name=${encodeURIComponent(c.location.address)}`,
                target: '_blank',
                rel: 'noopener',
                class: 'coord-link',
              },
              `${lat.toFixed(5)}, ${lon.toFixed(5)}`,
            )
          : null,
      ),
      c.photos?.length
        ? h(
            'p',
            { class: 'photos' },
            `${t('board.photos')}: `,
            c.photos.map((p, i) => [i ? ' ' : '', h('a', { href: p, target: '_blank', rel: 'noopener' }, `#${i + 1}`)]),
          )
        : null,
      actions.length ? h('div', { class: 'actions' }, actions) : null,
      reject,
      u.error ? h('p', { class: 'card-error', role: 'alert' }, u.error) : null,
    );
  }

  function openReject(id: string): void {
    const u = ui.get(id) ?? {};
    u.rejectOpen = true;
    u.error = undefined;
    ui.set(id, u);
    render(id, true);
    document.getElementById(`reason-${id}`)?.focus();
  }

  async function act(id: string, action: Action, bodyObj?: object): Promise<void> {
    lastActed = id;
    const u = ui.get(id) ?? {};
    u.pending = action;
    u.error = undefined;
    ui.set(id, u);
    render(id, true);
    try {
      await api.act(id, action, bodyObj, newKey());
      // The case moves when its event comes back over the WebSocket; keep "sending" until then.
    } catch (e) {
      u.pending = undefined;
      u.error = e instanceof ApiError && (e.status === 403 || e.network) ? errorMessage(e) : e instanceof ApiError ? e.message : String(e);
      ui.set(id, u);
      render(id, true);
    }
  }

  function updateCountdowns(): void {
    const now = Date.now();
    body.querySelectorAll<HTMLElement>('[data-due]').forEach((el) => {
      const due = Number(el.dataset.due);
      const left = due - now;
      const label = t(`board.due.${el.dataset.stage}` as Key);
      el.classList.toggle('overdue', left < 0);
      el.classList.toggle('soon', left >= 0 && left < 10 * 60_000);
      el.textContent = `${label}: ${left < 0 ? t('board.overdueBy', { d: duration(left) }) : t('board.remaining', { d: duration(left) })}`;
    });
    body.querySelectorAll<HTMLElement>('[data-ago]').forEach((el) => {
      el.textContent = ago(el.dataset.ago!, now);
    });
  }

  return {
    unmount() {
      clearInterval(tick);
      clearTimeout(soonTimer);
      channel?.close();
    },
    relabel() {
      fillDistricts();
      const keep = deptSel.value;
      clear(
        deptSel,
        lockedDept ? null : h('option', { value: '' }, t('board.pickPlaceholder')),
        depts.map((x) => h('option', { value: x.code, selected: x.code === keep }, nm(x.names))),
      );
      const dept = depts.find((d) => d.code === deptCode);
      deptTitle.textContent = dept ? `${nm(dept.names)} · ${dept.code}` : '';
      renderNote();
      if (channel) setConn(conn, channel.state);
      if (loaded) render();
    },
  };
}
