// Supervision (issue K, role `supervisor`): the review queue of the district (or the city) —
// overridden decisions, fence warnings passed over, cases near or past their 90-day time limit —
// each linking to its case (read-only: party, decision, benchmark, timeline), with a review form
// (verdict upheld / corrected, and a note) that puts the review on the case's timeline.
// The queue follows the `supervision:<district>` / `supervision:city` channel live.
import { api, newKey, type CaseView, type SupervisionItem, type Town } from '../api';
import { announce, clear, h, statusBadge, tx } from '../dom';
import { dateTime } from '../format';
import { nm, t, type Key, type Names } from '../i18n';
import * as reg from '../registry';
import { parseHash, setParams, type Page } from '../router';
import { LiveChannel } from '../ws';
import { ownDistrict } from '../session';
import { connIndicator, errorState, loadingState, readOnlyNote, setConn } from './common';
import { procedureFacts, rerender, stepError, timelineList } from './casework';

/** An item id (`<case>~<step>`) as an element id usable in CSS selectors. */
const domId = (id: string): string => id.replace(/[^A-Za-z0-9_-]/g, '_');

export function mountSupervision(root: HTMLElement, params: URLSearchParams): Page {
  const district = ownDistrict();
  const conn = connIndicator();
  const scope = h('p', { class: 'subtitle', id: 'supervision-scope' });
  const queueEl = h('div', { id: 'queue', class: 'queue', 'aria-live': 'polite' });
  const caseEl = h('section', { id: 'case-view', class: 'panel case-view', 'aria-labelledby': 'case-view-h', hidden: true });
  const towns = new Map<string, Town>();
  const itemNames = new Map<string, Names>();
  let items: SupervisionItem[] | null = null;
  let loadErr: unknown = null;
  let shown = params.get('case') ?? '';
  let view: CaseView | null = null;
  const sent = new Map<string, 'pending' | 'done'>();
  const errors = new Map<string, { code: string; msg: string }>();
  let refreshTimer: number | undefined;

  root.append(
    h(
      'section',
      { class: 'page page-supervision', 'aria-labelledby': 'supervision-h' },
      h('div', { class: 'page-head' }, h('div', {}, tx('h1', 'sup.title', { id: 'supervision-h' }), scope), conn),
      readOnlyNote(t('sup.readOnly')),
      h('div', { class: 'supervision-body' }, h('section', { class: 'panel', 'aria-labelledby': 'queue-h' }, tx('h2', 'sup.queue', { id: 'queue-h' }), queueEl), caseEl),
    ),
  );
  scope.textContent = district ? t('sup.scopeDistrict', { d: district }) : t('sup.scopeCity');

  const channel = new LiveChannel(`supervision:${district ?? 'city'}`, {
    snapshot() {
      refreshSoon();
    },
    event(c) {
      refreshSoon();
      if (c.id === shown) loadCase(shown);
    },
    state(s) {
      setConn(conn, s);
    },
  });
  setConn(conn, channel.state);
  const onHash = () => {
    const { name, params: p } = parseHash();
    if (name !== 'supervision') return;
    const want = p.get('case') ?? '';
    if (want !== shown) showCase(want);
  };
  window.addEventListener('hashchange', onHash);

  init();

  async function init(): Promise<void> {
    clear(queueEl, loadingState());
    try {
      for (const tw of await reg.towns()) towns.set(tw.code, tw);
      const ds = district ? [district] : [...new Set([...towns.values()].map((x) => x.district.code))];
      for (const d of ds) for (const it of await reg.items(d).catch(() => [])) itemNames.set(it.code, it.names);
    } catch {
      /* codes instead of names */
    }
    await refresh();
    if (shown) showCase(shown);
  }

  function refreshSoon(): void {
    clearTimeout(refreshTimer);
    refreshTimer = window.setTimeout(refresh, 300);
  }

  async function refresh(): Promise<void> {
    try {
      items = await api.supervisionQueue();
      loadErr = null;
    } catch (e) {
      loadErr = e;
    }
    render();
  }

  function itemLabel(code: string): string {
    return nm(itemNames.get(code), code);
  }
  function townLabel(code: string): string {
    return code ? nm(towns.get(code)?.names, code) : t('common.noTown');
  }

  function render(): void {
    rerender(queueEl, () => {
      if (loadErr) return clear(queueEl, errorState(loadErr, refresh));
      if (!items) return clear(queueEl, loadingState());
      const list = items.filter((i) => sent.get(i.id) !== 'done');
      if (!list.length) return clear(queueEl, h('p', { class: 'empty', id: 'queue-empty' }, t('sup.empty')));
      clear(
        queueEl,
        h(
          'ul',
          { class: 'queue-list' },
          list.map((i) => h('li', { class: `queue-item${i.case === shown ? ' current' : ''}`, 'data-id': i.id, 'data-case': i.case, 'data-reason': i.reason }, entry(i))),
        ),
      );
    });
  }

  function entry(i: SupervisionItem): (HTMLElement | null)[] {
    const fid = (n: string) => `${n}-${domId(i.id)}`;
    const err = errors.get(i.id);
    const busy = sent.get(i.id) === 'pending';
    return [
      h(
        'p',
        { class: 'queue-head' },
        h('span', { class: `badge reason reason-${i.reason}` }, t(`sup.reason.${i.reason}` as Key)),
        ' ',
        h('strong', {}, itemLabel(i.item)),
        ` · ${townLabel(i.town)} · `,
        statusBadge(i.status),
        ' · ',
        h('time', { datetime: i.time }, dateTime(i.time)),
      ),
      i.detail ? h('p', { class: 'detail' }, i.detail) : null,
      i.decide_by ? h('p', { class: 'hint' }, t('sup.decideBy', { at: dateTime(i.decide_by) })) : null,
      h(
        'a',
        {
          href: `#/supervision?case=${encodeURIComponent(i.case)}`,
          class: 'case-link',
          onclick: (e: Event) => {
            e.preventDefault();
            showCase(i.case);
          },
        },
        t('sup.openCase'),
      ),
      h(
        'form',
        {
          class: 'review-form',
          novalidate: true,
          onsubmit: (e: Event) => {
            e.preventDefault();
            review(i);
          },
        },
        h(
          'div',
          { class: 'row' },
          h(
            'div',
            { class: 'field' },
            h('label', { for: fid('verdict') }, t('sup.verdict')),
            h('select', { id: fid('verdict') }, (['upheld', 'corrected'] as const).map((v) => h('option', { value: v }, t(`sup.verdict.${v}` as Key)))),
          ),
          h('div', { class: 'field grow' }, h('label', { for: fid('note') }, t('sup.note')), h('textarea', { id: fid('note'), rows: 2 })),
        ),
        h('button', { type: 'submit', class: 'btn primary', 'data-action': 'review', disabled: busy }, busy ? t('board.sending') : t('sup.submit')),
        err ? h('p', { class: 'field-error review-error', role: 'alert', 'data-code': err.code }, err.msg) : null,
      ),
    ];
  }

  async function review(i: SupervisionItem): Promise<void> {
    const get = (n: string) => ((document.getElementById(`${n}-${domId(i.id)}`) as HTMLInputElement | null)?.value ?? '').trim();
    const verdict = get('verdict') === 'corrected' ? 'corrected' : 'upheld';
    const note = get('note') || undefined;
    sent.set(i.id, 'pending');
    errors.delete(i.id);
    render();
    try {
      await api.review(i.id, verdict, note, newKey());
      sent.set(i.id, 'done');
      announce(t('sup.reviewed'));
      clear(
        queueEl.parentElement!.querySelector('#review-ok') ?? queueEl.parentElement!.appendChild(h('div', { id: 'review-ok', role: 'status' })),
        h('p', { class: 'callout ok' }, t('sup.reviewedCase', { item: itemLabel(i.item), town: townLabel(i.town) })),
      );
      if (i.case === shown) window.setTimeout(() => loadCase(i.case), 500);
    } catch (e) {
      sent.delete(i.id);
      errors.set(i.id, stepError(e));
    }
    render();
    refreshSoon();
  }

  function showCase(id: string): void {
    shown = id;
    setParams({ case: id || null });
    view = null;
    render();
    if (!id) {
      caseEl.hidden = true;
      return;
    }
    caseEl.hidden = false;
    clear(caseEl, loadingState());
    loadCase(id);
  }

  async function loadCase(id: string): Promise<void> {
    try {
      const v = await api.caseView(id);
      if (shown !== id) return;
      view = v;
      renderCase();
    } catch (e) {
      if (shown === id) clear(caseEl, errorState(e, () => loadCase(id)));
    }
  }

  function renderCase(): void {
    const v = view;
    if (!v) return;
    clear(
      caseEl,
      h('h2', { id: 'case-view-h' }, itemLabel(v.item), ' ', statusBadge(v.status)),
      h('p', { class: 'subtitle' }, `${townLabel(v.town)} · ${v.kind === 'enforcement' ? t('sup.kind.enforcement') : t('sup.kind.whistle')} · `, h('span', { class: 'code' }, v.id)),
      h('p', { class: 'desc' }, v.description),
      procedureFacts(v),
      v.timeline?.length ? timelineList(v.timeline) : null,
      h(
        'button',
        {
          type: 'button',
          class: 'btn ghost small',
          onclick: () => showCase(''),
        },
        t('sup.closeCase'),
      ),
    );
  }

  return {
    unmount() {
      clearTimeout(refreshTimer);
      window.removeEventListener('hashchange', onHash);
      channel.close();
    },
    relabel() {
      scope.textContent = district ? t('sup.scopeDistrict', { d: district }) : t('sup.scopeCity');
      setConn(conn, channel.state);
      const note = root.querySelector('#read-only p');
      if (note) note.textContent = t('sup.readOnly');
      render();
      renderCase();
    },
  };
}
