// Hash routes: #/login?next=ROUTE, #/town?town=CODE, #/board?dept=CODE, #/manager, #/registry,
// #/accounts (admin), #/supervision?case=ID (supervisors), #/ledger?<filters>&case=ID (every account
// that reads cases), #/charts?district=&from=&to=&metric= (managers, command centres, supervisors),
// #/rosters (admins, command centres), #/hotline (command centres), #/password (every account).
export const ROUTES = ['login', 'town', 'board', 'manager', 'registry', 'accounts', 'supervision', 'ledger', 'charts', 'rosters', 'hotline', 'password'] as const;
export type RouteName = (typeof ROUTES)[number];

export function isRoute(path: string): path is RouteName {
  return (ROUTES as readonly string[]).includes(path);
}

/** The route of a hash ("#/board?dept=X" or "/board?dept=X"); `known` is false for anything else. */
export function parseRoute(hash: string): { name: RouteName; params: URLSearchParams; known: boolean } {
  const raw = hash.replace(/^#?\/?/, '');
  const [path, query = ''] = raw.split('?');
  const known = isRoute(path);
  return { name: known ? path : 'town', params: new URLSearchParams(query), known };
}

export function parseHash(): { name: RouteName; params: URLSearchParams; known: boolean } {
  return parseRoute(location.hash);
}

/** Update the hash query without remounting the page (replaceState fires no hashchange). */
export function setParams(params: Record<string, string | null>): void {
  const { name, params: p } = parseHash();
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === '') p.delete(k);
    else p.set(k, v);
  }
  const q = p.toString();
  history.replaceState(null, '', `#/${name}${q ? `?${q}` : ''}`);
}

export interface Page {
  unmount(): void;
  /** Re-render language-dependent parts not covered by data-i18n. */
  relabel(): void;
}
export type Mount = (root: HTMLElement, params: URLSearchParams) => Page;
