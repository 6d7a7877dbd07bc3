// Shared pieces of a case's page (issue K): the timeline with its step labels, the procedure of a
// town's enforcement case (party, time limit, decision, benchmark, fences), the forms of the
// procedure's next step, and keeping what was typed across live re-renders.
import { ApiError, type CaseStep, type CaseView, type Status, type TimelineEntry } from '../api';
import { h, statusBadge } from '../dom';
import { dateTime } from '../format';
import { t, type Key } from '../i18n';
import { actorLabel, errorMessage } from './common';

/** Event types with a label of their own on the timeline (the rest show their status). */
const LABELLED = new Set([
  'whistle.confirmed',
  'whistle.reopened',
  'case.commented',
  'case.reviewed',
  'case.registered',
  'case.persuaded',
  'case.investigated',
  'case.notified',
  'case.decided',
  'case.served',
  'case.closed',
  'whistle.fenced',
]);

export function eventLabel(type: string): string | null {
  return LABELLED.has(type) ? t(`event.${type}` as Key) : null;
}

/** A case's timeline, oldest first: time, status, the step's label, its detail and who acted. */
export function timelineList(entries: TimelineEntry[], label = t('town.timeline')): HTMLElement {
  return h(
    'ol',
    { class: 'timeline', 'aria-label': label },
    entries.map((e) => {
      const l = eventLabel(e.type);
      return h(
        'li',
        { 'data-type': e.type },
        h('time', { datetime: e.time }, dateTime(e.time)),
        ' ',
        statusBadge(e.status),
        l ? h('span', { class: 'ev-label' }, ` ${l}`) : null,
        e.detail ? h('span', { class: 'detail' }, ` ${e.detail}`) : null,
        actorLabel(e.actor) ? h('span', { class: 'actor' }, ` · ${t('town.actor')} ${actorLabel(e.actor)}`) : null,
      );
    }),
  );
}

/** The comments of a timeline (`case.commented`), oldest first. */
export function commentsOf(entries: TimelineEntry[] | undefined): TimelineEntry[] {
  return (entries ?? []).filter((e) => e.type === 'case.commented');
}

export function commentList(entries: TimelineEntry[]): HTMLElement {
  if (!entries.length) return h('p', { class: 'hint comments-empty' }, t('comments.none'));
  return h(
    'ul',
    { class: 'comments' },
    entries.map((e) =>
      h(
        'li',
        { class: 'comment', 'data-event': e.event_id },
        h('span', { class: 'comment-who' }, actorLabel(e.actor) || t('comments.someone')),
        ' · ',
        h('time', { datetime: e.time }, dateTime(e.time)),
        h('p', { class: 'comment-text' }, e.detail ?? ''),
      ),
    ),
  );
}

/** Steps of the procedure a town may take next, from the case as it stands. */
export function nextSteps(v: CaseView): CaseStep[] {
  const s: Status = v.status;
  switch (s) {
    case 'registered':
      return ['persuade', 'investigate'];
    case 'persuaded':
      return v.procedure?.persuasion === 'complied' ? ['close', 'investigate'] : ['investigate'];
    case 'investigated':
      return ['notify', 'decide'];
    case 'notified':
      return ['decide'];
    case 'decided':
      return ['serve'];
    case 'served':
      return ['close'];
    default:
      return [];
  }
}

const yuan = (n: number | null | undefined): string => (n === null || n === undefined ? '—' : `${n.toLocaleString()} ${t('case.yuan')}`);

/** Party, time limit, persuasion, officers, decision, benchmark and fences of an enforcement case. */
export function procedureFacts(v: CaseView): HTMLElement | null {
  const p = v.procedure;
  if (!p) return null;
  const d = p.decision;
  const bench = v.benchmark ?? d?.benchmark ?? null;
  const row = (key: Key, ...value: (Node | string | null)[]) => [h('dt', {}, t(key)), h('dd', {}, ...value)];
  const overdue = !p.decided_at && Date.parse(p.decide_by) < Date.now();
  return h(
    'dl',
    { class: 'facts procedure', 'data-status': v.status },
    row('case.party', `${p.party.name} · ${t(`case.kind.${p.party.kind}` as Key)}`, p.party.credit_code ? h('span', { class: 'code' }, ` · ${p.party.credit_code}`) : null),
    row('case.decideBy', h('time', { datetime: p.decide_by, class: overdue ? 'overdue' : '' }, dateTime(p.decide_by)), overdue ? ` · ${t('case.overdue')}` : null),
    p.persuasion ? row('case.persuasion', t(`case.persuasion.${p.persuasion}` as Key)) : null,
    p.officers?.length ? row('case.officers', p.officers.join('、')) : null,
    d
      ? row(
          'case.decision',
          h('span', { id: `decision-${v.id}` }, t(`case.outcome.${d.outcome}` as Key), d.outcome === 'fine' ? ` · ${yuan(d.fine_yuan)}` : ''),
          d.overridden ? h('span', { class: 'badge overridden', 'data-overridden': 'true' }, t('case.overridden')) : null,
        )
      : null,
    bench ? row('case.benchmark', `${bench.tier} · ${bench.action}${bench.max_yuan ? ` · ${yuan(bench.min_yuan ?? 0)}–${yuan(bench.max_yuan)}` : ''}`) : null,
    v.fences?.length ? row('case.fences', h('span', { class: 'fences' }, v.fences.map((f) => f.detail ?? f.type).join('；'))) : null,
  );
}

/** The error of a step said plainly: what it means for the officer, then the server's words. */
export function stepError(e: unknown): { code: string; msg: string } {
  if (!(e instanceof ApiError)) return { code: 'error', msg: errorMessage(e) };
  const known: Record<string, Key> = {
    invalid_transition: 'case.err.invalid_transition',
    outside_statutory_range: 'case.err.outside_statutory_range',
    override_reason_required: 'case.err.override_reason_required',
    two_officers_required: 'case.err.two_officers_required',
    officer_not_certified: 'case.err.officer_not_certified',
    town_lacks_authority: 'case.err.town_lacks_authority',
    invalid_field: 'case.err.invalid_field',
    nothing_to_review: 'case.err.nothing_to_review',
    unknown_attachment: 'evidence.err.unknown',
  };
  const key = known[e.code];
  if (!key) return { code: e.code, msg: errorMessage(e) };
  return { code: e.code, msg: `${t(key)} (${e.message})` };
}

/**
 * Re-render `el` with `build`, keeping what was typed in its fields (by id), which `<details>`
 * were open (by data-id) and where the focus was: live frames re-render lists while an officer types.
 */
export function rerender(el: HTMLElement, build: () => void): void {
  const values = new Map<string, { value: string; checked: boolean }>();
  el.querySelectorAll<HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement>('input[id], textarea[id], select[id]').forEach((f) => {
    values.set(f.id, { value: f.value, checked: f instanceof HTMLInputElement && f.checked });
  });
  const focus = document.activeElement instanceof HTMLElement && el.contains(document.activeElement) ? document.activeElement.id : '';
  build();
  for (const [id, v] of values) {
    const f = document.getElementById(id) as HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement | null;
    if (!f || !el.contains(f) || f.dataset.fresh === 'true') continue;
    if (f instanceof HTMLInputElement && (f.type === 'checkbox' || f.type === 'radio')) f.checked = v.checked;
    else if (f instanceof HTMLSelectElement) {
      if ([...f.options].some((o) => o.value === v.value)) f.value = v.value;
    } else f.value = v.value;
    f.dispatchEvent(new Event('restore'));
  }
  if (focus) document.getElementById(focus)?.focus();
}
