// Login: username + password → POST /api/v1/auth/login; the token and account go to
// sessionStorage, then the page the role needs (or the one the user was sent away from).
import { api, ApiError } from '../api';
import { clear, h, tx } from '../dom';
import { t } from '../i18n';
import { parseRoute, type Page } from '../router';
import { allowedRoutes, homeOf, type Account } from '../session';
import { errorMessage } from './common';

/** Where to go after logging in: `next` if the role may see it, else the role's own page. */
export function landing(a: Account, next: string | null): string {
  if (next) {
    const r = parseRoute(next);
    if (r.known && r.name !== 'login' && allowedRoutes(a).includes(r.name)) return next.startsWith('/') ? next : `/${next}`;
  }
  return homeOf(a);
}

export function mountLogin(root: HTMLElement, params: URLSearchParams): Page {
  const reason = params.get('reason');
  const user = h('input', {
    id: 'login-user',
    name: 'username',
    type: 'text',
    autocomplete: 'username',
    autocapitalize: 'none',
    spellcheck: 'false',
    required: true,
    'data-i18n-placeholder': 'login.usernamePlaceholder',
    'aria-describedby': 'login-error',
  });
  const pass = h('input', { id: 'login-pass', name: 'password', type: 'password', autocomplete: 'current-password', required: true, 'aria-describedby': 'login-error' });
  const submit = h('button', { type: 'submit', class: 'btn primary big', id: 'login-submit' }, t('login.submit'));
  const status = h('div', { id: 'login-status', 'aria-live': 'polite' });
  const notice =
    reason === 'expired' || reason === 'logout'
      ? h('div', { class: `callout ${reason === 'expired' ? 'warn' : 'info'}`, id: 'login-notice', role: 'status' }, tx('p', reason === 'expired' ? 'login.expired' : 'login.loggedOut'))
      : null;
  const form = h(
    'form',
    { id: 'login-form', class: 'panel', novalidate: true, 'aria-labelledby': 'login-h' },
    tx('h1', 'login.title', { id: 'login-h' }),
    tx('p', 'login.intro', { class: 'intro' }),
    notice,
    h('div', { class: 'field' }, tx('label', 'login.username', { for: 'login-user' }), user),
    h('div', { class: 'field' }, tx('label', 'login.password', { for: 'login-pass' }), pass),
    status,
    submit,
    tx('p', 'login.demo', { class: 'hint demo' }),
  );
  root.append(h('section', { class: 'page page-login' }, form));
  queueMicrotask(() => user.focus());

  let busy = false;
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (busy) return;
    const username = user.value.trim();
    if (!username || !pass.value) {
      showError(t('login.required'), 'required');
      (username ? pass : user).focus();
      return;
    }
    busy = true;
    submit.disabled = true;
    submit.textContent = t('login.submitting');
    clear(status);
    try {
      const r = await api.login(username, pass.value);
      location.replace(`#${landing(r.account, params.get('next'))}`);
    } catch (err) {
      const wrong = err instanceof ApiError && err.status === 401;
      showError(wrong ? t('login.invalid') : errorMessage(err), err instanceof ApiError ? err.code : 'error');
      pass.value = '';
      pass.focus();
    } finally {
      busy = false;
      submit.disabled = false;
      submit.textContent = t('login.submit');
    }
  });

  function showError(msg: string, code: string): void {
    for (const el of [user, pass]) el.setAttribute('aria-invalid', 'true');
    clear(status, h('div', { class: 'callout error', role: 'alert', id: 'login-error', 'data-code': code }, h('p', {}, msg)));
  }

  return {
    unmount() {},
    relabel() {
      submit.textContent = busy ? t('login.submitting') : t('login.submit');
      const err = status.querySelector<HTMLElement>('#login-error');
      if (err?.dataset.code === 'invalid_credentials') clear(err, h('p', {}, t('login.invalid')));
      else if (err?.dataset.code === 'required') clear(err, h('p', {}, t('login.required')));
    },
  };
}
