// Department live board: pick a department; its open cases arrive over the WebSocket without a
// reload, grouped by stage; one click to acknowledge, mark arrived, resolve, or reject with a reason.
// The owning department, and the district's command centre on any board of its district, may also
// transfer a case to another department of the district, and pause / resume its SLA clocks.
// Every card has its comments with the town (issue K): live, as `case.commented` frames arrive.
import { api, ApiError, newKey, TERMINAL, type Case, type District, type Status, type TimelineEntry, type Town } from '../api';
import { caseList } from './caselist';
import { commentList, commentsOf, stepError } from './casework';
import { CREDIT_CODE } from './towncases';
import { DEPARTMENT_ACTIONS, type DepartmentAction } from '../generated/names';
import { announce, clear, h, icon, statusBadge, tx } from '../dom';
import { ago, dateTime, duration, nextDeadline } from '../format';
import { nm, nmOther, t, type Key, type Names } from '../i18n';
import * as reg from '../registry';
import { setParams, type Page } from '../router';
import { LiveChannel, type ConnState } from '../ws';
import { connIndicator, errorMessage, errorState, loadingState, readOnlyNote, setConn } from './common';
import { account, actingDepartment, allowedRoutes, ownDistrict } from '../session';
import { ledgerHref } from '../ledgerlinks';
import { lazyGallery } from './evidence';

const STORE_KEY = 'whistle.board.dept';
type Action = 'acknowledge' | 'arrive' | 'resolve' | 'reject' | 'transfer' | 'pause' | 'resume' | 'merge';
/** The actions that ask for more (a reason, a department, the case to merge into) in a small form on the card first. */
type FormKind = 'reject' | 'transfer' | 'pause' | 'merge';
const FORM_KINDS: readonly string[] = ['reject', 'transfer', 'pause', 'merge'];
const isForm = (a: Action): a is FormKind => FORM_KINDS.includes(a);
/** Statuses a case may be transferred from (the server checks too). */
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
  errorCode?: string;
  /** The form open on the card, if any. */
  form?: FormKind;
  /** What was typed in each form (kept across live re-renders). */
  reasons?: Partial<Record<FormKind, string>>;
  /** The department picked in the transfer form. */
  to?: string;
  /** The case picked in the merge form (the surviving one). */
  into?: string;
  fresh?: boolean;
  /**
   * The Idempotency-Key of an attempt that got no definite answer (network, 5xx), reused when the
   * same action (`sig`: action and body) is tried again, so it takes effect at most once.
   */
  retry?: { sig: string; key: string };
  /** The comments thread is open on the card. */
  comments?: boolean;
  /** The "open an enforcement case from this whistle" form is open, and what was typed in it. */
  caseForm?: boolean;
  caseDraft?: { kind: 'unit' | 'individual'; name: string; credit: string };
  casePending?: boolean;
  caseError?: string;
  caseErrorCode?: string;
  caseKey?: string;
  /** The comments, fetched from the case's timeline when the thread opens (and on each new one). */
  thread?: TimelineEntry[];
  /** Comments that arrived live while the thread was closed. */
  unread?: number;
  commentDraft?: string;
  commentPending?: boolean;
  commentError?: string;
  commentErrorCode?: string;
}

/** Whether the case's rules allow a department action from `status`. */
function allows(action: DepartmentAction, status: Status): boolean {
  return (DEPARTMENT_ACTIONS[action] as readonly Status[]).includes(status);
}

/** A case on hold: its SLA clocks are stopped. */
function isPaused(c: Case): boolean {
  return c.paused === true || c.deadlines?.paused === true;
}

/** The reason of the pause in force (the summary's, else the latest `whistle.paused` on the timeline). */
function pauseReason(c: Case): string {
  if (c.pause_reason) return c.pause_reason;
  for (let i = (c.timeline?.length ?? 0) - 1; i >= 0; i--) {
    const e = c.timeline![i];
    if (e.type === 'whistle.resumed') return '';
    if (e.type === 'whistle.paused') return e.detail ?? '';
  }
  return '';
}

/** An action's error as shown on the card: the server's reason, said plainly. */
function cardError(e: unknown): string {
  if (!(e instanceof ApiError)) return e instanceof Error ? e.message : String(e);
  if (e.status === 403 || e.network) return errorMessage(e);
  if (e.code === 'invalid_transition') return t('board.err.conflict', { msg: e.message });
  if (e.code === 'invalid_field') return t('board.err.invalid', { msg: e.message });
  if (e.code === 'action_in_progress') return t('board.err.busy', { msg: e.message });
  return e.message;
}

