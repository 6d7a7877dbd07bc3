// The manager view's "成效指标 / Outcome figures" panel: GET /api/v1/figures over this month, the
// last 30 days or the last 90 days, for the account's scope (the city, or its district). The
// figures are defined in docs/figures.md#definitions; the note under the panel says so briefly.
import { api, type FiguresReport, type OutcomeFigures } from '../api';
import { clear, h } from '../dom';
import { lang, t, type Key } from '../i18n';
import { percent } from '../format';
import { errorState, loadingState } from './common';

export type FiguresPeriod = 'month' | 'd30' | 'd90';
export const PERIODS: FiguresPeriod[] = ['month', 'd30', 'd90'];

/** The query of a period, at `now`: this month from its first day (China time), or the last N days. */
export function periodQuery(p: FiguresPeriod, now = Date.now()): { from?: string; to?: string } {
  switch (p) {
    case 'month': {
      const china = new Date(now + 8 * 3600_000);
      return { from: `${china.toISOString().slice(0, 7)}-01` };
    }
    case 'd30':
      return {};
    case 'd90':
      return { from: new Date(now - 90 * 86400_000).toISOString() };
  }
}

/** Hours under two days, days from then on; an em dash when there is nothing to measure. */
export function hoursOrDays(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  const hours = seconds / 3600;
  const zh = lang() === 'zh';
  if (hours < 48) return zh ? `${hours.toFixed(1)} 小时` : `${hours.toFixed(1)} h`;
  const days = hours / 24;
  return zh ? `${days.toFixed(1)} 天` : `${days.toFixed(1)} d`;
}

/** The panel, loading itself; `relabel` re-renders in the current language. */
export function figuresPanel(): { el: HTMLElement; relabel(): void; unmount(): void } {
  let period: FiguresPeriod = 'd30';
  let state: 'loading' | 'ok' | 'error' = 'loading';
  let report: FiguresReport | null = null;
  let error: unknown = null;
  let stopped = false;
  let seq = 0;
  const body = h('div', { class: 'figures-body', 'aria-live': 'polite' });
  const picker = h('div', { class: 'suggestions figures-periods', role: 'radiogroup', id: 'figures-periods' });
  const heading = h('h2', { id: 'figures-h' });
  const el = h('section', { class: 'panel figures', id: 'figures-panel', 'aria-labelledby': 'figures-h' }, heading, picker, body);

  async function load(): Promise<void> {
    const mine = ++seq;
    state = 'loading';
    render();
    try {
      const r = await api.figures(periodQuery(period));
      if (mine !== seq || stopped) return;
      report = r;
      state = 'ok';
    } catch (e) {
      if (mine !== seq || stopped) return;
      state = 'error';
      error = e;
    }
    render();
  }

  function kpi(figure: string, label: Key, value: string, raw: number | null | undefined): HTMLElement {
    return h(
      'div',
      { class: 'kpi', 'data-figure': figure, 'data-value': raw === null || raw === undefined ? '' : String(raw) },
      h('div', { class: 'kpi-value' }, value),
      h('div', { class: 'kpi-label' }, t(label)),
    );
  }

  function figures(f: OutcomeFigures): HTMLElement {
    const rating = f.rating_mean === null || f.rating_mean === undefined ? '' : ` · ${t('figures.ratingMean', { r: f.rating_mean.toFixed(2) })}`;
    return h(
      'div',
      { class: 'kpis figures-kpis', id: 'figures-kpis' },
      kpi('procedures_per_case', 'figures.proceduresPerCase', f.procedures_per_case.toFixed(2), f.procedures_per_case),
      kpi('handling_mean_seconds', 'figures.handlingMean', hoursOrDays(f.handling_mean_seconds), f.handling_mean_seconds),
      kpi('handling_median_seconds', 'figures.handlingMedian', hoursOrDays(f.handling_median_seconds), f.handling_median_seconds),
      kpi('handling_p90_seconds', 'figures.handlingP90', hoursOrDays(f.handling_p90_seconds), f.handling_p90_seconds),
      kpi('inspections', 'figures.inspections', String(f.inspections), f.inspections),
      kpi(
        'repeated_inspections',
        'figures.repeated',
        `${f.repeated_inspections} (${percent(f.repeated_inspection_rate)})`,
        f.repeated_inspections,
      ),
      kpi('rechecks', 'figures.rechecks', String(f.rechecks), f.rechecks),
      kpi('penalties', 'figures.penalties', String(f.penalties), f.penalties),
      kpi('reopens', 'figures.reopens', String(f.reopens), f.reopens),
      kpi('confirmations', 'figures.confirmations', `${f.confirmations}${rating}`, f.confirmations),
      kpi(
        'fences_warned',
        'figures.fences',
        t('figures.fencesValue', { w: f.fences_warned, o: f.fences_overridden, b: f.fences_blocked }),
        f.fences_warned,
      ),
    );
  }

  function render(): void {
    if (stopped) return;
    heading.textContent = t('figures.title');
    clear(
      picker,
      PERIODS.map((p) =>
        h(
          'button',
          {
            type: 'button',
            class: 'chip',
            role: 'radio',
            'aria-checked': String(p === period),
            'data-period': p,
            onclick: () => {
              if (p === period) return;
              period = p;
              void load();
            },
          },
          t(`figures.period.${p}` as Key),
        ),
      ),
    );
    el.setAttribute('aria-busy', String(state === 'loading'));
    if (state === 'loading') return clear(body, loadingState());
    if (state === 'error' || !report) return clear(body, errorState(error, () => void load()));
    const r = report;
    const f = r.figures;
    const day = (iso: string) => new Date(iso).toLocaleDateString(lang() === 'zh' ? 'zh-CN' : 'en-GB', { timeZone: 'Asia/Shanghai' });
    clear(
      body,
      h(
        'p',
        { class: 'subtitle', id: 'figures-period', 'data-from': r.from, 'data-to': r.to, 'data-district': r.district ?? '' },
        t('figures.periodLine', { from: day(r.from), to: day(r.to), scope: r.district ?? t('figures.city') }),
        ' · ',
        t('figures.casesLine', { n: f.cases, closed: f.closed }),
      ),
      figures(f),
      h(
        'details',
        { class: 'figures-note', id: 'figures-note' },
        h('summary', {}, t('figures.noteTitle')),
        h('p', {}, t('figures.note', { days: r.repeat_window_days })),
        h('p', {}, t('figures.noteMore'), ' ', h('code', {}, r.definitions)),
      ),
    );
  }

  void load();
  return {
    el,
    relabel: render,
    unmount() {
      stopped = true;
    },
  };
}
