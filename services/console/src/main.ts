// The console shell: hash routes (#/town, #/board, #/manager, each with ?query), language
// toggle, one page mounted at a time.
import './style.css';
import { applyI18n, lang, onLangChange, setLang, t } from './i18n';
import { $ } from './dom';
import { mountTown } from './pages/town';
import { mountBoard } from './pages/board';
import { mountManager } from './pages/manager';
import { parseHash, type Mount, type Page, type RouteName } from './router';

const routes: Record<RouteName, Mount> = { town: mountTown, board: mountBoard, manager: mountManager };

let current: { name: RouteName; page: Page } | null = null;

function route(): void {
  const { name, params } = parseHash();
  if (current?.name === name) return; // query-only changes are handled by the page
  current?.page.unmount();
  const main = $('#main');
  main.replaceChildren();
  main.dataset.page = name;
  document.querySelectorAll<HTMLAnchorElement>('.nav a').forEach((a) => {
    if (a.dataset.route === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  });
  const page = routes[name](main, params);
  current = { name, page };
  document.title = `${t(`nav.${name}` as 'nav.town')} · ${t('app.title')}`;
  applyI18n(main);
}

function init(): void {
  document.documentElement.lang = lang() === 'zh' ? 'zh-CN' : 'en';
  applyI18n(document.body);
  $('#lang-toggle').addEventListener('click', () => setLang(lang() === 'zh' ? 'en' : 'zh'));
  onLangChange(() => {
    current?.page.relabel();
    if (current) document.title = `${t(`nav.${current.name}` as 'nav.town')} · ${t('app.title')}`;
  });
  window.addEventListener('hashchange', route);
  route();
}

init();
