// Charts (#/charts?district=&from=&to=&metric=): what managers would rather look at than read,
// over the whistles raised in a period, from GET /api/v1/reports/overview (each account its own
// scope). A map of Chongqing's 38 districts coloured by breach rate or by open cases (toggle);
// a district's click drills down: the same charts for that district and a link to its ledger
// list. Then the daily trend of raised / resolved / breached, the MTTA and MTTR distributions,
// the items raised most and the slowest departments. Apache ECharts is loaded on demand.
import { api, type DistrictInfo, type Overview, type OverviewBucket } from '../api';
import { clear, h, tx } from '../dom';
import { duration, percent } from '../format';
import { lang, nm, t, type Key, type Names } from '../i18n';
import { OPEN_STATUSES, addDays, chinaDay, ledgerHref } from '../ledgerlinks';
import * as reg from '../registry';
import { parseHash, setParams, type Page } from '../router';
import { ownDistrict } from '../session';
import { errorState, loadingState } from './common';

type Lib = typeof import('../charts/lib');
type Chart = ReturnType<Lib['echarts']['init']>;
type Metric = 'breach_rate' | 'open';

/** Quick periods, in days up to the end of today. */
const PERIODS = [7, 30, 90] as const;

/** The charts' state for the browser tests: the map's regions and where a district is on screen. */
export interface ChartsProbe {
  regions(): string[];
  data(): { name: string; value: number | null }[];
  metric(): Metric;
  district(): string;
  point(code: string): [number, number] | null;
}
declare global {
  interface Window {
    __whistleCharts?: ChartsProbe;
  }
}

const COLOURS = { raised: '#1a73e8', resolved: '#1e7b34', breached: '#b3261e' };

