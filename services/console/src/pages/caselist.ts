// A list of enforcement cases (issue K) with each case's view: the procedure's facts, the next
// step's form (persuade, investigate with two certified officers, notify, decide, serve, close)
// and the timeline. A refusal (409 / 422) is shown on the form, which keeps what was typed: e.g. a
// decision outside the benchmark tier asks for a reason, the officer adds it and sends again.
// Shared by the town page (the town's own cases) and a department's board (the cases it opened
// from whistles it owns): the same procedure, one model.
import { api, newKey, type Case, type CaseStep, type CaseView, type Status } from '../api';
import { announce, clear, h, icon, statusBadge, tx } from '../dom';
import { ago, dateTime } from '../format';
import { nm, t, type Key, type Names } from '../i18n';
import { nextSteps, procedureFacts, rerender, stepError, timelineList } from './casework';
import { attachmentGallery, evidencePicker, type EvidencePicker } from './evidence';

interface Range {
  warning?: boolean;
  min_yuan?: number;
  max_yuan: number;
}

export interface CaseList {
  el: HTMLElement;
  /** A case of a channel (snapshot, page or event); returns false (and ignores it) for a whistle. */
  take(c: Case, live: boolean): boolean;
  /** A case just opened here: listed at once (open), its view fetched until it is recorded. */
  added(c: Case): void;
  relabel(): void;
  size(): number;
  /** Forget every case (another board was picked). */
  reset(): void;
}

