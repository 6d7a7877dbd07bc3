// Account administration (admin accounts): the account store's accounts with their role, scope
// and state; create one; disable / enable it, reset its password, give it another role and scope;
// the audit of every change (who, when, what). Accounts of the accounts file and the demo
// accounts are not listed: they are not administered here.
import { api, ApiError, type AccountAuditEntry, type AccountRecord, type AccountScope } from '../api';
import { announce, clear, h, tx } from '../dom';
import { dateTime } from '../format';
import { t, type Key } from '../i18n';
import type { Page } from '../router';
import { account } from '../session';
import { errorMessage, errorState, loadingState } from './common';
import { MIN_PASSWORD } from './password';

export const ROLES = ['town', 'department', 'command_centre', 'manager', 'supervisor', 'admin'] as const;

/** Which scope field a role takes, if any (a manager's or supervisor's district is optional). */
export function scopeField(role: string): 'town' | 'department' | 'district' | null {
  switch (role) {
    case 'town':
      return 'town';
    case 'department':
      return 'department';
    case 'command_centre':
    case 'manager':
    case 'supervisor':
      return 'district';
    default:
      return null;
  }
}

/** The request body for a role and the code typed for its scope. */
export function scopeOf(role: string, code: string): AccountScope {
  const field = scopeField(role);
  const value = code.trim();
  return field && value ? { role, [field]: value } : { role };
}

/** "town 500103001", "manager (city)", … for a list row. */
export function scopeLabel(a: Pick<AccountRecord, 'role' | 'town' | 'department' | 'district'>): string {
  if (a.role === 'town') return a.town ?? '';
  if (a.role === 'department') return a.department ?? '';
  if ((a.role === 'manager' || a.role === 'supervisor') && !a.district) return t('accounts.city');
  return a.district ?? '';
}

/** The message for a refused change, from its code. */
function failure(e: unknown): string {
  const codes: Record<string, Key> = {
    account_exists: 'accounts.exists',
    own_account: 'accounts.own',
    not_found: 'accounts.notFound',
  };
  const key = e instanceof ApiError ? codes[e.code] : undefined;
  return key ? t(key) : errorMessage(e);
}

function auditDetail(e: AccountAuditEntry): string {
  const scope = (v: unknown) => {
    const s = (v ?? {}) as { role?: string; town?: string; department?: string; district?: string };
    return [s.role ? t(`role.${s.role}` as Key) : '', s.town ?? s.department ?? s.district ?? ''].filter(Boolean).join(' ');
  };
  if (e.action === 'role_assigned') return `${scope(e.detail.from)} → ${scope(e.detail.to)}`;
  if (e.action === 'created') return scope(e.detail);
  return '';
}

