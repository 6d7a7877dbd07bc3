// Typed access to the HTTP API (docs/architecture.md, schemas/json/). Same origin: nginx routes
// /api/ to intake.
import type { Names } from './i18n';

export type Status = 'raised' | 'dispatched' | 'acknowledged' | 'on_site' | 'resolved' | 'rejected';
export const STATUSES: Status[] = ['raised', 'dispatched', 'acknowledged', 'on_site', 'resolved', 'rejected'];
export const TERMINAL: ReadonlySet<Status> = new Set<Status>(['resolved', 'rejected']);

export interface District {
  code: string;
  names: Names;
}
export interface Town {
  code: string;
  names: Names;
  kind?: string;
  district: District;
}
export interface DepartmentRef {
  code: string;
  names: Names;
}
export type Holder =
  | { kind: 'towns' }
  | { kind: 'department'; code: string; department_type?: string; names: Names }
  | { kind: string; code?: string; names?: Names };
export interface Item {
  code: string;
  names: Names;
  category?: string;
  legal_basis?: string;
  authority?: string | null;
  holder?: Holder | null;
}
export interface Location {
  lat: number;
  lon: number;
  address: string;
}
export interface TimelineEntry {
  event_id: string;
  type: string;
  status: Status;
  time: string;
  actor?: { kind: string; code: string } | null;
  detail?: string | null;
}
/** Deadlines are added by the SLA work (issue C); the shape is read tolerantly. */
export interface Deadlines {
  acknowledge?: string | null;
  arrive?: string | null;
  resolve?: string | null;
}
export interface Case {
  id: string;
  status: Status;
  town: string;
  district: string;
  item: string;
  description: string;
  location: Location;
  photos?: string[];
  raised_at: string;
  updated_at: string;
  department?: DepartmentRef | null;
  timeline: TimelineEntry[];
  deadlines?: Deadlines | null;
}
export interface RouteAnswer {
  outcome: 'department' | 'town' | 'triage' | string;
  authority?: string | null;
  department?: DepartmentRef | null;
  message?: Names;
}
export interface RaiseRequest {
  town: string;
  item: string;
  description: string;
  location: Location;
  photos?: string[];
}
export interface Suggestion {
  item: string;
  score?: number;
  names?: Names;
  matched?: string[];
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
  /** True when the request never got an HTTP answer. */
  get network(): boolean {
    return this.status === 0;
  }
}

async function request<T>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers: { accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
  } catch (e) {
    throw new ApiError(0, 'network', e instanceof Error ? e.message : String(e));
  }
  const text = await res.text();
  let json: unknown = undefined;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      /* not JSON (e.g. an nginx error page) */
    }
  }
  if (!res.ok) {
    const err = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw new ApiError(res.status, err?.code ?? `http_${res.status}`, err?.message ?? (text.slice(0, 200) || res.statusText));
  }
  return json as T;
}

export const api = {
  towns: () => request<{ towns: Town[] }>('GET', '/api/v1/towns').then((r) => r.towns),
  items: (district?: string) =>
    request<{ items: Item[] }>('GET', `/api/v1/registry/items${district ? `?district=${encodeURIComponent(district)}` : ''}`).then(
      (r) => r.items,
    ),
  route: (town: string, item: string) =>
    request<RouteAnswer>('GET', `/api/v1/route?town=${encodeURIComponent(town)}&item=${encodeURIComponent(item)}`),
  raise: (req: RaiseRequest, idempotencyKey: string) =>
    request<{ id: string; status: Status }>('POST', '/api/v1/whistles', req, { 'idempotency-key': idempotencyKey }),
  whistle: (id: string) => request<Case>('GET', `/api/v1/whistles/${encodeURIComponent(id)}`),
  act: (id: string, action: 'acknowledge' | 'arrive' | 'resolve' | 'reject', body?: object, idempotencyKey?: string) =>
    request<{ id: string; event_id: string; status: Status }>(
      'POST',
      `/api/v1/whistles/${encodeURIComponent(id)}/${action}`,
      body ?? {},
      idempotencyKey ? { 'idempotency-key': idempotencyKey } : undefined,
    ),
  suggest: (text: string) =>
    request<{ suggestions?: Suggestion[] } | Suggestion[]>('GET', `/api/v1/assist/suggest?text=${encodeURIComponent(text)}`).then(
      (r) => (Array.isArray(r) ? r : (r?.suggestions ?? [])),
    ),
  slaSummary: () => request<unknown>('GET', '/api/v1/sla/summary'),
};

export function newKey(): string {
  return crypto.randomUUID();
}
