// The town's own enforcement cases on the town page (issue K): "open a case" for an item the town
// holds (the party: a person or a unit with its unified social credit code) and the list of the
// town's cases with each one's procedure (./caselist).
import { api, ApiError, newKey, type Case, type Item, type Town } from '../api';
import { clear, h, tx } from '../dom';
import { nm, t, type Key } from '../i18n';
import { caseList } from './caselist';
import { stepError } from './casework';
import { evidencePicker } from './evidence';

export interface CasePrefill {
  item?: string;
  description?: string;
  address?: string;
  lat?: string;
  lon?: string;
}

export interface TownCases {
  el: HTMLElement;
  /** A case of the town channel (snapshot, page or event); returns false for a whistle. */
  take(c: Case, live: boolean): boolean;
  prefill(p: CasePrefill): void;
  relabel(): void;
}

export const CREDIT_CODE = /^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$/;

export function townCases(town: Town, items: Item[], remember: (id: string) => void): TownCases {
  const own = items.filter((i) => i.holder?.kind === 'towns');
  const cases = caseList((code) => items.find((i) => i.code === code)?.names, { id: 'case-list', rowClass: 'town-case', empty: 'case.empty' });
  let openKey = newKey();
  const evidence = evidencePicker('case');

  const field = (id: string, key: Key, control: HTMLElement, extra?: HTMLElement | null) =>
    h('div', { class: 'field' }, tx('label', key, { for: id }), control, extra ?? null);
  const itemSel = h('select', { id: 'case-item', name: 'item', required: true });
  const desc = h('textarea', { id: 'case-description', name: 'description', rows: 2, required: true, 'data-i18n-placeholder': 'case.descriptionPlaceholder' });
  const kindSel = h('select', { id: 'case-subject-kind', name: 'subject_kind' });
  const partyName = h('input', { id: 'case-subject-name', name: 'subject_name', type: 'text', required: true });
  const credit = h('input', { id: 'case-credit-code', name: 'credit_code', type: 'text', maxlength: 18, autocapitalize: 'characters', spellcheck: 'false' });
  const creditField = field('case-credit-code', 'case.creditCode', credit, tx('p', 'case.creditCodeHint', { class: 'hint' }));
  const address = h('input', { id: 'case-address', name: 'address', type: 'text', required: true });
  const lat = h('input', { id: 'case-lat', name: 'lat', type: 'number', step: 'any', min: -90, max: 90, required: true });
  const lon = h('input', { id: 'case-lon', name: 'lon', type: 'number', step: 'any', min: -180, max: 180, required: true });
  const submit = h('button', { type: 'submit', class: 'btn primary', id: 'case-submit' }, t('case.submit'));
  const status = h('div', { id: 'case-status', class: 'form-status', 'aria-live': 'polite' });
  const form = h(
    'form',
    { id: 'case-form', class: 'case-form', novalidate: true, 'aria-labelledby': 'case-open-h' },
    tx('h3', 'case.open', { id: 'case-open-h' }),
    tx('p', 'case.openIntro', { class: 'hint' }),
    field('case-item', 'town.item', itemSel),
    field('case-description', 'town.description', desc),
    h('div', { class: 'row' }, field('case-subject-kind', 'case.subjectKind', kindSel), field('case-subject-name', 'case.subjectName', partyName)),
    creditField,
    field('case-address', 'town.address', address),
    h('div', { class: 'row coords' }, field('case-lat', 'town.lat', lat), field('case-lon', 'town.lon', lon)),
    evidence.el,
    h('div', { class: 'submit-row' }, submit, status),
  );
  const el = h(
    'section',
    { class: 'panel town-cases', id: 'town-cases', 'aria-labelledby': 'cases-h' },
    tx('h2', 'case.title', { id: 'cases-h' }),
    form,
    tx('h3', 'case.list', { id: 'case-list-h' }),
    cases.el,
  );

  fillSelects();
  kindSel.addEventListener('change', syncKind);
  syncKind();
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    open();
  });

  function fillSelects(): void {
    const keep = itemSel.value;
    clear(itemSel, h('option', { value: '' }, t('town.itemPlaceholder')), own.map((i) => h('option', { value: i.code }, `${nm(i.names)} · ${i.code}`)));
    itemSel.value = keep;
    const k = kindSel.value || 'unit';
    clear(kindSel, (['unit', 'individual'] as const).map((x) => h('option', { value: x }, t(`case.kind.${x}` as Key))));
    kindSel.value = k;
  }

  function syncKind(): void {
    creditField.hidden = kindSel.value !== 'unit';
  }

  function say(kind: 'ok' | 'error', id: string, msg: string, code = ''): void {
    clear(status, h('div', { class: `callout ${kind}`, role: kind === 'ok' ? 'status' : 'alert', id, 'data-code': code || undefined }, h('p', {}, msg)));
  }

  async function open(): Promise<void> {
    const missing: [HTMLElement, boolean][] = [
      [itemSel, !itemSel.value],
      [desc, !desc.value.trim()],
      [partyName, !partyName.value.trim()],
      [address, !address.value.trim()],
      [lat, !lat.value.trim() || !(Math.abs(Number(lat.value)) <= 90)],
      [lon, !lon.value.trim() || !(Math.abs(Number(lon.value)) <= 180)],
    ];
    const unit = kindSel.value === 'unit';
    const code = credit.value.trim().toUpperCase();
    if (unit) missing.push([credit, !CREDIT_CODE.test(code)]);
    for (const [c, bad] of missing) c.toggleAttribute('aria-invalid', bad);
    const first = missing.find(([, bad]) => bad);
    if (first) {
      first[0].focus();
      return say('error', 'case-error', first[0] === credit ? t('case.creditCodeBad') : t('town.required'), 'required');
    }
    if (evidence.busy()) return say('error', 'case-error', t('evidence.wait'), 'uploading');
    const attachments = evidence.ids();
    submit.disabled = true;
    submit.textContent = t('town.submitting');
    try {
      const res = await api.openCase(
        {
          town: town.code,
          item: itemSel.value,
          description: desc.value.trim(),
          location: { address: address.value.trim(), lat: Number(lat.value), lon: Number(lon.value) },
          subject: { kind: unit ? 'unit' : 'individual', name: partyName.value.trim(), ...(unit ? { credit_code: code } : {}) },
          ...(attachments.length ? { attachments } : {}),
        },
        openKey,
      );
      openKey = newKey();
      remember(res.id);
      const now = new Date().toISOString();
      cases.added({
          id: res.id,
          status: res.status,
          kind: 'enforcement',
          town: town.code,
          district: town.district.code,
          item: itemSel.value,
          description: desc.value.trim(),
          location: { address: address.value.trim(), lat: Number(lat.value), lon: Number(lon.value) },
          raised_at: now,
          updated_at: now,
        });
      say('ok', 'case-ok', t('case.opened'));
      desc.value = '';
      partyName.value = '';
      credit.value = '';
      evidence.reset();
    } catch (e) {
      const err = stepError(e);
      say('error', 'case-error', err.code === 'town_lacks_authority' ? `${t('case.err.town_lacks_authority')} ${(e as ApiError).message}` : err.msg, err.code);
    } finally {
      submit.disabled = false;
      submit.textContent = t('case.submit');
    }
  }

  return {
    el,
    take(c, live) {
      return cases.take(c, live);
    },
    prefill(p) {
      if (p.item && own.some((i) => i.code === p.item)) itemSel.value = p.item;
      if (p.description) desc.value = p.description;
      if (p.address) address.value = p.address;
      if (p.lat) lat.value = p.lat;
      if (p.lon) lon.value = p.lon;
      clear(status, h('div', { class: 'callout info', role: 'status', id: 'case-prefilled' }, h('p', {}, t('case.prefilled'))));
      el.scrollIntoView({ block: 'start' });
      partyName.focus();
    },
    relabel() {
      fillSelects();
      evidence.relabel();
      submit.textContent = t('case.submit');
      cases.relabel();
    },
  };
}