/** `names`: an item's names by its code, for the rows' titles. */
export function caseList(names: (item: string) => Names | undefined, opts: { id: string; rowClass: string; empty: Key }): CaseList {
  const cases = new Map<string, Case>();
  const views = new Map<string, CaseView>();
  const pending = new Map<string, CaseStep>();
  const errors = new Map<string, { step: CaseStep; code: string; msg: string }>();
  const ranges = new Map<string, Record<string, Range> | null>();
  /** Each case's investigation evidence, kept across re-renders of its step form. */
  const investigation = new Map<string, EvidencePicker>();
  const list = h('div', { id: opts.id, class: 'whistle-list' });
  render();

  /** Fetch the case's view; `until`: poll a little while it has not moved past `from`. */
  async function loadView(id: string, poll = false, from?: { status: Status; steps: number }): Promise<void> {
    for (let i = 0; i < (poll ? 40 : 1); i++) {
      const v = await api.caseView(id).catch(() => null);
      if (v && (!from || v.status !== from.status || v.timeline?.length !== from.steps)) {
        views.set(id, v);
        cases.set(id, { ...(cases.get(id) ?? v), ...v, timeline: undefined });
        if (v.procedure?.decision || v.status === 'notified' || v.status === 'investigated') loadRange(v.item);
        render();
        return;
      }
      if (poll) await new Promise((r) => setTimeout(r, 250));
    }
  }

  async function loadRange(item: string): Promise<void> {
    if (ranges.has(item)) return;
    ranges.set(item, null);
    try {
      const d = (await api.registryItem(item)) as unknown as { statutory?: Record<string, Range> };
      ranges.set(item, d.statutory ?? null);
      render();
    } catch {
      /* the server checks the range anyway */
    }
  }

  function render(openId?: string): void {
    rerender(list, () => {
      const open = new Set([...list.querySelectorAll<HTMLDetailsElement>('details[open]')].map((d) => d.dataset.id));
      if (openId) open.add(openId);
      const all = [...cases.values()].sort((a, b) => Date.parse(b.raised_at) - Date.parse(a.raised_at));
      if (!all.length) return clear(list, h('p', { class: 'empty' }, t(opts.empty)));
      clear(
        list,
        h(
          'ul',
          { class: 'whistles cases' },
          all.slice(0, 50).map((c) => {
            const v = views.get(c.id);
            const party = v?.procedure?.party;
            return h(
              'li',
              { class: `whistle ${opts.rowClass}`, 'data-id': c.id, 'data-status': c.status },
              h(
                'details',
                {
                  'data-id': c.id,
                  open: open.has(c.id),
                  ontoggle: (e: Event) => {
                    if ((e.currentTarget as HTMLDetailsElement).open && !views.has(c.id)) loadView(c.id);
                  },
                },
                h(
                  'summary',
                  {},
                  h('span', { class: 'w-title' }, nm(names(c.item), c.item)),
                  statusBadge(c.status),
                  h('span', { class: 'w-desc' }, c.description),
                  h('span', { class: 'w-meta' }, party ? `${party.name} · ` : '', h('time', { datetime: c.raised_at, title: dateTime(c.raised_at) }, ago(c.raised_at))),
                ),
                h('p', { class: 'loc' }, icon('pin'), c.location?.address ?? ''),
                v ? caseBody(v) : h('p', { class: 'hint' }, t('common.loading')),
              ),
            );
          }),
        ),
      );
    });
  }

  function caseBody(v: CaseView): HTMLElement {
    const steps = nextSteps(v);
    const busy = pending.get(v.id);
    return h(
      'div',
      { class: 'case-body' },
      procedureFacts(v),
      attachmentGallery(v.attachments, `case-${v.id}`),
      steps.length
        ? h(
            'div',
            { class: 'next-steps', 'aria-label': t('case.nextSteps') },
            tx('h4', 'case.nextSteps'),
            busy ? h('p', { class: 'hint step-pending', role: 'status' }, t('case.sending', { step: t(`case.step.${busy}` as Key) })) : null,
            steps.map((s) => stepForm(v, s)),
          )
        : h('p', { class: 'hint case-done' }, t('case.done')),
      v.timeline?.length ? timelineList(v.timeline) : null,
    );
  }

  function stepForm(v: CaseView, step: CaseStep): HTMLElement {
    const id = v.id;
    const fid = (name: string) => `${step}-${name}-${id}`;
    const err = errors.get(id);
    const fields: (HTMLElement | null)[] = [];
    const lbl = (name: string, key: Key, control: HTMLElement) => h('div', { class: 'field' }, h('label', { for: fid(name) }, t(key)), control);
    if (step === 'persuade') {
      fields.push(
        lbl('outcome', 'case.persuadeOutcome', h('select', { id: fid('outcome') }, (['complied', 'refused'] as const).map((o) => h('option', { value: o }, t(`case.persuasion.${o}` as Key))))),
        lbl('note', 'case.note', h('textarea', { id: fid('note'), rows: 2 })),
      );
    } else if (step === 'investigate') {
      // The certified officers of the body whose case it is: its department's, else its town's.
      const roster = [1, 2, 3, 4].map((n) => `${v.department?.code ?? v.town}-0${n}`);
      const pick = (n: number) =>
        h('select', { id: fid(`officer${n}`) }, h('option', { value: '' }, t('case.officerPick')), roster.map((r) => h('option', { value: r }, r)));
      let picker = investigation.get(id);
      if (!picker) {
        picker = evidencePicker(`investigate-${id}`);
        investigation.set(id, picker);
      }
      fields.push(
        h('div', { class: 'row' }, lbl('officer1', 'case.officer1', pick(1)), lbl('officer2', 'case.officer2', pick(2))),
        lbl('evidence', 'case.evidence', h('textarea', { id: fid('evidence'), rows: 2, required: true })),
        picker.el,
      );
    } else if (step === 'notify') {
      fields.push(lbl('intended', 'case.intended', h('textarea', { id: fid('intended'), rows: 2, required: true })));
    } else if (step === 'decide') {
      const kind = v.procedure?.party.kind ?? 'unit';
      const range = ranges.get(v.item)?.[kind];
      const outcome = h(
        'select',
        { id: fid('outcome') },
        (['fine', 'warning', 'no_penalty', 'other'] as const).map((o) => h('option', { value: o }, t(`case.outcome.${o}` as Key))),
      );
      const fine = h('input', { id: fid('fine'), type: 'number', min: 1, step: 1, inputmode: 'numeric' });
      const fineField = lbl('fine', 'case.fine', fine);
      const sync = () => {
        fineField.hidden = outcome.value !== 'fine';
      };
      outcome.addEventListener('change', sync);
      outcome.addEventListener('restore', sync);
      const needReason = err?.step === 'decide' && err.code === 'override_reason_required';
      const reason = h('textarea', {
        id: fid('reason'),
        rows: 2,
        'aria-invalid': needReason ? 'true' : undefined,
        'aria-describedby': `${step}-error-${id}`,
      });
      fields.push(
        h('div', { class: 'row' }, lbl('outcome', 'case.outcome', outcome), fineField),
        range
          ? h('p', { class: 'hint statutory', id: fid('range') }, t('case.statutory', { kind: t(`case.kind.${kind}` as Key), min: range.min_yuan ?? 0, max: range.max_yuan }), range.warning ? ` ${t('case.warningAllowed')}` : '')
          : null,
        h(
          'div',
          { class: 'row checks' },
          h('label', {}, h('input', { type: 'checkbox', id: fid('corrected') }), ` ${t('case.corrected')}`),
          h('label', {}, h('input', { type: 'checkbox', id: fid('serious') }), ` ${t('case.serious')}`),
        ),
        h('div', { class: `field override${needReason ? ' needed' : ''}` }, h('label', { for: fid('reason') }, t('case.overrideReason')), reason, tx('p', 'case.overrideHint', { class: 'hint' })),
      );
      queueMicrotask(sync);
    } else if (step === 'close') {
      fields.push(lbl('note', 'case.closeNote', h('textarea', { id: fid('note'), rows: 2 })));
    }
    return h(
      'form',
      {
        class: 'step-form',
        'data-step': step,
        novalidate: true,
        onsubmit: (e: Event) => {
          e.preventDefault();
          sendStep(v, step);
        },
      },
      h('h5', {}, t(`case.step.${step}` as Key)),
      fields,
      err?.step === step ? h('p', { class: 'field-error step-error', role: 'alert', id: `${step}-error-${id}`, 'data-code': err.code }, err.msg) : null,
      h('button', { type: 'submit', class: 'btn primary', 'data-step': step, disabled: pending.has(id) }, t(`case.do.${step}` as Key)),
    );
  }

  async function sendStep(v: CaseView, step: CaseStep): Promise<void> {
    const id = v.id;
    const val = (name: string) => ((document.getElementById(`${step}-${name}-${id}`) as HTMLInputElement | null)?.value ?? '').trim();
    const checked = (name: string) => !!(document.getElementById(`${step}-${name}-${id}`) as HTMLInputElement | null)?.checked;
    const fail = (key: Key) => {
      errors.set(id, { step, code: 'required', msg: t(key) });
      render();
    };
    let body: Record<string, unknown> = {};
    if (step === 'persuade') body = { outcome: val('outcome'), ...(val('note') ? { note: val('note') } : {}) };
    else if (step === 'investigate') {
      const officers = [val('officer1'), val('officer2')].filter(Boolean);
      if (!val('evidence')) return fail('case.evidenceRequired');
      const picker = investigation.get(id);
      if (picker?.busy()) return fail('evidence.wait');
      const attachments = picker?.ids() ?? [];
      body = { officers, evidence: val('evidence'), ...(attachments.length ? { attachments } : {}) };
    } else if (step === 'notify') {
      if (!val('intended')) return fail('case.intendedRequired');
      body = { intended: val('intended') };
    } else if (step === 'decide') {
      const outcome = val('outcome');
      body = { outcome, corrected_in_time: checked('corrected'), serious_consequences: checked('serious') };
      if (outcome === 'fine') {
        const fine = Number(val('fine'));
        if (!Number.isInteger(fine) || fine <= 0) return fail('case.fineRequired');
        body.fine_yuan = fine;
      }
      if (val('reason')) body.override_reason = val('reason');
    } else if (step === 'close' && val('note')) body = { note: val('note') };
    errors.delete(id);
    pending.set(id, step);
    render();
    const from = { status: v.status, steps: v.timeline?.length ?? 0 };
    try {
      await api.caseStep(id, step, body, newKey());
      announce(t('case.stepAccepted', { step: t(`case.step.${step}` as Key) }));
      if (step === 'investigate') investigation.get(id)?.reset();
      for (const f of document.querySelectorAll<HTMLTextAreaElement>(`form.step-form[data-step="${step}"] textarea[id$="-${id}"]`)) f.value = '';
      await loadView(id, true, from);
    } catch (e) {
      const se = stepError(e);
      errors.set(id, { step, ...se });
    } finally {
      pending.delete(id);
      render();
      if (errors.get(id)?.code === 'override_reason_required') document.getElementById(`decide-reason-${id}`)?.focus();
    }
  }

  return {
    el: list,
    take(c, live) {
      if (c.kind !== 'enforcement') return false;
      const before = cases.get(c.id);
      cases.set(c.id, { ...before, ...c, timeline: undefined });
      if (live && (views.has(c.id) || list.querySelector(`details[data-id="${c.id}"][open]`))) loadView(c.id);
      else render();
      if (live && before && before.status !== c.status) announce(t('town.newStatus', { item: c.item, status: t(`status.${c.status}` as Key) }));
      return true;
    },
    added(c) {
      if (!cases.has(c.id)) cases.set(c.id, c);
      render(c.id);
      loadView(c.id, true);
    },
    relabel() {
      for (const p of investigation.values()) p.relabel();
      render();
    },
    size: () => cases.size,
    reset() {
      cases.clear();
      views.clear();
      pending.clear();
      errors.clear();
      investigation.clear();
      render();
    },
  };
}
