// Every account: change its own password (POST /api/v1/auth/password). The server revokes every
// earlier token of the account and answers a fresh session, which replaces the current one.
import { api, ApiError } from '../api';
import { clear, h, tx } from '../dom';
import { t, type Key } from '../i18n';
import type { Page } from '../router';
import { account, homeOf } from '../session';
import { errorMessage } from './common';

/** Shortest new password the server takes (MIN_PASSWORD_CHARS in intake). */
export const MIN_PASSWORD = 10;

/** The message for a refused change, from its code. */
export function passwordError(e: unknown): string {
  const codes: Record<string, Key> = {
    wrong_password: 'password.wrong',
    account_read_only: 'password.readOnly',
    invalid_field: 'password.invalid',
    rate_limited: 'password.rateLimited',
  };
  const key = e instanceof ApiError ? codes[e.code] : undefined;
  return key ? t(key, { min: MIN_PASSWORD }) : errorMessage(e);
}

export function mountPassword(root: HTMLElement): Page {
  const field = (id: string, label: Key, autocomplete: string) => {
    const input = h('input', { id, type: 'password', autocomplete, required: true, 'aria-describedby': 'password-status' });
    return { input, el: h('div', { class: 'field' }, tx('label', label, { for: id }), input) };
  };
  const old = field('password-old', 'password.old', 'current-password');
  const next = field('password-new', 'password.new', 'new-password');
  const again = field('password-again', 'password.again', 'new-password');
  const submit = h('button', { type: 'submit', class: 'btn primary', id: 'password-submit' }, t('password.submit'));
  const status = h('div', { id: 'password-status', 'aria-live': 'polite' });
  const form = h(
    'form',
    { id: 'password-form', class: 'panel', novalidate: true, 'aria-labelledby': 'password-h' },
    tx('h1', 'password.title', { id: 'password-h' }),
    h('p', { class: 'intro' }, t('password.intro', { user: account()?.user ?? '', min: MIN_PASSWORD })),
    old.el,
    next.el,
    again.el,
    status,
    submit,
  );
  root.append(h('section', { class: 'page page-password' }, form));
  queueMicrotask(() => old.input.focus());

  const show = (kind: 'error', msg: string, code: string) =>
    clear(status, h('div', { class: `callout ${kind}`, role: 'alert', id: `password-${kind}`, 'data-code': code }, h('p', {}, msg)));

  let busy = false;
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (busy) return;
    if (!old.input.value || !next.input.value) return show('error', t('password.required'), 'required');
    if ([...next.input.value].length < MIN_PASSWORD) return show('error', t('password.invalid', { min: MIN_PASSWORD }), 'too_short');
    if (next.input.value !== again.input.value) return show('error', t('password.mismatch'), 'mismatch');
    busy = true;
    submit.disabled = true;
    clear(status, h('p', { class: 'hint' }, t('password.working')));
    try {
      const r = await api.changePassword(old.input.value, next.input.value);
      for (const f of [old, next, again]) f.input.value = '';
      clear(
        status,
        h(
          'div',
          { class: 'callout ok', role: 'status', id: 'password-ok' },
          h('p', {}, t('password.changed')),
          h('p', {}, h('a', { href: `#${homeOf(r.account)}`, id: 'password-home' }, t('password.back'))),
        ),
      );
    } catch (err) {
      show('error', passwordError(err), err instanceof ApiError ? err.code : 'error');
      old.input.focus();
    } finally {
      busy = false;
      submit.disabled = false;
    }
  });

  return {
    unmount() {},
    relabel() {
      submit.textContent = t('password.submit');
    },
  };
}
