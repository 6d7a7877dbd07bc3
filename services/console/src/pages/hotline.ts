// The 12345 hotline import (a district's command centre): the hotline's export as a CSV file
// (English or the hotline's Chinese headers) or pasted text; a dry run checks every row first;
// the answer is shown row by row: raised (with its town, or triage), imported before, or refused
// with the column at fault and the server's reason.
import { api, ApiError, type HotlineImportReport, type HotlineRowResult } from '../api';
import { announce, clear, h, tx } from '../dom';
import { t, type Key } from '../i18n';
import type { Page } from '../router';
import { errorMessage } from './common';

/** The header of a file the hotline's export can be mapped to (shown as a template). */
export const TEMPLATE = 'order_no,received_at,item,town,lat,lon,datum,address,description,caller_name,caller_phone';

export function mountHotline(root: HTMLElement): Page {
  const status = h('div', { id: 'hotline-status', 'aria-live': 'polite' });
  const results = h('div', { class: 'panel', id: 'hotline-results', hidden: true });
  const file = h('input', { type: 'file', id: 'hotline-file', accept: '.csv,text/csv' }) as HTMLInputElement;
  const text = h('textarea', { id: 'hotline-text', rows: 8, spellcheck: 'false', placeholder: TEMPLATE }) as HTMLTextAreaElement;
  const dry = h('input', { type: 'checkbox', id: 'hotline-dry-run', checked: true }) as HTMLInputElement;
  const submit = h('button', { type: 'submit', class: 'btn', id: 'hotline-import' }, t('hotline.import'));
  const form = h(
    'form',
    { class: 'panel', id: 'hotline-form', novalidate: true },
    h('div', { class: 'field' }, tx('label', 'hotline.file', { for: 'hotline-file' }), file),
    h('div', { class: 'field' }, tx('label', 'hotline.paste', { for: 'hotline-text' }), text),
    h('p', { class: 'hint' }, t('hotline.columns'), ' ', h('code', {}, TEMPLATE)),
    h('label', { class: 'check' }, dry, ' ', t('hotline.dryRun')),
    h('div', { class: 'actions' }, submit),
  );
  root.append(
    h(
      'section',
      { class: 'page page-hotline', 'aria-labelledby': 'hotline-h' },
      h('div', { class: 'page-head' }, h('div', {}, tx('h1', 'hotline.title', { id: 'hotline-h' }), tx('p', 'hotline.subtitle', { class: 'subtitle' }))),
      status,
      form,
      results,
    ),
  );

  const say = (kind: 'ok' | 'error', msg: string, code: string = kind) => {
    clear(status, h('div', { class: `callout ${kind}`, role: kind === 'error' ? 'alert' : 'status', id: `hotline-${kind}`, 'data-code': code }, h('p', {}, msg)));
    if (kind === 'ok') announce(msg);
  };

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const chosen = file.files?.[0];
    const csv = chosen ? await chosen.text() : text.value;
    if (!csv.trim()) return say('error', t('hotline.nothing'), 'empty');
    submit.setAttribute('disabled', '');
    try {
      const report = await api.importHotline(csv, dry.checked);
      say('ok', t(report.dry_run ? 'hotline.checked' : 'hotline.done', { created: report.created, existing: report.existing, failed: report.failed }));
      render(report);
    } catch (err) {
      say('error', errorMessage(err), err instanceof ApiError ? err.code : 'error');
    } finally {
      submit.removeAttribute('disabled');
    }
  });

  function render(report: HotlineImportReport): void {
    results.hidden = false;
    clear(
      results,
      h('h2', {}, t(report.dry_run ? 'hotline.resultsDry' : 'hotline.results')),
      report.ignored_columns?.length ? h('p', { class: 'hint', id: 'hotline-ignored' }, t('hotline.ignored', { columns: report.ignored_columns.join(', ') })) : null,
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { class: 'item-table', id: 'hotline-table' },
          h('thead', {}, h('tr', {}, ['hotline.row', 'hotline.orderNo', 'hotline.outcome', 'hotline.town', 'hotline.detail'].map((k) => h('th', { scope: 'col' }, t(k as Key))))),
          h('tbody', {}, report.rows.map(rowOf)),
        ),
      ),
    );
  }

  function rowOf(r: HotlineRowResult) {
    const detail = r.error
      ? h('span', { class: 'row-error', 'data-code': r.error.code, 'data-field': r.error.field ?? '' }, r.error.field ? `${r.error.field}: ${r.error.message}` : r.error.message)
      : r.id
        ? h('a', { href: `#/ledger?q=${encodeURIComponent(r.order_no)}`, class: 'code' }, r.id)
        : '';
    return h(
      'tr',
      { 'data-row': String(r.row), 'data-outcome': r.outcome },
      h('td', {}, String(r.row)),
      h('td', { class: 'code' }, r.order_no),
      h('td', {}, h('span', { class: `badge outcome-${r.outcome}` }, t(`hotline.outcome.${r.outcome}` as Key))),
      h('td', { class: 'code' }, r.error ? '' : r.town ?? t('hotline.triage')),
      h('td', {}, detail, r.possible_duplicates?.length ? h('span', { class: 'badge dup' }, t('hotline.duplicates', { n: r.possible_duplicates.length })) : null),
    );
  }

  return { unmount: () => {}, relabel: () => {} };
}