export function mountCharts(root: HTMLElement, params: URLSearchParams): Page {
  const today = chinaDay();
  let from = params.get('from') || addDays(today, -29);
  let to = params.get('to') || addDays(today, 1);
  let district = params.get('district') ?? '';
  let metric: Metric = params.get('metric') === 'open' ? 'open' : 'breach_rate';
  let lib: Lib | null = null;
  let city: Overview | null = null;
  let drilled: Overview | null = null;
  let error: unknown = null;
  let seq = 0;
  let stopped = false;
  const districtNames = new Map<string, Names>();
  const kinds = new Map<string, string>();
  const deptNames = new Map<string, Names>();
  const itemNames = new Map<string, Names>();
  const charts = new Map<string, Chart>();

  const fromInput = h('input', { type: 'date', id: 'charts-from', value: from });
  const toInput = h('input', { type: 'date', id: 'charts-to', value: addDays(to, -1) });
  const metricBox = h('div', { class: 'segmented', role: 'radiogroup', id: 'charts-metric' });
  const drill = h('div', { class: 'charts-drill', id: 'charts-drill' });
  const kpis = h('div', { class: 'kpis', id: 'charts-kpis' });
  const body = h('div', { class: 'charts-body', 'aria-live': 'polite' });
  const box = (id: string, title: Key, cls = '') =>
    h(
      'section',
      { class: `panel chart-panel ${cls}`, 'aria-labelledby': `${id}-h` },
      tx('h2', title, { id: `${id}-h` }),
      h('div', { class: 'echart', id, role: 'img' }),
      h('p', { class: 'hint chart-empty', id: `${id}-empty`, hidden: true }, t('charts.noData')),
    );
  const panels = h(
    'div',
    { class: 'charts-grid' },
    h(
      'section',
      { class: 'panel chart-panel wide', 'aria-labelledby': 'chart-map-h' },
      h('div', { class: 'page-head' }, tx('h2', 'charts.map', { id: 'chart-map-h' }), metricBox),
      h('div', { class: 'echart map', id: 'chart-map', role: 'img' }),
      h('p', { class: 'hint', id: 'chart-map-note' }),
    ),
    box('chart-daily', 'charts.daily', 'wide'),
    box('chart-mtta', 'charts.mtta'),
    box('chart-mttr', 'charts.mttr'),
    box('chart-items', 'charts.topItems'),
    box('chart-depts', 'charts.slowest'),
  );

  root.append(
    h(
      'section',
      { class: 'page page-charts', 'aria-labelledby': 'charts-h' },
      h('div', { class: 'page-head' }, h('div', {}, tx('h1', 'charts.title', { id: 'charts-h' }), h('p', { class: 'subtitle', id: 'charts-period' }))),
      h(
        'form',
        { class: 'pickers charts-period', id: 'charts-form' },
        h('div', { class: 'field' }, tx('label', 'charts.from', { for: 'charts-from' }), fromInput),
        h('div', { class: 'field' }, tx('label', 'charts.to', { for: 'charts-to' }), toInput),
        h('div', { class: 'field narrow' }, h('span', { class: 'label-spacer', 'aria-hidden': 'true' }, '\u00a0'), h('button', { type: 'submit', class: 'btn secondary small', id: 'charts-apply', 'data-i18n': 'charts.apply' }, t('charts.apply'))),
        h(
          'div',
          { class: 'field narrow' },
          h('span', { class: 'label-spacer', 'aria-hidden': 'true' }, '\u00a0'),
          h('div', { class: 'quick-periods' }, PERIODS.map((n) => h('button', { type: 'button', class: 'btn ghost small', 'data-days': n, onclick: () => lastDays(n) }, t('charts.lastDays', { n })))),
        ),
      ),
      drill,
      kpis,
      body,
    ),
  );

  root.querySelector('#charts-form')?.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = fromInput.value;
    const last = toInput.value;
    if (!f || !last) return;
    from = f;
    to = addDays(last, 1);
    city = null;
    save();
    load();
  });
  const onResize = () => charts.forEach((c) => c.resize());
  window.addEventListener('resize', onResize);
  const onHash = (): void => {
    const { name, params: p } = parseHash();
    if (name !== 'charts') return;
    const d = p.get('district') ?? '';
    if (d !== district) {
      district = d;
      load();
    }
  };
  window.addEventListener('hashchange', onHash);

  window.__whistleCharts = {
    regions() {
      const c = charts.get('chart-map');
      const geo = (c as unknown as { getModel(): { getSeriesByIndex(i: number): { coordinateSystem?: { regions?: { name: string }[] } } } } | undefined)?.getModel().getSeriesByIndex(0)?.coordinateSystem;
      return (geo?.regions ?? []).map((r) => r.name);
    },
    data: () => mapData(),
    metric: () => metric,
    district: () => district,
    point(code) {
      const c = charts.get('chart-map');
      if (!c) return null;
      const geo = (c as unknown as { getModel(): { getSeriesByIndex(i: number): { coordinateSystem?: { getRegion(n: string): { getCenter(): number[] } | undefined } } } }).getModel().getSeriesByIndex(0)?.coordinateSystem;
      const centre = geo?.getRegion(code)?.getCenter();
      if (!centre) return null;
      const xy = c.convertToPixel({ seriesIndex: 0 }, centre) as number[];
      const rect = c.getDom().getBoundingClientRect();
      return [rect.left + xy[0], rect.top + xy[1]];
    },
  };

  renderMetric();
  init();

  function save(): void {
    setParams({ from, to, district: district || null, metric: metric === 'open' ? 'open' : null });
  }

  function lastDays(n: number): void {
    to = addDays(chinaDay(), 1);
    from = addDays(to, -n);
    fromInput.value = from;
    toInput.value = addDays(to, -1);
    city = null;
    save();
    load();
  }

  async function init(): Promise<void> {
    clear(body, loadingState());
    try {
      const [library, districts, items] = await Promise.all([
        import('../charts/lib'),
        api.districts() as Promise<(DistrictInfo & { kind?: string })[]>,
        reg.items('').catch(() => []),
      ]);
      lib = library;
      for (const d of districts) {
        districtNames.set(d.code, d.names);
        kinds.set(d.code, d.kind ?? '');
        for (const dep of d.departments ?? []) {
          deptNames.set(dep.code, { zh: dep.names.zh.startsWith(d.names.zh) ? dep.names.zh : `${d.names.zh}${dep.names.zh}`, en: dep.names.en.startsWith(d.names.en) ? dep.names.en : `${d.names.en} ${dep.names.en}` });
        }
      }
      for (const it of items) itemNames.set(it.code, it.names);
      const { unmatched } = lib.registerChongqing(districts);
      if (unmatched.length) console.warn(`map polygons without a registry district: ${unmatched.join(', ')}`);
    } catch (e) {
      clear(body, errorState(e, init));
      return;
    }
    if (stopped) return;
    clear(body, panels);
    await load();
  }

  async function load(): Promise<void> {
    if (!lib) return;
    const mine = ++seq;
    save();
    body.setAttribute('aria-busy', 'true');
    try {
      const q = new URLSearchParams({ from, to });
      if (!city) city = await api.overview(q.toString());
      if (district) {
        q.set('district', district);
        drilled = await api.overview(q.toString());
      } else drilled = null;
      error = null;
    } catch (e) {
      error = e;
    }
    if (mine !== seq || stopped) return;
    body.setAttribute('aria-busy', 'false');
    if (error) {
      clear(body, errorState(error, () => {
        clear(body, panels);
        load();
      }));
      return;
    }
    if (!body.contains(panels)) clear(body, panels);
    render();
  }

  function shown(): Overview | null {
    return drilled ?? city;
  }

  function districtLabel(code: string): string {
    return nm(districtNames.get(code), code);
  }

  function mapData(): { name: string; value: number | null }[] {
    const rows = new Map((city?.districts ?? []).map((d) => [d.code, d]));
    return [...districtNames.keys()]
      .filter((code) => kinds.get(code) !== 'functional_zone')
      .map((code) => {
        const d = rows.get(code);
        const value = metric === 'open' ? (d?.open ?? 0) : (d?.breach_rate ?? null);
        return { name: code, value };
      });
  }

  function renderMetric(): void {
    clear(
      metricBox,
      (['breach_rate', 'open'] as Metric[]).map((m) =>
        h(
          'button',
          { type: 'button', role: 'radio', class: 'btn small', 'aria-checked': String(m === metric), 'data-metric': m, onclick: () => setMetric(m) },
          t(`charts.metric.${m}` as Key),
        ),
      ),
    );
  }

  function setMetric(m: Metric): void {
    metric = m;
    save();
    renderMetric();
    renderMap();
  }

  function drillTo(code: string): void {
    district = code === district ? '' : code;
    load();
  }

  function chart(id: string): Chart | null {
    if (!lib) return null;
    let c = charts.get(id);
    const el = body.querySelector<HTMLElement>(`#${id}`);
    if (!el) return null;
    if (!c || c.getDom() !== el) {
      c?.dispose();
      c = lib.echarts.init(el, undefined, { renderer: 'canvas', locale: lang() === 'zh' ? 'ZH' : 'EN' });
      charts.set(id, c);
      if (id === 'chart-map') c.on('click', (p) => drillTo(String(p.name)));
    }
    return c;
  }

  function render(): void {
    const o = shown();
    if (!o) return;
    clear(
      root.querySelector('#charts-period') as HTMLElement,
      t('charts.period', { from, to: addDays(to, -1) }),
      ' · ',
      district ? districtLabel(district) : ownDistrict() ? districtLabel(ownDistrict()!) : t('charts.city'),
    );
    renderDrill();
    const f = o.total;
    const fmtDur = (s: number | null) => (s === null ? '—' : duration(s * 1000));
    clear(
      kpis,
      kpi('charts.kpi.raised', String(f.raised), 'raised'),
      kpi('charts.kpi.open', String(f.open), 'open'),
      kpi('charts.kpi.breachRate', f.breach_rate === null ? '—' : percent(f.breach_rate), 'breach_rate'),
      kpi('charts.kpi.mtta', fmtDur(f.mtta_seconds), 'mtta'),
      kpi('charts.kpi.mttr', fmtDur(f.mttr_seconds), 'mttr'),
      kpi('charts.kpi.overdue', String(f.overdue), 'overdue'),
    );
    renderMap();
    renderDaily(o);
    renderHistogram('chart-mtta', o.mtta_histogram, 'charts.cases');
    renderHistogram('chart-mttr', o.mttr_histogram, 'charts.cases');
    renderItems(o);
    renderDepartments(o);
  }

  function kpi(label: Key, value: string, key: string): HTMLElement {
    return h('div', { class: 'kpi', 'data-kpi': key }, h('div', { class: 'kpi-value' }, value), h('div', { class: 'kpi-label' }, t(label)));
  }

  function renderDrill(): void {
    if (!district) {
      clear(drill, h('p', { class: 'hint' }, t('charts.clickHint')), h('a', { href: ledgerHref({ from, to }), id: 'charts-ledger-link', class: 'btn ghost small' }, t('charts.toLedger')));
      return;
    }
    clear(
      drill,
      h('h2', { id: 'charts-district' }, districtLabel(district)),
      h('button', { type: 'button', class: 'btn ghost small', id: 'charts-back', onclick: () => drillTo(district) }, t('charts.back')),
      h('a', { href: ledgerHref({ district, from, to }), id: 'charts-ledger-link', class: 'btn secondary small' }, t('charts.toLedger')),
      h('a', { href: ledgerHref({ district, from, to, status: OPEN_STATUSES.join(',') }), id: 'charts-ledger-open', class: 'btn ghost small' }, t('charts.toLedgerOpen')),
    );
  }

  function renderMap(): void {
    const c = chart('chart-map');
    if (!c || !lib) return;
    const data = mapData();
    const values = data.map((d) => d.value).filter((v): v is number => v !== null);
    const max = metric === 'open' ? Math.max(1, ...values) : Math.max(0.05, ...values);
    const fmt = (v: number | null | undefined) => (v === null || v === undefined || Number.isNaN(v) ? t('charts.noData') : metric === 'open' ? String(v) : percent(v));
    c.setOption(
      {
        tooltip: { trigger: 'item', renderMode: 'richText', formatter: (p: { name: string; value?: number }) => `${districtLabel(p.name)}\n${t(`charts.metric.${metric}` as Key)}: ${fmt(p.value)}` },
        visualMap: {
          min: 0,
          max,
          left: 8,
          bottom: 8,
          calculable: false,
          text: [metric === 'open' ? String(max) : percent(max), '0'],
          inRange: { color: metric === 'open' ? ['#e8f0fe', '#1a73e8', '#0b3d91'] : ['#fff4e0', '#f0a33a', '#b3261e'] },
        },
        series: [
          {
            type: 'map',
            map: lib.MAP,
            roam: false,
            layoutCenter: ['50%', '50%'],
            layoutSize: '100%',
            selectedMode: 'single',
            label: { show: false },
            emphasis: { label: { show: true, formatter: (p: { name: string }) => districtLabel(p.name) } },
            select: { label: { show: true, formatter: (p: { name: string }) => districtLabel(p.name) }, itemStyle: { borderColor: '#1d2129', borderWidth: 2 } },
            itemStyle: { areaColor: '#eef0f3', borderColor: '#ffffff' },
            data: data.map((d) => ({ name: d.name, value: d.value ?? NaN, selected: d.name === district })),
          },
        ],
      },
      { notMerge: true },
    );
    const el = c.getDom();
    el.setAttribute('aria-label', `${t('charts.map')}: ${t(`charts.metric.${metric}` as Key)}`);
    el.dataset.regions = String(data.length);
    // Districts outside the map (the functional zones have no polygon) are listed under it.
    const off = (city?.districts ?? []).filter((d) => kinds.get(d.code) === 'functional_zone' || !districtNames.has(d.code));
    const note = body.querySelector('#chart-map-note');
    if (note) note.textContent = off.length ? `${t('charts.offMap')} ${off.map((d) => `${districtLabel(d.code)} ${metric === 'open' ? d.open : fmt(d.breach_rate)}`).join(' · ')}` : '';
  }

  function renderDaily(o: Overview): void {
    const c = chart('chart-daily');
    if (!c) return;
    const series = (['raised', 'resolved', 'breached'] as const).map((k) => ({
      name: t(`charts.series.${k}` as Key),
      type: 'line' as const,
      smooth: false,
      showSymbol: o.daily.length <= 31,
      itemStyle: { color: COLOURS[k] },
      lineStyle: { color: COLOURS[k] },
      data: o.daily.map((d) => d[k]),
    }));
    c.setOption(
      {
        tooltip: { trigger: 'axis', renderMode: 'richText' },
        legend: { top: 0 },
        grid: { left: 40, right: 16, top: 32, bottom: 28 },
        xAxis: { type: 'category', data: o.daily.map((d) => d.day.slice(5)) },
        yAxis: { type: 'value', minInterval: 1 },
        series,
      },
      { notMerge: true },
    );
    c.getDom().setAttribute('aria-label', `${t('charts.daily')}: ${series.map((s) => `${s.name} ${s.data.reduce((a, b) => a + b, 0)}`).join(', ')}`);
  }

  /** Says "no data" under a chart that has nothing to draw. */
  function empty(id: string, none: boolean): void {
    const note = body.querySelector<HTMLElement>(`#${id}-empty`);
    if (!note) return;
    note.hidden = !none;
    note.textContent = t('charts.noData');
  }

  function short(seconds: number): string {
    const zh = lang() === 'zh';
    if (seconds < 3600) return `${seconds / 60}${zh ? '分' : ' min'}`;
    if (seconds < 86_400) return `${seconds / 3600}${zh ? '小时' : ' h'}`;
    return `${seconds / 86_400}${zh ? '天' : ' d'}`;
  }

  function bucketLabel(b: OverviewBucket): string {
    if (b.to_seconds === null) return `≥ ${short(b.from_seconds)}`;
    if (b.from_seconds === 0) return `< ${short(b.to_seconds)}`;
    return `${short(b.from_seconds)}–${short(b.to_seconds)}`;
  }

  function renderHistogram(id: string, bars: OverviewBucket[], unit: Key): void {
    const c = chart(id);
    if (!c) return;
    c.setOption(
      {
        tooltip: { trigger: 'axis', renderMode: 'richText' },
        grid: { left: 40, right: 12, top: 16, bottom: 48 },
        xAxis: { type: 'category', data: bars.map(bucketLabel), axisLabel: { interval: 0, rotate: 30 } },
        yAxis: { type: 'value', minInterval: 1 },
        series: [{ type: 'bar', name: t(unit), data: bars.map((b) => b.count), barMaxWidth: 36, itemStyle: { color: '#1a73e8' } }],
      },
      { notMerge: true },
    );
    c.getDom().setAttribute('aria-label', bars.map((b) => `${bucketLabel(b)}: ${b.count}`).join(', '));
    empty(id, bars.every((b) => b.count === 0));
  }

  function horizontal(id: string, labels: string[], values: number[], name: string, colour: string, fmt: (v: number) => string): void {
    const c = chart(id);
    if (!c) return;
    c.setOption(
      {
        tooltip: { trigger: 'axis', renderMode: 'richText', valueFormatter: (v: unknown) => fmt(Number(v)) },
        grid: { left: 8, right: 56, top: 8, bottom: 8, containLabel: true },
        xAxis: { type: 'value', axisLabel: { formatter: (v: number) => fmt(v) } },
        yAxis: { type: 'category', data: labels, inverse: true, axisLabel: { width: 180, overflow: 'truncate' } },
        series: [{ type: 'bar', name, data: values, barMaxWidth: 22, itemStyle: { color: colour }, label: { show: true, position: 'right', formatter: (p: { value: number }) => fmt(p.value) } }],
      },
      { notMerge: true },
    );
    c.getDom().setAttribute('aria-label', labels.map((l, i) => `${l}: ${fmt(values[i])}`).join(', ') || t('charts.noData'));
    empty(id, labels.length === 0);
  }

  function renderItems(o: Overview): void {
    horizontal(
      'chart-items',
      o.top_items.map((i) => nm(itemNames.get(i.code), i.code)),
      o.top_items.map((i) => i.raised),
      t('charts.series.raised'),
      COLOURS.raised,
      (v) => String(v),
    );
  }

  function renderDepartments(o: Overview): void {
    horizontal(
      'chart-depts',
      o.slowest_departments.map((d) => nm(deptNames.get(d.code), d.code)),
      o.slowest_departments.map((d) => d.mttr_seconds),
      t('charts.kpi.mttr'),
      COLOURS.breached,
      (v) => duration(v * 1000),
    );
  }

  return {
    unmount() {
      stopped = true;
      window.removeEventListener('resize', onResize);
      window.removeEventListener('hashchange', onHash);
      charts.forEach((c) => c.dispose());
      charts.clear();
      delete window.__whistleCharts;
    },
    relabel() {
      renderMetric();
      for (const b of root.querySelectorAll<HTMLButtonElement>('[data-days]')) b.textContent = t('charts.lastDays', { n: Number(b.dataset.days) });
      // The locale of the axes is fixed at init: start the charts afresh in the new language.
      charts.forEach((c) => c.dispose());
      charts.clear();
      render();
    },
  };
}
