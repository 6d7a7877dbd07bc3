// The logged-in account: token + account view from POST /api/v1/auth/login, kept in
// sessionStorage (one browser tab, gone when it closes). Every page asks here what the role may do.

export type RoleName = 'town' | 'department' | 'command_centre' | 'manager' | 'admin' | 'supervisor';

export interface Account {
  user: string;
  role: RoleName | string;
  town?: string | null;
  department?: string | null;
  district?: string | null;
}

export interface Session {
  token: string;
  expires_at: string;
  account: Account;
}

const KEY = 'whistle.session';
let expiryTimer: number | undefined;
const listeners = new Set<(s: Session | null) => void>();

function read(): Session | null {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) ?? 'null') as Session | null;
    if (!s || typeof s.token !== 'string' || !s.account || typeof s.account.user !== 'string') return null;
    return s;
  } catch {
    return null;
  }
}

/** The session, if there is one whose token has not expired. */
export function session(): Session | null {
  const s = read();
  if (!s) return null;
  const exp = Date.parse(s.expires_at);
  if (Number.isFinite(exp) && exp <= Date.now()) return null;
  return s;
}

export function token(): string | null {
  return session()?.token ?? null;
}

export function account(): Account | null {
  return session()?.account ?? null;
}

export function setSession(s: Session): void {
  try {
    sessionStorage.setItem(KEY, JSON.stringify(s));
  } catch {
    /* storage disabled: the session lasts as long as the page */
  }
  watchExpiry();
  for (const f of listeners) f(s);
}

export function clearSession(): void {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    /* ignore */
  }
  clearTimeout(expiryTimer);
  for (const f of listeners) f(null);
}

export function onSessionChange(f: (s: Session | null) => void): () => void {
  listeners.add(f);
  return () => listeners.delete(f);
}

/**
 * Leave for the login page, remembering where we were (`next`) so the login returns there.
 * `reason`: `expired` (401 / WebSocket 4001) or `logout`.
 */
export function toLogin(reason?: 'expired' | 'logout'): void {
  const here = location.hash.replace(/^#/, '');
  const already = here.startsWith('/login');
  clearSession();
  if (already) return;
  const p = new URLSearchParams();
  if (here && here !== '/' && reason !== 'logout') p.set('next', here);
  if (reason) p.set('reason', reason);
  const q = p.toString();
  location.hash = `#/login${q ? `?${q}` : ''}`;
}

/** Go to the login page when the token runs out (the server would refuse it anyway). */
export function watchExpiry(): void {
  clearTimeout(expiryTimer);
  const s = session();
  if (!s) return;
  const left = Date.parse(s.expires_at) - Date.now();
  if (!Number.isFinite(left)) return;
  // setTimeout takes at most ~24.8 days.
  expiryTimer = window.setTimeout(() => toLogin('expired'), Math.min(Math.max(0, left), 2 ** 31 - 1));
}

// ---- what each role may do (the server decides; the console hides what would be refused)

export const isRole = (r: RoleName): boolean => account()?.role === r;

/** Pages each role sees, first = where it lands after logging in. */
export function allowedRoutes(a: Account | null = account()): string[] {
  switch (a?.role) {
    case 'town':
      return ['town', 'ledger', 'password'];
    case 'department':
      return ['board', 'ledger', 'password'];
    case 'command_centre':
      return ['board', 'manager', 'ledger', 'charts', 'rosters', 'hotline', 'password'];
    case 'manager':
      return ['manager', 'board', 'ledger', 'charts', 'password'];
    case 'admin':
      return ['registry', 'accounts', 'rosters', 'password'];
    case 'supervisor':
      return ['supervision', 'ledger', 'charts', 'password'];
    default:
      return [];
  }
}

/** The route (hash without '#') a role lands on after logging in. */
export function homeOf(a: Account): string {
  switch (a.role) {
    case 'town':
      return a.town ? `/town?town=${encodeURIComponent(a.town)}` : '/town';
    case 'department':
    case 'command_centre':
      return a.department ? `/board?dept=${encodeURIComponent(a.department)}` : '/board';
    case 'manager':
      return '/manager';
    case 'admin':
      return '/registry';
    case 'supervisor':
      return '/supervision';
    default:
      return '/login';
  }
}

/** The district the account is confined to (none for the city-wide manager and the admin). */
export function ownDistrict(): string | null {
  return account()?.district ?? null;
}

/** The department the account acts as (its own, or `<district>-CC` for a command centre). */
export function actingDepartment(): string | null {
  return account()?.department ?? null;
}

/** The live channel of the manager view for this account. */
export function managerChannel(): string {
  const d = ownDistrict();
  return d ? `manager:${d}` : 'manager:city';
}