/** No definite answer: the same request may be sent again with the same key. */
function retriable(e: unknown): boolean {
  return e instanceof ApiError && (e.network || e.status === 502 || e.status === 503 || e.status === 504);
}

/** Send, and on a dropped connection or a gateway error try twice more (same key, same body). */
async function withRetry<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (e) {
      if (attempt >= 2 || !retriable(e)) throw e;
      await new Promise((r) => setTimeout(r, 400 * 3 ** attempt));
    }
  }
}

/** A card form's required picker: a placeholder first, the kept choice selected, each pick reported. */
function choice(
  id: string,
  name: string,
  placeholder: string,
  options: { value: string; label: string }[],
  selected: string | undefined,
  pick: (value: string) => void,
): HTMLSelectElement {
  return h(
    'select',
    { id, name, required: true, onchange: (e: Event) => pick((e.target as HTMLSelectElement).value) },
    h('option', { value: '' }, placeholder),
    options.map((o) => h('option', { value: o.value, selected: o.value === selected }, o.label)),
  ) as HTMLSelectElement;
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
  /** Every department of the district (`GET /api/v1/districts`): where a case may be transferred. */
  let targets: reg.Department[] | null = null;
  let targetsP: Promise<void> | null = null;
  /** Counts department loads: only the latest district's answer fills the picker. */
  let fillGeneration = 0;
  // What the account may see and do: a department sees only its own board; a command centre and
  // a district manager only their district's; only the department a case belongs to acts on it.
  const role = account()?.role;
  const acting = actingDepartment();
  const lockedDistrict = ownDistrict();
  const lockedDept = role === 'department' ? acting : null;
  let deptCode = lockedDept ?? params.get('dept') ?? (role === 'command_centre' ? acting : null) ?? localStorage.getItem(STORE_KEY) ?? '';
  let districtCode = lockedDistrict ?? deptCode.split('-')[0] ?? '';
  let canAct = false;
  /** A command centre looking at a board of its district: it may transfer, pause and resume. */
  const supervisor = role === 'command_centre' && !!lockedDistrict;
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
  /** Links to the department's cases in the ledger (its overdue ones, all of them). */
  const ledgerLinks = h('p', { class: 'ledger-links', id: 'board-ledger-links' });
  const conn = connIndicator();
  const body = h('div', { class: 'board-body' });
  const heading = tx('h1', 'board.title');
  // The department's own enforcement cases, opened from whistles it owns (issue K): the same
  // procedure as a town's cases. Outside `body`, so live board renders never disturb a step form.
  const deptCases = caseList((code) => itemNames.get(code), { id: 'dept-case-list', rowClass: 'dept-case', empty: 'board.casesEmpty' });
  const casesPanel = h(
    'section',
    { class: 'panel dept-cases', id: 'dept-cases', 'aria-labelledby': 'dept-cases-h', hidden: true },
    tx('h2', 'board.cases', { id: 'dept-cases-h' }),
    tx('p', 'board.casesIntro', { class: 'hint' }),
    deptCases.el,
  );
  const syncCasesPanel = (): void => {
    casesPanel.hidden = !(deptCases.size() > 0 || (canAct && role === 'department'));
  };
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
      ledgerLinks,
      note,
      body,
      casesPanel,
    ),
  );

  districtSel.addEventListener('change', async () => {
    districtCode = districtSel.value;
    deptCode = '';
    if (await fillDepartments()) select('');
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
    // A district chosen while this loaded fills the picker itself (its change handler selects).
    if (!(await fillDepartments())) return;
    select(depts.some((d) => d.code === deptCode) ? deptCode : '');
  }

  function fillDistricts(): void {
    clear(
      districtSel,
      districts.map((d) => h('option', { value: d.code, selected: d.code === districtCode }, nm(d.names))),
    );
  }

  /**
   * Fills the department picker for the district chosen now. Returns false when another district
   * was chosen while this one's departments were loading: the later choice fills the picker, and
   * an earlier, slower answer must not overwrite it.
   */
  async function fillDepartments(): Promise<boolean> {
    const gen = ++fillGeneration;
    const d = districts.find((x) => x.code === districtCode);
    let list: reg.Department[] = [];
    targets = null;
    targetsP = null;
    if (d) {
      try {
        list = await reg.departments(d);
        if (lockedDept) list = list.filter((x) => x.code === lockedDept);
        const items = await reg.items(d.code);
        if (gen !== fillGeneration) return false;
        for (const it of items) itemNames.set(it.code, it.names);
      } catch (e) {
        if (gen !== fillGeneration) return false;
        clear(body, errorState(e, init));
      }
    }
    if (gen !== fillGeneration) return false;
    depts = list;
    clear(
      deptSel,
      lockedDept ? null : h('option', { value: '' }, t('board.pickPlaceholder')),
      depts.map((x) => h('option', { value: x.code, selected: x.code === deptCode }, nm(x.names))),
    );
    return true;
  }

  /** The departments a case of this district may go to; loaded once, when first needed. */
  function loadTargets(): Promise<void> {
    const d = districts.find((x) => x.code === districtCode);
    if (!d) return Promise.resolve();
    targetsP ??= reg.districtDepartments(d).then(
      (list) => {
        if (d.code === districtCode) targets = list;
      },
      (e) => {
        targetsP = null;
        throw e;
      },
    );
    return targetsP;
  }

  /**
   * Who may act here: the department the board belongs to acts on its cases; the district's
   * command centre may transfer, pause and resume any of them (the server checks anyway).
   */
  function renderNote(): void {
    renderLedgerLinks();
    canAct = !!deptCode && acting === deptCode;
    if (!deptCode || canAct) return clear(note);
    if (role === 'manager') return clear(note, readOnlyNote(t('common.readOnly')));
    if (supervisor && districtCode === lockedDistrict) {
      return clear(note, h('div', { class: 'callout info notice-supervisor', role: 'note', id: 'supervisor-note' }, h('p', {}, t('board.supervisor'))));
    }
    const own = depts.find((d) => d.code === acting);
    clear(note, readOnlyNote(t('board.readOnlyOther', { dept: own ? nm(own.names) : (acting ?? '') })));
  }

  function renderLedgerLinks(): void {
    if (!deptCode || !allowedRoutes().includes('ledger')) return clear(ledgerLinks);
    clear(
      ledgerLinks,
      h('a', { href: ledgerHref({ department: deptCode, overdue: 'true' }), class: 'btn ghost small', id: 'board-ledger-overdue' }, t('ledger.link.deptOverdue')),
      h('a', { href: ledgerHref({ department: deptCode }), class: 'btn ghost small', id: 'board-ledger-all' }, t('ledger.link.dept')),
    );
  }

  function select(code: string): void {
    channel?.close();
    channel = null;
    cases.clear();
    deptCases.reset();
    closed.length = 0;
    ui.clear();
    loaded = false;
    deptCode = code;
    deptSel.value = code;
    setParams({ dept: code || null });
    const dept = depts.find((d) => d.code === code);
    deptTitle.textContent = dept ? `${nm(dept.names)} · ${dept.code}` : '';
    renderNote();
    syncCasesPanel();
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
    // Where cases may be transferred (and the names of those that left): fetched in the background.
    if (role !== 'manager') loadTargets().then(() => render(), () => undefined);
    channel = new LiveChannel(`department:${code}`, {
      snapshot(list, reset) {
        cases.clear();
        if (reset) deptCases.reset();
        for (const c of list) if (!deptCases.take(c, false)) cases.set(c.id, c);
        if (reset) ui.clear();
        loaded = true;
        syncCasesPanel();
        render();
      },
      page(list) {
        // The rest of a truncated snapshot: a case an event already brought stays as it is.
        for (const c of list) {
          if (deptCases.take(c, false)) continue;
          if (!cases.has(c.id) && onThisBoard(c) && !TERMINAL.has(c.status)) cases.set(c.id, c);
        }
        syncCasesPanel();
        render();
      },
      event(c, ev) {
        if (deptCases.take(c, true)) return syncCasesPanel();
        const known = cases.has(c.id);
        if (TERMINAL.has(c.status) || !onThisBoard(c)) {
          // Closed, or transferred away (the old owner's board gets the event, then not the case).
          cases.delete(c.id);
          const at = closed.findIndex((x) => x.id === c.id);
          // A case this department rejected is re-routed to the command centre right after:
          // the board keeps showing what this department did (rejected), not the re-route.
          const keep = at >= 0 && TERMINAL.has(closed[at].status) && !TERMINAL.has(c.status);
          if (!keep) {
            if (at >= 0) closed.splice(at, 1);
            closed.unshift(c);
          }
          ui.delete(c.id);
        } else {
          // Back on this board (e.g. transferred back): no longer among the closed ones.
          const at = closed.findIndex((x) => x.id === c.id);
          if (at >= 0) closed.splice(at, 1);
          cases.set(c.id, c);
          const u = ui.get(c.id) ?? {};
          u.pending = undefined;
          u.error = undefined;
          if (!known) u.fresh = true;
          ui.set(c.id, u);
        }
        if (ev.type === 'case.commented' && cases.has(c.id)) {
          const u = ui.get(c.id) ?? {};
          if (u.comments) loadThread(c.id);
          else u.unread = (u.unread ?? 0) + 1;
          ui.set(c.id, u);
          announce(t('comments.arrived', { item: itemLabel(c.item) }));
        }
        soon(c.id);
        if (!known && !TERMINAL.has(c.status) && onThisBoard(c) && (ev.type === 'whistle.dispatched' || ev.type === 'whistle.transferred')) {
          const key = ev.type === 'whistle.transferred' ? 'board.newTransfer' : 'board.newDispatch';
          announce(t(key, { item: itemLabel(c.item), town: townLabel(c.town) }));
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

  /** The case belongs on this board: this department owns it, or assists on it. */
  function onThisBoard(c: Case): boolean {
    const owner = c.department?.code;
    if (!owner || owner === deptCode) return true;
    return (c.assisting ?? []).some((a) => a.code === deptCode);
  }

  function deptLabel(code: string | undefined): string {
    if (!code) return '';
    const d = targets?.find((x) => x.code === code) ?? depts.find((x) => x.code === code);
    return d ? nm(d.names) : code;
  }

  function itemLabel(code: string): string {
    return nm(itemNames.get(code), code);
  }
  function townLabel(code: string): string {
    return code ? nm(towns.get(code)?.names, code) : t('common.noTown');
  }

  /**
   * Render the columns; keep focus on the card that was acted on. While someone is typing a
   * reject reason (possibly through an IME), live updates wait until they leave the form.
   */
  function render(focusId?: string, force = false): void {
    if (!loaded) return;
    if (!force && [...body.querySelectorAll('.card-form')].some((f) => f.contains(document.activeElement))) {
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
                  { 'data-id': c.id, 'data-status': TERMINAL.has(c.status) ? c.status : 'transferred' },
                  TERMINAL.has(c.status)
                    ? statusBadge(c.status)
                    : h('span', { class: 'badge transferred' }, t('board.transferred', { dept: deptLabel(c.department?.code) })),
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
    const paused = isPaused(c);
    // A paused case's clocks are stopped: no running countdown.
    const dl = paused ? null : nextDeadline(c);
    const id = c.id;
    const owner = c.department?.code;
    // Status actions are the owning department's (not an assisting one's, nor the command
    // centre's on another board); transfer and pause / resume also the district command centre's.
    const owns = canAct && (!owner || owner === acting);
    const supervises = !!owner && (owner === acting || (supervisor && c.district === lockedDistrict));
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
          'aria-expanded': isForm(action) ? String(u.form === action) : undefined,
          onclick: () =>
            isForm(action)
              ? openForm(id, action)
              : action === 'resume'
                ? send(id, 'resume', 'resume', (key) => api.resume(id, key))
                : act(id, action),
        },
        u.pending === action ? t('board.sending') : t(`board.${action}` as Key),
      );
    // Which actions a status allows comes from the case's rules (generated/names.ts).
    if (owns && allows('acknowledge', c.status)) actions.push(btn('acknowledge', 'primary'));
    if (owns && allows('arrive', c.status)) actions.push(btn('arrive', 'primary'));
    if (owns && allows('resolve', c.status)) actions.push(btn('resolve', allows('arrive', c.status) ? 'secondary' : 'primary'));
    if (owns && allows('reject', c.status)) actions.push(btn('reject', 'danger-outline'));
    if (supervises && allows('transfer', c.status)) actions.push(btn('transfer', 'secondary'));
    if (supervises && allows('pause', c.status)) actions.push(paused ? btn('resume', 'secondary') : btn('pause', 'ghost'));
    // A duplicate of another open case of this board: merge it into that one.
    if (supervises && allows('merge', c.status) && mergeTargets(c).length) actions.push(btn('merge', 'ghost'));
    // A department may record the penalty procedure itself on a whistle it has taken on.
    const mayOpenCase = owns && role === 'department' && (c.status === 'acknowledged' || c.status === 'on_site');
    if (mayOpenCase)
      actions.push(
        h(
          'button',
          {
            type: 'button',
            id: `act-case-${id}`,
            class: 'btn ghost',
            'data-action': 'open-case',
            'aria-expanded': String(!!u.caseForm),
            onclick: () => {
              u.caseForm = !u.caseForm;
              ui.set(id, u);
              render(id, true);
              if (u.caseForm) document.getElementById(`case-name-${id}`)?.focus();
            },
          },
          t('board.openCase'),
        ),
      );

    const may =
      u.form === 'reject'
        ? owns
        : u.form === 'transfer'
          ? supervises && allows('transfer', c.status)
          : u.form === 'pause'
            ? supervises && !paused
            : u.form === 'merge'
              ? supervises && allows('merge', c.status)
              : false;
    const form = may && u.form ? cardForm(c, u, u.form) : null;

    const lat = c.location?.lat;
    const lon = c.location?.lon;
    const reason = paused ? pauseReason(c) : '';
    return h(
      'article',
      {
        class: `card${u.fresh ? ' fresh' : ''}${paused ? ' paused' : ''}`,
        'data-id': id,
        'data-status': c.status,
        'data-item': c.item,
        'data-paused': paused ? 'true' : undefined,
        tabindex: -1,
        'aria-labelledby': `title-${id}`,
      },
      h(
        'header',
        { class: 'card-head' },
        h('h3', { id: `title-${id}`, class: 'card-title' }, nm(names, c.item)),
        triage ? h('span', { class: 'badge triage' }, t('board.triage')) : null,
        c.hotline ? h('span', { class: 'badge hotline', 'data-order': c.hotline.order_no }, t('board.hotline', { no: c.hotline.order_no })) : null,
        paused ? h('span', { class: 'badge paused', 'data-paused': 'true' }, t('board.paused')) : null,
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
      paused
        ? h('p', { class: 'paused-note' }, reason ? t('board.pausedNote', { reason }) : t('board.pausedNoteBare'))
        : dl
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
      lazyGallery(c.attachments, `card-${id}`),
      actions.length ? h('div', { class: 'actions' }, actions) : null,
      form,
      mayOpenCase && u.caseForm ? caseForm(c, u) : null,
      role === 'manager' ? null : commentsBox(c, u),
      u.error ? h('p', { class: 'card-error', role: 'alert', 'data-code': u.errorCode ?? 'error' }, u.error) : null,
    );
  }

  /** "Open an enforcement case" from a whistle the department owns: the party, then POST /api/v1/cases. */
  function caseForm(c: Case, u: CardUi): HTMLElement {
    const id = c.id;
    const d = (u.caseDraft ??= { kind: 'unit', name: '', credit: '' });
    const keep = (k: 'name' | 'credit') => (e: Event) => {
      d[k] = (e.target as HTMLInputElement).value;
    };
    const kind = h(
      'select',
      {
        id: `case-kind-${id}`,
        onchange: (e: Event) => {
          d.kind = (e.target as HTMLSelectElement).value as 'unit' | 'individual';
          render(id, true);
        },
      },
      (['unit', 'individual'] as const).map((k) => h('option', { value: k, selected: d.kind === k }, t(`case.kind.${k}` as Key))),
    );
    const name = h('input', { id: `case-name-${id}`, type: 'text', maxlength: 100, value: d.name, oninput: keep('name') });
    const credit = h('input', { id: `case-credit-${id}`, type: 'text', maxlength: 18, value: d.credit, autocapitalize: 'characters', spellcheck: 'false', oninput: keep('credit') });
    const fail = (msg: string, code: string, focus?: string) => {
      u.caseError = msg;
      u.caseErrorCode = code;
      render(id, true);
      if (focus) document.getElementById(focus)?.focus();
    };
    const submit = async (): Promise<void> => {
      const unit = d.kind === 'unit';
      const code = d.credit.trim().toUpperCase();
      if (!d.name.trim()) return fail(t('town.required'), 'required', `case-name-${id}`);
      if (unit && !CREDIT_CODE.test(code)) return fail(t('case.creditCodeBad'), 'required', `case-credit-${id}`);
      u.casePending = true;
      u.caseError = undefined;
      u.caseKey ??= newKey();
      render(id, true);
      try {
        const res = await api.openCase(
          {
            item: c.item,
            description: c.description,
            location: c.location,
            subject: { kind: d.kind, name: d.name.trim(), ...(unit ? { credit_code: code } : {}) },
            from_whistle: id,
          },
          u.caseKey,
        );
        const now = new Date().toISOString();
        deptCases.added({ ...c, id: res.id, status: res.status, kind: 'enforcement', department: c.department, raised_at: now, updated_at: now, timeline: undefined });
        syncCasesPanel();
        u.caseForm = false;
        u.caseDraft = undefined;
        u.caseKey = undefined;
        announce(t('case.opened'));
      } catch (e) {
        const se = stepError(e);
        u.caseError = se.msg;
        u.caseErrorCode = se.code;
      } finally {
        u.casePending = false;
        render(id, true);
      }
    };
    return h(
      'form',
      {
        class: 'card-form case-open-form',
        'data-form': 'case',
        novalidate: true,
        onsubmit: (e: Event) => {
          e.preventDefault();
          void submit();
        },
      },
      tx('p', 'board.openCaseIntro', { class: 'hint' }),
      h('div', { class: 'field' }, tx('label', 'case.subjectKind', { for: `case-kind-${id}` }), kind),
      h('div', { class: 'field' }, tx('label', 'case.subjectName', { for: `case-name-${id}` }), name),
      d.kind === 'unit' ? h('div', { class: 'field' }, tx('label', 'case.creditCode', { for: `case-credit-${id}` }), credit) : null,
      u.caseError ? h('p', { class: 'field-error', role: 'alert', id: `case-error-${id}`, 'data-code': u.caseErrorCode ?? 'error' }, u.caseError) : null,
      h('button', { type: 'submit', class: 'btn primary', id: `case-submit-${id}`, disabled: !!u.casePending }, u.casePending ? t('board.sending') : t('case.submit')),
    );
  }

  /** The other open cases of this board for the same item: where a duplicate may be merged. */
  function mergeTargets(c: Case): Case[] {
    return [...cases.values()].filter((o) => o.id !== c.id && o.item === c.item && !TERMINAL.has(o.status) && o.district === c.district);
  }

  /** The merge form: which open case of the same item this one duplicates. */
  function mergeForm(c: Case, u: CardUi): HTMLElement {
    const id = c.id;
    const intoId = `merge-into-${id}`;
    const options = mergeTargets(c);
    const sel = choice(
      intoId,
      'into',
      t('board.mergeIntoPlaceholder'),
      options.map((o) => ({ value: o.id, label: `${o.description.slice(0, 40)} · ${o.location?.address ?? ''} · ${o.id.slice(0, 8)}` })),
      u.into,
      (v) => (u.into = v),
    );
    return h(
      'form',
      {
        class: 'card-form merge-form',
        'data-form': 'merge',
        novalidate: true,
        onsubmit: (e: Event) => {
          e.preventDefault();
          const into = sel.value;
          if (!into) {
            u.error = t('board.mergePickRequired');
            u.errorCode = 'required';
            ui.set(id, u);
            render(id, true);
            document.getElementById(intoId)?.focus();
            return;
          }
          u.into = into;
          void send(id, 'merge', `merge\n${into}`, (key) => api.merge(id, into, key));
        },
      },
      h('div', { class: 'field' }, h('label', { for: intoId }, t('board.mergeInto')), sel, h('p', { class: 'hint' }, t('board.mergeHint'))),
      h(
        'div',
        { class: 'row' },
        h('button', { type: 'submit', class: 'btn primary', disabled: !!u.pending }, u.pending === 'merge' ? t('board.sending') : t('board.mergeConfirm')),
        h(
          'button',
          {
            type: 'button',
            class: 'btn ghost',
            onclick: () => {
              u.form = undefined;
              u.error = undefined;
              render(id, true);
              document.getElementById(`act-merge-${id}`)?.focus();
            },
          },
          t('common.cancel'),
        ),
      ),
    );
  }

  /** The reject / transfer / pause form of a card: a reason (and for a transfer, where to). */
  function cardForm(c: Case, u: CardUi, kind: FormKind): HTMLElement {
    if (kind === 'merge') return mergeForm(c, u);
    const id = c.id;
    const reasonId = kind === 'reject' ? `reason-${id}` : `${kind}-reason-${id}`;
    const toId = `transfer-to-${id}`;
    const fail = (msg: string, focus: string): void => {
      u.error = msg;
      u.errorCode = 'required';
      ui.set(id, u);
      render(id, true);
      document.getElementById(focus)?.focus();
    };
    const reasonBox = h('textarea', {
      id: reasonId,
      name: 'reason',
      rows: 2,
      required: true,
      maxlength: 2000,
      placeholder: t(`board.${kind}ReasonPlaceholder` as Key),
      oninput: (e: Event) => {
        u.reasons = { ...u.reasons, [kind]: (e.target as HTMLTextAreaElement).value };
      },
    });
    reasonBox.value = u.reasons?.[kind] ?? '';

    let picker: HTMLElement | null = null;
    if (kind === 'transfer') {
      const options = (targets ?? []).filter((d) => d.code !== c.department?.code);
      if (!targets) {
        picker = h('p', { class: 'hint', role: 'status' }, t('board.transferLoading'));
      } else if (!options.length) {
        picker = h('p', { class: 'hint' }, t('board.transferNoTargets'));
      } else {
        const sel = choice(
          toId,
          'to',
          t('board.transferToPlaceholder'),
          options.map((d) => ({ value: d.code, label: `${nm(d.names)} · ${d.code}` })),
          u.to,
          (v) => (u.to = v),
        );
        picker = h('div', { class: 'field' }, h('label', { for: toId }, t('board.transferTo')), sel);
      }
    }

    const confirmCls = kind === 'reject' ? 'btn danger' : 'btn primary';
    return h(
      'form',
      {
        class: `card-form ${kind}-form`,
        'data-form': kind,
        novalidate: true,
        onsubmit: (e: Event) => {
          e.preventDefault();
          const reason = ((document.getElementById(reasonId) as HTMLTextAreaElement | null)?.value ?? '').trim();
          if (kind === 'transfer') {
            const to = (document.getElementById(toId) as HTMLSelectElement | null)?.value ?? '';
            if (!to) return fail(t('board.transferPickRequired'), toId);
            if (!reason) return fail(t('board.transferReasonRequired'), reasonId);
            u.to = to;
            return void send(id, 'transfer', `transfer\n${to}\n${reason}`, (key) => api.transfer(id, to, reason, key));
          }
          if (!reason) return fail(t(kind === 'reject' ? 'board.reasonRequired' : 'board.pauseReasonRequired'), reasonId);
          if (kind === 'reject') return void act(id, 'reject', { reason });
          return void send(id, 'pause', `pause\n${reason}`, (key) => api.pause(id, reason, key));
        },
      },
      picker,
      h('label', { for: reasonId }, t(kind === 'reject' ? 'board.rejectReason' : (`board.${kind}Reason` as Key))),
      reasonBox,
      h(
        'div',
        { class: 'row' },
        h(
          'button',
          { type: 'submit', class: confirmCls, disabled: !!u.pending || (kind === 'transfer' && !picker?.querySelector('select')) },
          u.pending === kind ? t('board.sending') : t(`board.${kind}Confirm` as Key),
        ),
        h(
          'button',
          {
            type: 'button',
            class: 'btn ghost',
            onclick: () => {
              u.form = undefined;
              u.error = undefined;
              render(id, true);
              document.getElementById(`act-${kind}-${id}`)?.focus();
            },
          },
          t('common.cancel'),
        ),
      ),
    );
  }

  /** The card's comments with the town: a toggle (with what arrived unseen), the thread and a form. */
  function commentsBox(c: Case, u: CardUi): HTMLElement {
    const id = c.id;
    const boxId = `comments-${id}`;
    const toggle = h(
      'button',
      {
        type: 'button',
        class: 'btn ghost small comments-toggle',
        'data-action': 'comments',
        'aria-expanded': String(!!u.comments),
        'aria-controls': boxId,
        onclick: () => {
          u.comments = !u.comments;
          u.unread = 0;
          ui.set(id, u);
          if (u.comments) loadThread(id);
          render(id, true);
          if (u.comments) document.getElementById(`comment-${id}`)?.focus();
        },
      },
      t('comments.title'),
      u.unread ? h('span', { class: 'badge unread', 'data-unread': u.unread }, ` ${t('comments.new', { n: u.unread })}`) : null,
    );
    if (!u.comments) return h('div', { class: 'card-comments' }, toggle);
    const text = h('textarea', {
      id: `comment-${id}`,
      name: 'comment',
      rows: 2,
      maxlength: 2000,
      placeholder: t('comments.placeholder'),
      oninput: (e: Event) => {
        u.commentDraft = (e.target as HTMLTextAreaElement).value;
      },
    });
    text.value = u.commentDraft ?? '';
    return h(
      'div',
      { class: 'card-comments open', id: boxId },
      toggle,
      u.thread ? commentList(u.thread) : h('p', { class: 'hint' }, t('common.loading')),
      h(
        'form',
        {
          class: 'card-form comment-form',
          novalidate: true,
          onsubmit: (e: Event) => {
            e.preventDefault();
            postComment(id);
          },
        },
        h('label', { for: `comment-${id}`, class: 'sr-only' }, t('comments.label')),
        text,
        h('button', { type: 'submit', class: 'btn secondary small', disabled: !!u.commentPending }, u.commentPending ? t('board.sending') : t('comments.send')),
      ),
      u.commentError ? h('p', { class: 'card-error', role: 'alert', 'data-code': u.commentErrorCode ?? 'error' }, u.commentError) : null,
    );
  }

  async function loadThread(id: string): Promise<void> {
    const v = await api.whistle(id).catch(() => null);
    const u = ui.get(id);
    if (!v || !u) return;
    u.thread = commentsOf(v.timeline);
    render(id, true);
  }

  async function postComment(id: string): Promise<void> {
    const u = ui.get(id) ?? {};
    const text = (u.commentDraft ?? '').trim();
    if (!text) {
      u.commentError = t('comments.required');
      u.commentErrorCode = 'required';
      ui.set(id, u);
      render(id, true);
      document.getElementById(`comment-${id}`)?.focus();
      return;
    }
    u.commentPending = true;
    u.commentError = undefined;
    ui.set(id, u);
    render(id, true);
    const key = newKey();
    try {
      await withRetry(() => api.comment(id, text, key));
      u.commentDraft = '';
    } catch (e) {
      u.commentError = cardError(e);
      u.commentErrorCode = e instanceof ApiError ? e.code : 'error';
    } finally {
      u.commentPending = false;
      render(id, true);
      if (!u.commentError) loadThread(id);
    }
  }

  function openForm(id: string, kind: FormKind): void {
    const u = ui.get(id) ?? {};
    u.form = kind;
    u.error = undefined;
    ui.set(id, u);
    render(id, true);
    const first = () =>
      document.getElementById(
        kind === 'reject' ? `reason-${id}` : kind === 'transfer' ? `transfer-to-${id}` : kind === 'merge' ? `merge-into-${id}` : `pause-reason-${id}`,
      );
    first()?.focus();
    if (kind === 'transfer' && !targets) {
      loadTargets().then(
        () => {
          if (ui.get(id)?.form !== 'transfer') return;
          render(id, true);
          first()?.focus();
        },
        (e) => {
          const v = ui.get(id);
          if (!v) return;
          v.error = cardError(e);
          v.errorCode = e instanceof ApiError ? e.code : 'error';
          render(id, true);
        },
      );
    }
  }

  function act(id: string, action: 'acknowledge' | 'arrive' | 'resolve' | 'reject', bodyObj?: { reason: string }): Promise<void> {
    return send(id, action, `${action}\n${bodyObj?.reason ?? ''}`, (key) => api.act(id, action, bodyObj, key));
  }

  /**
   * One user action: "sending…" on the card until its event comes back over the WebSocket (the
   * case moves then), or the server's refusal on the card. Each action has its own
   * Idempotency-Key, reused for its retries (automatic, or the user's after no definite answer).
   */
  async function send(id: string, action: Action, sig: string, call: (key: string) => Promise<unknown>): Promise<void> {
    lastActed = id;
    const u = ui.get(id) ?? {};
    u.pending = action;
    u.error = undefined;
    u.errorCode = undefined;
    const key = u.retry?.sig === sig ? u.retry.key : newKey();
    u.retry = { sig, key };
    ui.set(id, u);
    render(id, true);
    try {
      await withRetry(() => call(key));
      u.retry = undefined;
      // Accepted: the form is done; the case moves when its event comes back over the WebSocket.
      const done = u.form;
      if (done && done === action) {
        u.form = undefined;
        if (u.reasons) delete u.reasons[done];
        if (cases.has(id)) render(id, true);
      }
    } catch (e) {
      u.pending = undefined;
      if (!retriable(e)) u.retry = undefined;
      u.error = cardError(e);
      u.errorCode = e instanceof ApiError ? e.code : 'error';
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
