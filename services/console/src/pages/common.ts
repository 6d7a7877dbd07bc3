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

export function loadingState(key: Key = 'common.loading'): HTMLElement {
  return h('div', { class: 'state loading', role: 'status', 'aria-busy': 'true' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), tx('span', key));
}

export function errorMessage(e: unknown): string {
  if (e instanceof ApiError) return e.network ? t('common.networkError') : `${e.message} (${e.status || e.code})`;
  return e instanceof Error ? e.message : String(e);
}

export function errorState(e: unknown, retry?: () => void): HTMLElement {
  return h(
    'div',
    { class: 'state error', role: 'alert' },
    h('p', {}, t('common.error', { msg: errorMessage(e) })),
    retry ? h('button', { type: 'button', class: 'btn secondary', onclick: retry }, t('common.retry')) : null,
  );
}
