// Duty rosters (administrators: every district; a command centre: its own): each unit's people
// (name, phone, email, WeCom id, quiet hours), its weekly shifts with hand-over times, overrides
// for holidays and swaps, the roles escalations reach (e.g. the department head) and its group
// robots; who is on duty now (or at a chosen time). A roster is saved whole (PUT); the notifier
// checks every time, day and reference and its refusal is shown as it says it.
import { api, ApiError, type OnDuty, type Roster, type RosterPerson, type RosterShift } from '../api';
import { announce, clear, h, tx } from '../dom';
import { dateTime } from '../format';
import { t, type Key } from '../i18n';
import type { Page } from '../router';
import { account } from '../session';
import { errorMessage, errorState, loadingState } from './common';

export const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
/** The role every department's escalation reaches at its second level. */
export const HEAD_ROLE = 'department_head';
/** A department `<district>-<UM|EE|…>`, a command centre `<district>-CC` or a 9-digit town, as the notifier parses a unit. */
const UNIT = /^(\d{6}-[A-Z]{1,8}|\d{9})$/;

/** A copy of a roster to edit (the stored one stays as it was until saved). */
export function draftOf(r: Roster): Roster {
  return JSON.parse(JSON.stringify({ people: r.people, shifts: r.shifts ?? [], overrides: r.overrides ?? [], roles: r.roles ?? {}, robots: r.robots ?? {} }));
}

/** What the console can tell before the notifier does: the message key of the first problem. */
export function problem(r: Roster): Key | null {
  const ids = r.people.map((p) => p.id.trim());
  if (r.people.some((p) => !p.id.trim() || !p.name.trim())) return 'rosters.needIdName';
  if (new Set(ids).size !== ids.length) return 'rosters.duplicateId';
  if (r.shifts.some((s) => s.days.length === 0)) return 'rosters.needDays';
  if ([...r.shifts, ...r.overrides].some((s) => !ids.includes(s.person))) return 'rosters.needPerson';
  if (r.overrides.some((o) => !o.from || !o.until)) return 'rosters.needPeriod';
  return null;
}

/** The body a roster is saved with: blank optional fields left out. */
export function bodyOf(r: Roster): Roster {
  const opt = (v: string | null | undefined) => (v && v.trim() ? v.trim() : undefined);
  return {
    people: r.people.map((p) => ({
      id: p.id.trim(),
      name: p.name.trim(),
      phone: opt(p.phone),
      email: opt(p.email),
      wecom_id: opt(p.wecom_id),
      quiet_hours: p.quiet_hours && p.quiet_hours.start && p.quiet_hours.end ? p.quiet_hours : undefined,
    })),
    shifts: r.shifts,
    overrides: r.overrides.map((o) => ({ ...o, note: opt(o.note) })),
    roles: Object.fromEntries(Object.entries(r.roles).filter(([, v]) => v)),
    robots: { wecom: opt(r.robots?.wecom), dingtalk: opt(r.robots?.dingtalk) },
  };
}

function personLabel(p: RosterPerson | null | undefined): string {
  return p ? `${p.name}${p.phone ? ` · ${p.phone}` : ''}` : t('rosters.nobody');
}

