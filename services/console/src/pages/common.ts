// Shared bits of the pages: connection indicator, loading / error / empty states.
import { ApiError } from '../api';
import { h, tx } from '../dom';
import { t, type Key } from '../i18n';
import type { ConnState } from '../ws';

export function connIndicator(): HTMLElement {
  return h(
    'p',
    { class: 'conn', 'data-state': 'connecting', role: 'status', 'aria-live': 'polite', id: 'conn', title: t('conn.label') },
    h('span', { class: 'dot', 'aria-hidden': 'true' }),
    h('span', { class: 'conn-text' }, t('conn.connecting')),
  );
}

export function setConn(el: HTMLElement, s: ConnState): void {
  el.dataset.state = s;
  el.title = t('conn.label');
  const text = el.querySelector('.conn-text');
  if (text) text.textContent = t(`conn.${s}` as Key);
}

/** A note above a page the account may look at but not act on. */
export function readOnlyNote(msg: string): HTMLElement {
  return h('div', { class: 'callout info notice-readonly', role: 'note', id: 'read-only' }, h('p', {}, msg));
}

export function loadingState(key: Key = 'common.loading'): HTMLElement {
  return h('div', { class: 'state loading', role: 'status', 'aria-busy': 'true' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), tx('span', key));
}

/** True for "your account may not do this" (HTTP 403, or a WebSocket `forbidden` error). */
export function isForbidden(e: unknown): boolean {
  return e instanceof ApiError && (e.status === 403 || e.code === 'forbidden');
}

export function errorMessage(e: unknown): string {
  if (isForbidden(e)) return t('common.forbidden', { msg: (e as ApiError).message });
  // Shed before anything was read (`503 overloaded`): nothing was recorded, a retry is safe.
  if (e instanceof ApiError && e.code === 'overloaded') return t('common.overloaded');
  if (e instanceof ApiError) return e.network ? t('common.networkError') : `${e.message} (${e.status || e.code})`;
  return e instanceof Error ? e.message : String(e);
}

/** Who acted, for a timeline: "500103-EE · dept-500103-EE" (the department and the account). */
export function actorLabel(actor: { kind?: string; code?: string; user?: string | null } | null | undefined): string {
  if (!actor || (actor.kind === 'system' && !actor.user)) return '';
  const code = actor.code ?? '';
  if (actor.user && actor.user !== code) return code ? `${code} · ${actor.user}` : actor.user;
  return code;
}

export function errorState(e: unknown, retry?: () => void): HTMLElement {
  const forbidden = isForbidden(e);
  return h(
    'div',
    { class: `state error${forbidden ? ' forbidden' : ''}`, role: 'alert', 'data-code': e instanceof ApiError ? e.code : 'error' },
    h('p', {}, forbidden ? errorMessage(e) : t('common.error', { msg: errorMessage(e) })),
    retry ? h('button', { type: 'button', class: 'btn secondary', onclick: retry }, t('common.retry')) : null,
  );
}