export function mountAccounts(root: HTMLElement): Page {
  let accounts: AccountRecord[] = [];
  let auditFor: string | null = null;

  const list = h('div', { class: 'panel accounts-list', id: 'accounts-list' });
  const audit = h('div', { class: 'panel accounts-audit', id: 'accounts-audit' });
  const status = h('div', { id: 'accounts-status', 'aria-live': 'polite' });

  // The create form.
  const user = h('input', { id: 'account-new-user', name: 'username', autocomplete: 'off', spellcheck: 'false', required: true, 'data-i18n-placeholder': 'accounts.usernamePlaceholder' });
  const role = h('select', { id: 'account-new-role', name: 'role' }, ROLES.map((r) => h('option', { value: r }, t(`role.${r}` as Key))));
  const scope = h('input', { id: 'account-new-scope', name: 'scope', autocomplete: 'off', spellcheck: 'false' });
  const scopeLabelEl = h('label', { for: 'account-new-scope', id: 'account-new-scope-label' });
  const pass = h('input', { id: 'account-new-pass', name: 'password', type: 'password', autocomplete: 'new-password', required: true });
  const createBtn = h('button', { type: 'submit', class: 'btn primary', id: 'account-create' }, t('accounts.create'));
  const form = h(
    'form',
    { class: 'panel', id: 'account-form', novalidate: true, 'aria-labelledby': 'account-form-h' },
    tx('h2', 'accounts.new', { id: 'account-form-h' }),
    h(
      'div',
      { class: 'row' },
      h('div', { class: 'field' }, tx('label', 'accounts.username', { for: 'account-new-user' }), user),
      h('div', { class: 'field' }, tx('label', 'accounts.role', { for: 'account-new-role' }), role),
      h('div', { class: 'field', id: 'account-new-scope-field' }, scopeLabelEl, scope),
      h('div', { class: 'field' }, tx('label', 'accounts.initialPassword', { for: 'account-new-pass' }), pass),
    ),
    createBtn,
  );

  root.append(
    h(
      'section',
      { class: 'page page-accounts', 'aria-labelledby': 'accounts-h' },
      h('div', { class: 'page-head' }, h('div', {}, tx('h1', 'accounts.title', { id: 'accounts-h' }), tx('p', 'accounts.subtitle', { class: 'subtitle' }))),
      status,
      form,
      list,
      audit,
    ),
  );

  const labelScope = () => {
    const field = scopeField(role.value);
    const wrap = scope.closest('.field') as HTMLElement;
    wrap.hidden = !field;
    if (field) {
      scopeLabelEl.textContent = t(`accounts.scope.${role.value}` as Key);
      scope.setAttribute('placeholder', t(`accounts.scopePlaceholder.${role.value}` as Key));
    }
  };
  role.addEventListener('change', labelScope);
  labelScope();

  const say = (kind: 'ok' | 'error', msg: string, code: string = kind) => {
    clear(status, h('div', { class: `callout ${kind}`, role: kind === 'error' ? 'alert' : 'status', id: `accounts-${kind}`, 'data-code': code }, h('p', {}, msg)));
    if (kind === 'ok') announce(msg);
  };

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const username = user.value.trim();
    if (!username || !pass.value) return say('error', t('accounts.required'), 'required');
    if ([...pass.value].length < MIN_PASSWORD) return say('error', t('password.invalid', { min: MIN_PASSWORD }), 'too_short');
    createBtn.disabled = true;
    try {
      await api.createAccount(username, pass.value, scopeOf(role.value, scope.value));
      user.value = '';
      pass.value = '';
      scope.value = '';
      say('ok', t('accounts.created', { user: username }));
      await load();
    } catch (err) {
      say('error', failure(err), err instanceof ApiError ? err.code : 'error');
    } finally {
      createBtn.disabled = false;
    }
  });

  load();

  async function load(): Promise<void> {
    if (!accounts.length) clear(list, loadingState());
    try {
      accounts = await api.accounts();
    } catch (e) {
      clear(list, errorState(e, load));
      return;
    }
    renderList();
    loadAudit();
  }

  function renderList(): void {
    const me = account()?.user;
    clear(
      list,
      h('h2', {}, t('accounts.list', { n: accounts.length })),
      accounts.length === 0
        ? h('p', { class: 'hint', id: 'accounts-empty' }, t('accounts.empty'))
        : h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { class: 'item-table', id: 'accounts-table' },
              h(
                'thead',
                {},
                h('tr', {}, ['accounts.username', 'accounts.role', 'accounts.scope', 'accounts.state', 'accounts.passwordChanged', 'accounts.actions'].map((k) => h('th', { scope: 'col' }, t(k as Key)))),
              ),
              h('tbody', {}, accounts.map((a) => row(a, a.username === me))),
            ),
          ),
    );
  }

  function row(a: AccountRecord, own: boolean): HTMLElement {
    const actions = h('td', { class: 'actions' });
    const tr = h(
      'tr',
      { 'data-username': a.username, 'data-enabled': String(a.enabled) },
      h('td', { class: 'code' }, h('button', { type: 'button', class: 'link', onclick: () => ((auditFor = a.username), loadAudit()) }, a.username)),
      h('td', {}, h('span', { class: 'badge account-role', 'data-role': a.role }, t(`role.${a.role}` as Key))),
      h('td', { class: 'code' }, scopeLabel(a)),
      h('td', {}, h('span', { class: `badge ${a.enabled ? 'state-enabled' : 'state-disabled'}` }, t(a.enabled ? 'accounts.enabled' : 'accounts.disabled'))),
      h('td', {}, dateTime(a.password_changed_at)),
      actions,
    );
    const toggle = h(
      'button',
      { type: 'button', class: `btn small ${a.enabled ? 'danger-outline' : 'secondary'}`, 'data-action': a.enabled ? 'disable' : 'enable', disabled: own },
      t(a.enabled ? 'accounts.disable' : 'accounts.enable'),
    );
    toggle.addEventListener('click', () =>
      act(toggle, () => api.setEnabled(a.username, !a.enabled), t(a.enabled ? 'accounts.disabledNow' : 'accounts.enabledNow', { user: a.username })),
    );
    const reset = h('button', { type: 'button', class: 'btn small secondary', 'data-action': 'reset' }, t('accounts.reset'));
    reset.addEventListener('click', () => inline(tr, a, 'reset'));
    const change = h('button', { type: 'button', class: 'btn small secondary', 'data-action': 'role', disabled: own }, t('accounts.changeRole'));
    change.addEventListener('click', () => inline(tr, a, 'role'));
    actions.append(toggle, reset, change);
    return tr;
  }

  /** A small form under the row: a new password, or a new role and scope. */
  function inline(tr: HTMLElement, a: AccountRecord, kind: 'reset' | 'role'): void {
    tr.nextElementSibling?.classList.contains('inline-form') && tr.nextElementSibling.remove();
    const cell = h('td', { colspan: 6 });
    const holder = h('tr', { class: 'inline-form', 'data-for': a.username }, cell);
    const cancel = h('button', { type: 'button', class: 'btn small ghost' }, t('common.cancel'));
    cancel.addEventListener('click', () => holder.remove());
    if (kind === 'reset') {
      const input = h('input', { type: 'password', id: `reset-${a.username}`, autocomplete: 'new-password', 'aria-label': t('accounts.newPassword') });
      const ok = h('button', { type: 'submit', class: 'btn small primary', 'data-action': 'reset-apply' }, t('accounts.resetApply'));
      const f = h('form', { class: 'row', novalidate: true }, h('div', { class: 'field' }, tx('label', 'accounts.newPassword', { for: `reset-${a.username}` }), input), ok, cancel);
      f.addEventListener('submit', (e) => {
        e.preventDefault();
        if ([...input.value].length < MIN_PASSWORD) return say('error', t('password.invalid', { min: MIN_PASSWORD }), 'too_short');
        act(ok, () => api.resetPassword(a.username, input.value), t('accounts.resetDone', { user: a.username }));
      });
      cell.append(f);
    } else {
      const sel = h('select', { id: `role-${a.username}` }, ROLES.map((r) => h('option', { value: r, selected: r === a.role }, t(`role.${r}` as Key))));
      const code = h('input', { id: `role-scope-${a.username}`, value: scopeLabel(a) === t('accounts.city') ? '' : scopeLabel(a), 'aria-label': t('accounts.scope') });
      const ok = h('button', { type: 'submit', class: 'btn small primary', 'data-action': 'role-apply' }, t('accounts.roleApply'));
      const f = h(
        'form',
        { class: 'row', novalidate: true },
        h('div', { class: 'field' }, tx('label', 'accounts.role', { for: `role-${a.username}` }), sel),
        h('div', { class: 'field' }, tx('label', 'accounts.scope', { for: `role-scope-${a.username}` }), code),
        ok,
        cancel,
      );
      f.addEventListener('submit', (e) => {
        e.preventDefault();
        act(ok, () => api.assignRole(a.username, scopeOf(sel.value, code.value)), t('accounts.roleDone', { user: a.username }));
      });
      cell.append(f);
    }
    tr.after(holder);
    holder.querySelector<HTMLElement>('input, select')?.focus();
  }

  async function act(button: HTMLButtonElement, call: () => Promise<unknown>, done: string): Promise<void> {
    button.disabled = true;
    try {
      await call();
      say('ok', done);
      await load();
    } catch (err) {
      say('error', failure(err), err instanceof ApiError ? err.code : 'error');
      button.disabled = false;
    }
  }

  async function loadAudit(): Promise<void> {
    let entries: AccountAuditEntry[];
    try {
      entries = await api.accountAudit(auditFor ?? undefined);
    } catch (e) {
      clear(audit, errorState(e, loadAudit));
      return;
    }
    const all = h('button', { type: 'button', class: 'btn small ghost', id: 'accounts-audit-all', hidden: !auditFor }, t('accounts.auditAll'));
    all.addEventListener('click', () => ((auditFor = null), loadAudit()));
    clear(
      audit,
      h('h2', {}, auditFor ? t('accounts.auditOf', { user: auditFor }) : t('accounts.audit'), ' ', all),
      entries.length === 0
        ? h('p', { class: 'hint' }, t('accounts.noAudit'))
        : h(
            'ol',
            { class: 'timeline', id: 'accounts-audit-entries' },
            entries.map((e) =>
              h(
                'li',
                { 'data-action': e.action, 'data-username': e.username },
                h('time', { datetime: e.at }, dateTime(e.at)),
                ' ',
                h('strong', { class: 'audit-actor' }, e.actor),
                ' ',
                h('span', {}, t(`accounts.action.${e.action}` as Key)),
                ' ',
                h('span', { class: 'code' }, e.username),
                auditDetail(e) ? h('span', { class: 'detail' }, ` · ${auditDetail(e)}`) : null,
              ),
            ),
          ),
    );
  }

  return {
    unmount() {},
    relabel() {
      labelScope();
      createBtn.textContent = t('accounts.create');
      if (accounts.length || list.querySelector('#accounts-empty')) renderList();
      loadAudit();
    },
  };
}