export function mountRosters(root: HTMLElement): Page {
  const me = account();
  const district = me?.role === 'command_centre' ? (me.district ?? null) : null;
  let rosters: Roster[] = [];
  let duty = new Map<string, OnDuty | null>();
  let editing: { unit: string; draft: Roster; fresh: boolean } | null = null;

  const status = h('div', { id: 'rosters-status', 'aria-live': 'polite' });
  const list = h('div', { class: 'panel', id: 'rosters-list' });
  const editor = h('div', { class: 'panel', id: 'roster-editor', hidden: true });
  const newUnit = h('input', { id: 'roster-new-unit', autocomplete: 'off', spellcheck: 'false', placeholder: district ? `${district}-PS` : '500103-PS' });
  const newBtn = h('button', { type: 'submit', class: 'btn secondary', id: 'roster-new' }, t('rosters.new'));
  const newForm = h('form', { class: 'row', novalidate: true }, h('div', { class: 'field' }, tx('label', 'rosters.unit', { for: 'roster-new-unit' }), newUnit), newBtn);

  root.append(
    h(
      'section',
      { class: 'page page-rosters', 'aria-labelledby': 'rosters-h' },
      h('div', { class: 'page-head' }, h('div', {}, tx('h1', 'rosters.title', { id: 'rosters-h' }), tx('p', 'rosters.subtitle', { class: 'subtitle' }))),
      status,
      list,
      editor,
    ),
  );

  const say = (kind: 'ok' | 'error', msg: string, code: string = kind) => {
    clear(status, h('div', { class: `callout ${kind}`, role: kind === 'error' ? 'alert' : 'status', id: `rosters-${kind}`, 'data-code': code }, h('p', {}, msg)));
    if (kind === 'ok') announce(msg);
  };

  newForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const unit = newUnit.value.trim().toUpperCase();
    if (!UNIT.test(unit)) return say('error', t('rosters.badUnit'), 'invalid_unit');
    if (district && !unit.startsWith(district)) return say('error', t('rosters.otherDistrict', { district }), 'forbidden');
    const known = rosters.find((r) => r.unit === unit);
    edit(unit, known ?? { people: [], shifts: [], overrides: [], roles: {}, robots: {} }, !known);
  });

  load();

  async function load(): Promise<void> {
    if (!rosters.length) clear(list, loadingState());
    try {
      rosters = await api.rosters(district ?? undefined);
    } catch (e) {
      clear(list, errorState(e, load));
      return;
    }
    // Who is on duty now, per unit (a roster the notifier refuses shows as nobody).
    const answers = await Promise.all(rosters.map((r) => api.onDuty(r.unit ?? '').catch(() => null)));
    duty = new Map(rosters.map((r, i) => [r.unit ?? '', answers[i]]));
    renderList();
  }

  function renderList(): void {
    clear(
      list,
      h('h2', {}, t('rosters.list', { n: rosters.length })),
      rosters.length === 0
        ? h('p', { class: 'hint', id: 'rosters-empty' }, t('rosters.empty'))
        : h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { class: 'item-table', id: 'rosters-table' },
              h('thead', {}, h('tr', {}, ['rosters.unit', 'rosters.people', 'rosters.onDutyNow', 'rosters.head', 'rosters.updated', 'rosters.actions'].map((k) => h('th', { scope: 'col' }, t(k as Key))))),
              h(
                'tbody',
                {},
                rosters.map((r) => {
                  const unit = r.unit ?? '';
                  const now = duty.get(unit);
                  const head = now?.roles?.[HEAD_ROLE];
                  const open = h('button', { type: 'button', class: 'btn small secondary', 'data-action': 'edit' }, t('rosters.edit'));
                  open.addEventListener('click', () => edit(unit, r, false));
                  return h(
                    'tr',
                    { 'data-unit': unit },
                    h('td', { class: 'code' }, unit),
                    h('td', {}, String(r.people.length)),
                    h('td', { class: 'on-duty' }, personLabel(now?.duty_officer)),
                    h('td', { class: 'head' }, head ? head.name : '—'),
                    h('td', {}, r.updated_at ? `${dateTime(r.updated_at)}${r.updated_by ? ` · ${r.updated_by}` : ''}` : '—'),
                    h('td', { class: 'actions' }, open),
                  );
                }),
              ),
            ),
          ),
      newForm,
    );
  }

  function edit(unit: string, r: Roster, fresh: boolean): void {
    editing = { unit, draft: draftOf(r), fresh };
    clear(status);
    renderEditor();
    editor.scrollIntoView?.({ block: 'start' });
  }

  function renderEditor(): void {
    if (!editing) {
      editor.hidden = true;
      return;
    }
    const { unit, draft } = editing;
    editor.hidden = false;
    editor.dataset.unit = unit;
    const rerender = () => renderEditor();
    const personOptions = (selected: string) => [
      h('option', { value: '', selected: !selected }, t('rosters.choosePerson')),
      ...draft.people.map((p) => h('option', { value: p.id, selected: p.id === selected }, p.name || p.id)),
    ];
    const input = (value: string | null | undefined, attrs: Record<string, string>, set: (v: string) => void) => {
      const el = h('input', { value: value ?? '', ...attrs });
      el.addEventListener('input', () => set(el.value));
      return el;
    };
    const remove = (label: Key, drop: () => void) => {
      const b = h('button', { type: 'button', class: 'btn small ghost', 'data-action': 'remove', 'aria-label': t(label) }, '✕');
      b.addEventListener('click', () => (drop(), rerender()));
      return b;
    };
    const add = (id: string, label: Key, push: () => void) => {
      const b = h('button', { type: 'button', class: 'btn small secondary', id }, t(label));
      b.addEventListener('click', () => (push(), rerender()));
      return b;
    };

    const people = h(
      'fieldset',
      { id: 'roster-people' },
      tx('legend', 'rosters.people'),
      h(
        'table',
        { class: 'item-table' },
        h('thead', {}, h('tr', {}, ['rosters.personId', 'rosters.name', 'rosters.phone', 'rosters.email', 'rosters.wecom', 'rosters.quiet', ''].map((k) => h('th', { scope: 'col' }, k ? t(k as Key) : '')))),
        h(
          'tbody',
          {},
          draft.people.map((p, i) => {
            const quiet = () => (p.quiet_hours ??= { start: '', end: '' });
            // A changed id or name changes the people offered to shifts: re-render on change.
            const id = input(p.id, { 'aria-label': t('rosters.personId'), class: 'person-id', spellcheck: 'false' }, (v) => (p.id = v));
            id.addEventListener('change', rerender);
            const name = input(p.name, { 'aria-label': t('rosters.name'), class: 'person-name' }, (v) => (p.name = v));
            name.addEventListener('change', rerender);
            return h(
              'tr',
              { 'data-person': p.id },
              h('td', {}, id),
              h('td', {}, name),
              h('td', {}, input(p.phone, { 'aria-label': t('rosters.phone'), type: 'tel', class: 'person-phone' }, (v) => (p.phone = v))),
              h('td', {}, input(p.email, { 'aria-label': t('rosters.email'), type: 'email', class: 'person-email' }, (v) => (p.email = v))),
              h('td', {}, input(p.wecom_id, { 'aria-label': t('rosters.wecom'), class: 'person-wecom' }, (v) => (p.wecom_id = v))),
              h(
                'td',
                { class: 'quiet' },
                input(p.quiet_hours?.start, { type: 'time', 'aria-label': t('rosters.quietStart') }, (v) => (quiet().start = v)),
                '–',
                input(p.quiet_hours?.end, { type: 'time', 'aria-label': t('rosters.quietEnd') }, (v) => (quiet().end = v)),
              ),
              h('td', {}, remove('rosters.removePerson', () => draft.people.splice(i, 1))),
            );
          }),
        ),
      ),
      add('roster-add-person', 'rosters.addPerson', () => draft.people.push({ id: `p${draft.people.length + 1}`, name: '' })),
    );

    const shifts = h(
      'fieldset',
      { id: 'roster-shifts' },
      tx('legend', 'rosters.shifts'),
      tx('p', 'rosters.shiftsHint', { class: 'hint' }),
      h(
        'ul',
        { class: 'plain' },
        draft.shifts.map((s: RosterShift, i) => {
          const person = h('select', { 'aria-label': t('rosters.person'), class: 'shift-person' }, personOptions(s.person));
          person.addEventListener('change', () => (s.person = person.value));
          return h(
            'li',
            { class: 'row shift', 'data-shift': String(i) },
            h(
              'span',
              { class: 'days', role: 'group', 'aria-label': t('rosters.days') },
              DAYS.map((d) => {
                const box = h('input', { type: 'checkbox', value: d, checked: s.days.includes(d), 'aria-label': t(`rosters.day.${d}` as Key) });
                box.addEventListener('change', () => {
                  s.days = DAYS.filter((x) => (x === d ? box.checked : s.days.includes(x)));
                });
                return h('label', { class: 'day' }, box, t(`rosters.day.${d}` as Key));
              }),
            ),
            input(s.start, { type: 'time', 'aria-label': t('rosters.start'), class: 'shift-start', required: 'true' }, (v) => (s.start = v)),
            '→',
            input(s.end, { type: 'time', 'aria-label': t('rosters.end'), class: 'shift-end', required: 'true' }, (v) => (s.end = v)),
            person,
            remove('rosters.removeShift', () => draft.shifts.splice(i, 1)),
          );
        }),
      ),
      add('roster-add-shift', 'rosters.addShift', () => draft.shifts.push({ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '08:30', end: '17:30', person: draft.people[0]?.id ?? '' })),
    );

    const overrides = h(
      'fieldset',
      { id: 'roster-overrides' },
      tx('legend', 'rosters.overrides'),
      tx('p', 'rosters.overridesHint', { class: 'hint' }),
      h(
        'ul',
        { class: 'plain' },
        draft.overrides.map((o, i) => {
          const person = h('select', { 'aria-label': t('rosters.person'), class: 'override-person' }, personOptions(o.person));
          person.addEventListener('change', () => (o.person = person.value));
          return h(
            'li',
            { class: 'row override', 'data-override': String(i) },
            input(o.from, { type: 'datetime-local', 'aria-label': t('rosters.from'), class: 'override-from' }, (v) => (o.from = v)),
            '→',
            input(o.until, { type: 'datetime-local', 'aria-label': t('rosters.until'), class: 'override-until' }, (v) => (o.until = v)),
            person,
            input(o.note, { 'aria-label': t('rosters.note'), class: 'override-note', placeholder: t('rosters.notePlaceholder') }, (v) => (o.note = v)),
            remove('rosters.removeOverride', () => draft.overrides.splice(i, 1)),
          );
        }),
      ),
      add('roster-add-override', 'rosters.addOverride', () => draft.overrides.push({ from: '', until: '', person: draft.people[0]?.id ?? '' })),
    );

    // Roles: the department head, and any other role the roster already names.
    const roleNames = [HEAD_ROLE, ...Object.keys(draft.roles).filter((r) => r !== HEAD_ROLE)];
    const roles = h(
      'fieldset',
      { id: 'roster-roles' },
      tx('legend', 'rosters.roles'),
      roleNames.map((role) => {
        const sel = h('select', { id: `roster-role-${role}`, 'data-role': role }, personOptions(draft.roles[role] ?? ''));
        sel.addEventListener('change', () => (draft.roles[role] = sel.value));
        return h('div', { class: 'field' }, h('label', { for: `roster-role-${role}` }, role === HEAD_ROLE ? t('rosters.head') : role), sel);
      }),
    );
    const robots = h(
      'fieldset',
      { id: 'roster-robots' },
      tx('legend', 'rosters.robots'),
      h('div', { class: 'field' }, tx('label', 'rosters.wecomRobot', { for: 'roster-robot-wecom' }), input(draft.robots?.wecom, { id: 'roster-robot-wecom', type: 'url', spellcheck: 'false' }, (v) => ((draft.robots ??= {}).wecom = v))),
      h('div', { class: 'field' }, tx('label', 'rosters.dingtalkRobot', { for: 'roster-robot-dingtalk' }), input(draft.robots?.dingtalk, { id: 'roster-robot-dingtalk', type: 'url', spellcheck: 'false' }, (v) => ((draft.robots ??= {}).dingtalk = v))),
    );

    // Who is on duty at a chosen time (default now), by the stored roster.
    const at = h('input', { type: 'datetime-local', id: 'roster-at', 'aria-label': t('rosters.at') });
    const dutyOut = h('span', { id: 'roster-on-duty' }, editing.fresh ? t('rosters.notSaved') : personLabel(duty.get(unit)?.duty_officer));
    const ask = h('button', { type: 'button', class: 'btn small secondary', id: 'roster-ask', disabled: editing.fresh }, t('rosters.ask'));
    ask.addEventListener('click', async () => {
      try {
        // The roster's times are China time, whatever the browser's zone.
        const when = at.value ? new Date(`${at.value}:00+08:00`).toISOString() : undefined;
        const answer = await api.onDuty(unit, when);
        dutyOut.textContent = personLabel(answer.duty_officer);
      } catch (e) {
        dutyOut.textContent = errorMessage(e);
      }
    });

    const save = h('button', { type: 'submit', class: 'btn primary', id: 'roster-save' }, t('rosters.save'));
    const cancel = h('button', { type: 'button', class: 'btn ghost', id: 'roster-cancel' }, t('common.cancel'));
    cancel.addEventListener('click', () => {
      editing = null;
      renderEditor();
    });
    const form = h('form', { novalidate: true }, people, shifts, overrides, roles, robots, h('div', { class: 'row' }, save, cancel));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (!editing) return;
      const wrong = problem(draft);
      if (wrong) return say('error', t(wrong), 'invalid');
      save.disabled = true;
      try {
        await api.putRoster(unit, bodyOf(draft));
        say('ok', t('rosters.saved', { unit }));
        editing = null;
        renderEditor();
        await load();
      } catch (err) {
        // The notifier names the field it refused (a time, a day, an unknown person).
        say('error', err instanceof ApiError ? t('rosters.refused', { message: err.message }) : errorMessage(err), err instanceof ApiError ? err.code : 'error');
        save.disabled = false;
      }
    });

    clear(
      editor,
      h('h2', { id: 'roster-editor-h' }, t('rosters.editing', { unit })),
      h('p', { class: 'row' }, tx('span', 'rosters.onDutyAt'), ' ', at, ask, ' ', dutyOut),
      form,
    );
  }

  return {
    unmount() {},
    relabel() {
      newBtn.textContent = t('rosters.new');
      if (rosters.length || list.querySelector('#rosters-empty')) renderList();
      renderEditor();
    },
  };
}
