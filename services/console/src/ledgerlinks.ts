// Links into the ledger page (#/ledger?<filters>): the filters are the ledger API's own query
// parameters (GET /api/v1/whistles, docs/ledger.md), so a link, the list it shows and its
// exports ask the same thing. Days are days in China, as the API reads a bare date.
import type { Status } from './api';

/** The list's filters, as the API names them. */
export const LEDGER_FILTERS = [
  'status',
  'district',
  'town',
  'department',
  'item',
  'overdue',
  'breached',
  'reopened',
  'from',
  'to',
  'resolved_from',
  'resolved_to',
  'q',
] as const;
export type LedgerFilter = (typeof LEDGER_FILTERS)[number];
export type LedgerFilters = Partial<Record<LedgerFilter, string>>;

/** A whistle's statuses (the list is of whistles; town cases have their own). */
export const WHISTLE_STATUSES: Status[] = ['raised', 'dispatched', 'acknowledged', 'on_site', 'resolved', 'rejected', 'merged'];
/** The statuses of a whistle still being handled. */
export const OPEN_STATUSES: Status[] = ['raised', 'dispatched', 'acknowledged', 'on_site'];

/** Only the filters of `params`, trimmed, without empty ones, in a stable order. */
export function filtersOf(params: URLSearchParams): URLSearchParams {
  const out = new URLSearchParams();
  for (const k of LEDGER_FILTERS) {
    const v = params.get(k)?.trim();
    if (v) out.set(k, v);
  }
  return out;
}

/** `#/ledger?…` showing the whistles that match `filters`. */
export function ledgerHref(filters: LedgerFilters): string {
  const q = filtersOf(new URLSearchParams(Object.entries(filters).filter((e): e is [string, string] => !!e[1]))).toString();
  return `#/ledger${q ? `?${q}` : ''}`;
}

const CHINA_OFFSET_MS = 8 * 3600_000;

/** The day in China (`YYYY-MM-DD`) of an instant. */
export function chinaDay(at: Date = new Date()): string {
  return new Date(at.getTime() + CHINA_OFFSET_MS).toISOString().slice(0, 10);
}

/** The first day of the month in China of an instant. */
export function chinaMonthStart(at: Date = new Date()): string {
  return `${chinaDay(at).slice(0, 7)}-01`;
}

/** `day` plus `n` days (`YYYY-MM-DD`). */
export function addDays(day: string, n: number): string {
  const t = Date.parse(`${day}T00:00:00Z`);
  return new Date(t + n * 86_400_000).toISOString().slice(0, 10);
}
