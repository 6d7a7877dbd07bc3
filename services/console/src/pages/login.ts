// Login: username + password → POST /api/v1/auth/login; the token and account go to
// sessionStorage, then the page the role needs (or the one the user was sent away from).
// Single sign-on, when GET /api/v1/auth/config offers it: the button leaves for the identity
// provider (GET /api/v1/auth/oidc/login); the browser comes back here with the token in the
// fragment (#/login?sso_token=…&expires_at=…) or the reason it failed (#/login?sso_error=code).
import { api, ApiError, type AuthConfig } from '../api';
import { clear, h, tx } from '../dom';
import { nm, t, type Key } from '../i18n';
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

/** Where to go after a single sign-on (`next`, kept while the browser is at the provider). */
const SSO_NEXT_KEY = 'whistle.sso.next';

/** The message of a single sign-on failure code (`sso_error`). */
export function ssoErrorMessage(code: string): string {
  const known = ['oidc_no_account', 'oidc_account_disabled', 'oidc_flow_invalid', 'oidc_token_invalid', 'oidc_provider_unavailable', 'oidc_not_configured'];
  return known.includes(code) ? t(`login.sso.${code}` as Key) : t('login.sso.failed', { code });
}

/** The single sign-on URL, coming back to this page of the console. */
export function ssoHref(loginUrl: string, path: string = location.pathname): string {
  return `${loginUrl}?return_to=${encodeURIComponent(path || '/')}`;
}

function stashNext(next: string | null): void {
  try {
    if (next) sessionStorage.setItem(SSO_NEXT_KEY, next);
    else sessionStorage.removeItem(SSO_NEXT_KEY);
  } catch {
    /* storage disabled: the role's own page then */
  }
}

function takeNext(): string | null {
  try {
    const next = sessionStorage.getItem(SSO_NEXT_KEY);
    sessionStorage.removeItem(SSO_NEXT_KEY);
    return next;
  } catch {
    return null;
  }
}

export function mountLogin(root: HTMLElement, params: URLSearchParams): Page {
  let busy = false;
  const reason = params.get('reason');
  const ssoToken = params.get('sso_token');
  const ssoExpires = params.get('expires_at');
  const ssoError = params.get('sso_error');
  // The token leaves the address bar and this history entry at once (replaceState: no reload).
  if (ssoToken || ssoError) history.replaceState(null, '', '#/login');
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
  const sso = h('div', { class: 'sso', id: 'login-sso', hidden: true });
  let ssoConfig: AuthConfig['oidc'] = null;
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
    sso,
    tx('p', 'login.demo', { class: 'hint demo' }),
  );
  root.append(h('section', { class: 'page page-login' }, form));
  queueMicrotask(() => user.focus());

  function renderSso(): void {
    if (!ssoConfig) return;
    const label = nm(ssoConfig.label) || t('login.sso.button');
    const button = h('a', { class: 'btn big', id: 'login-sso-button', href: ssoHref(ssoConfig.login_url), role: 'button' }, label);
    button.addEventListener('click', () => stashNext(params.get('next')));
    clear(sso, h('p', { class: 'sso-or', 'aria-hidden': 'true' }, t('login.sso.or')), button);
    sso.hidden = false;
  }
  api
    .authConfig()
    .then((c) => {
      ssoConfig = c.oidc;
      renderSso();
    })
    .catch(() => {
      /* no single sign-on offered (or the server is away): the password form stays */
    });

  if (ssoError) showSsoError(ssoErrorMessage(ssoError), ssoError);
  if (ssoToken) {
    busy = true;
    submit.disabled = true;
    clear(status, h('div', { class: 'callout info', role: 'status', id: 'login-sso-status' }, h('p', {}, t('login.sso.signingIn'))));
    api
      .adoptToken(ssoToken, ssoExpires ?? '')
      .then((account) => location.replace(`#${landing(account, takeNext())}`))
      .catch((err) => showSsoError(err instanceof ApiError && err.status === 401 ? ssoErrorMessage('oidc_token_invalid') : errorMessage(err), 'sso'))
      .finally(() => {
        busy = false;
        submit.disabled = false;
      });
  }

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
      location.replace(`#${landing(r.account, params.get('next') ?? takeNext())}`);
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

  /** A failed single sign-on: said above the form, the fields are not at fault. */
  function showSsoError(msg: string, code: string): void {
    clear(status, h('div', { class: 'callout error', role: 'alert', id: 'login-error', 'data-code': code }, h('p', {}, msg)));
  }

  return {
    unmount() {},
    relabel() {
      submit.textContent = busy ? t('login.submitting') : t('login.submit');
      const err = status.querySelector<HTMLElement>('#login-error');
      if (err?.dataset.code === 'invalid_credentials') clear(err, h('p', {}, t('login.invalid')));
      else if (err?.dataset.code === 'required') clear(err, h('p', {}, t('login.required')));
      else if (err?.dataset.code?.startsWith('oidc_')) clear(err, h('p', {}, ssoErrorMessage(err.dataset.code)));
      renderSso();
    },
  };
}
