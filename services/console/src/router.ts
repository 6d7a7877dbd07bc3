// Hash routes: #/town?town=CODE, #/board?dept=CODE, #/manager.
export const ROUTES = ['town', 'board', 'manager'] as const;
export type RouteName = (typeof ROUTES)[number];

export function parseHash(): { name: RouteName; params: URLSearchParams } {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, query = ''] = raw.split('?');
  const name = (ROUTES as readonly string[]).includes(path) ? (path as RouteName) : 'town';
  return { name, params: new URLSearchParams(query) };
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
