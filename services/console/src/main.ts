// The console shell: hash routes (#/login, #/town, #/board, #/manager, #/registry, #/accounts,
// #/supervision, #/ledger, #/charts, #/rosters, #/password, each with ?query), the login gate, the account, password change and logout in the
// header, language toggle, one page mounted at a time.
import './style.css';
import { applyI18n, lang, onLangChange, setLang, t, type Key } from './i18n';
import { $ } from './dom';
import { mountLogin } from './pages/login';
import { mountTown } from './pages/town';
import { mountBoard } from './pages/board';
import { mountManager } from './pages/manager';
import { mountRegistry } from './pages/registry';
import { mountAccounts } from './pages/accounts';
import { mountPassword } from './pages/password';
import { mountSupervision } from './pages/supervision';
import { mountLedger } from './pages/ledger';
import { mountCharts } from './pages/charts';
import { mountHotline } from './pages/hotline';
import { mountRosters } from './pages/rosters';
import { api } from './api';
import { parseHash, type Mount, type Page, type RouteName } from './router';
import { account, allowedRoutes, homeOf, onSessionChange, session, toLogin, watchExpiry } from './session';

const routes: Record<RouteName, Mount> = {
  login: mountLogin,
  town: mountTown,
  board: mountBoard,
  manager: mountManager,
  registry: mountRegistry,
  accounts: mountAccounts,
  supervision: mountSupervision,
  ledger: mountLedger,
  charts: mountCharts,
  rosters: mountRosters,
  hotline: mountHotline,
  password: mountPassword,
};

let current: { name: RouteName; page: Page } | null = null;

function redirect(hash: string): void {
  location.replace(`#${hash}`);
}

function route(): void {
  const { name, params, known } = parseHash();
  const s = session();
  if (!s) {
    if (name !== 'login' || !known) {
      // Not logged in (or the token ran out): log in first, then come back here.
      const here = location.hash.replace(/^#/, '');
      const next = known && here && here !== '/' ? `?next=${encodeURIComponent(here)}` : '';
      return redirect(`/login${next}`);
    }
  } else if (name === 'login' && known) {
    return redirect(homeOf(s.account));
  } else if (!known || !allowedRoutes(s.account).includes(name)) {
    // Pages outside the role (e.g. a town opening #/board): its own page instead.
    return redirect(homeOf(s.account));
  }
  if (current?.name === name) return; // query-only changes are handled by the page
  current?.page.unmount();
  current = null;
  const main = $('#main');
  main.replaceChildren();
  main.dataset.page = name;
  renderHeader();
  const page = routes[name](main, params);
  current = { name, page };
  setTitle();
  applyI18n(main);
}

function setTitle(): void {
  if (current) document.title = `${t(`nav.${current.name}` as Key)} · ${t('app.title')}`;
}

/** Nav links the role may use, the account and the logout button. */
function renderHeader(): void {
  const a = account();
  const allowed = allowedRoutes(a);
  const name = parseHash().name;
  document.body.dataset.auth = a ? 'in' : 'out';
  document.querySelectorAll<HTMLAnchorElement>('.nav a').forEach((el) => {
    el.hidden = !allowed.includes(el.dataset.route ?? '');
    if (el.dataset.route === name) el.setAttribute('aria-current', 'page');
    else el.removeAttribute('aria-current');
  });
  const box = $('#account');
  box.hidden = !a;
  $('#account-user').textContent = a?.user ?? '';
  const role = $('#account-role');
  role.textContent = a ? t(`role.${a.role}` as Key) : '';
  role.dataset.role = a?.role ?? '';
  const out = $('#logout');
  if (a) out.setAttribute('aria-label', t('auth.logoutLabel', { user: a.user }));
}

function init(): void {
  document.documentElement.lang = lang() === 'zh' ? 'zh-CN' : 'en';
  applyI18n(document.body);
  $('#lang-toggle').addEventListener('click', () => setLang(lang() === 'zh' ? 'en' : 'zh'));
  $('#logout').addEventListener('click', async () => {
    // Revoke the token on the server first (best effort), then forget it here.
    try {
      await api.logout();
    } catch {
      /* offline or already refused: the session is cleared anyway */
    }
    toLogin('logout');
  });
  onLangChange(() => {
    current?.page.relabel();
    renderHeader();
    setTitle();
  });
  onSessionChange(renderHeader);
  window.addEventListener('hashchange', route);
  watchExpiry();
  route();
}

init();
