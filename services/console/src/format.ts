import type { Case, Deadlines } from './api';
import { lang, locale, t } from './i18n';

export function ago(iso: string, now = Date.now()): string {
  const ms = now - Date.parse(iso);
  if (!Number.isFinite(ms)) return '';
  const min = Math.floor(ms / 60000);
  if (min < 1) return t('common.justNow');
  if (min < 60) return t('common.minutesAgo', { n: min });
  const hr = Math.floor(min / 60);
  if (hr < 48) return t('common.hoursAgo', { n: hr });
  return t('common.daysAgo', { n: Math.floor(hr / 24) });
}

export function dateTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(locale(), { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** 1 h 05 min / 3 min 20 s — compact duration for countdowns and SLA figures. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(Math.abs(ms) / 1000));
  const d = Math.floor(s / 86400);
  const hr = Math.floor((s % 86400) / 3600);
  const min = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const zh = lang() === 'zh';
  const u = zh ? { d: '天', h: '小时', m: '分', s: '秒' } : { d: 'd', h: 'h', m: 'min', s: 's' };
  const sp = zh ? '' : ' ';
  if (d > 0) return `${d}${sp}${u.d} ${hr}${sp}${u.h}`;
  if (hr > 0) return `${hr}${sp}${u.h} ${String(min).padStart(2, '0')}${sp}${u.m}`;
  if (min > 0) return `${min}${sp}${u.m} ${String(sec).padStart(2, '0')}${sp}${u.s}`;
  return `${sec}${sp}${u.s}`;
}

export type Stage = 'acknowledge' | 'arrive' | 'resolve';

/**
 * The next SLA deadline of a case, if the case carries deadlines (issue C). Tolerant: reads
 * `case.deadlines.{acknowledge,arrive,resolve}` as ISO times (or objects with `due`/`at`).
 */
export function nextDeadline(c: Case): { stage: Stage; due: number } | null {
  const dl = (c as { deadlines?: unknown }).deadlines;
  if (!dl || typeof dl !== 'object') return null;
  const stage: Stage | null =
    c.status === 'dispatched' || c.status === 'raised'
      ? 'acknowledge'
      : c.status === 'acknowledged'
        ? 'arrive'
        : c.status === 'on_site'
          ? 'resolve'
          : null;
  if (!stage) return null;
  const raw = (dl as Record<string, unknown>)[stage] ?? (stage === 'arrive' ? (dl as Deadlines).resolve : undefined);
  const iso =
    typeof raw === 'string'
      ? raw
      : raw && typeof raw === 'object'
        ? ((raw as { due?: string; at?: string; deadline?: string }).due ??
          (raw as { at?: string }).at ??
          (raw as { deadline?: string }).deadline)
        : undefined;
  if (!iso) return null;
  const due = Date.parse(iso);
  if (!Number.isFinite(due)) return null;
  return { stage: (dl as Record<string, unknown>)[stage] ? stage : 'resolve', due };
}

export function percent(x: number): string {
  const v = x <= 1 ? x * 100 : x;
  return `${Number.isInteger(v) ? v : v.toFixed(1)}%`;
}
