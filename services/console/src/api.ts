// Typed access to the HTTP API (docs/architecture.md, schemas/json/). Same origin: nginx routes
// /api/ to intake.
import type { Names } from './i18n';
import { setSession, toLogin, token, type Account, type Session } from './session';

import { STATUSES as ALL_STATUSES, TERMINAL_STATUSES, type CaseEventType, type Status } from './generated/names';

export type { CaseEventType, Status };
export const STATUSES: Status[] = [...ALL_STATUSES];
export const TERMINAL: ReadonlySet<Status> = new Set<Status>(TERMINAL_STATUSES);

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
  type: CaseEventType;
  status: Status;
  time: string;
  /** `user` and `role`: the account that acted (absent for system components and old events). */
  actor?: { kind: string; code: string; user?: string | null; role?: string | null } | null;
  detail?: string | null;
}
/** Deadlines are added by the SLA work (issue C); the shape is read tolerantly. */
export interface Deadlines {
  acknowledge?: string | null;
  arrive?: string | null;
  resolve?: string | null;
  /** True while the clocks are paused (the deadlines are then absent). */
  paused?: boolean;
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
  /** Evidence attachment ids (`GET /api/v1/attachments/{id}`): the raise's or registration's, then the investigation's. */
  attachments?: string[];
  raised_at: string;
  updated_at: string;
  department?: DepartmentRef | null;
  /**
   * Every step: present in `GET /api/v1/whistles/{id}`, absent from live frames, which carry a
   * summary (`steps`, `last_step`, `pause_reason`) so they stay small; fetch the case for it.
   */
  timeline?: TimelineEntry[];
  /** Steps on the timeline (summaries). */
  steps?: number;
  /** The latest step (summaries). */
  last_step?: TimelineEntry | null;
  /** The reason of the pause in force (summaries). */
  pause_reason?: string | null;
  deadlines?: Deadlines | null;
  /** True between `whistle.paused` and `whistle.resumed`: the SLA clocks are stopped. */
  paused?: boolean;
  /** SLA stages breached and not yet done. */
  overdue?: string[];
  /** Assisting departments of a joint case (they see it on their boards; only the lead acts). */
  assisting?: DepartmentRef[] | null;
  /** A whistle raised to a department, or a town's own enforcement case (issue K). */
  kind?: CaseKind;
  /** The administrative penalty procedure of an enforcement case. */
  procedure?: Procedure | null;
  /** The raising town's confirmation of a resolved whistle. */
  confirmation?: Confirmation | null;
  /** Times the raising town reopened the whistle. */
  reopens?: number;
  /** Flagged steps awaiting a supervisor's review (event ids). */
  review?: string[];
  /** A `merged` whistle: the surviving case it was merged into (its town follows that case). */
  merged_into?: MergedCase | null;
  /** The surviving case of merges: the whistles merged into it, with their towns. */
  merged?: MergedCase[];
  /** The 12345 hotline work order the whistle was imported from (`POST /api/v1/hotline/orders`). */
  hotline?: HotlineOrder | null;
}

/** What a hotline import did, row by row (`POST /api/v1/hotline/orders`). */
export interface HotlineImportReport {
  dry_run: boolean;
  created: number;
  existing: number;
  failed: number;
  ignored_columns?: string[];
  rows: HotlineRowResult[];
}

export interface HotlineRowResult {
  row: number;
  order_no: string;
  outcome: 'created' | 'existing' | 'failed';
  id?: string | null;
  town?: string | null;
  possible_duplicates?: string[];
  error?: { code: string; field?: string | null; message: string } | null;
}

/** A 12345 hotline work order behind a whistle. */
export interface HotlineOrder {
  order_no: string;
  received_at?: string | null;
}

/** A whistle merged into a case, with its town. */
export interface MergedCase {
  id: string;
  town: string;
}

/** `GET /api/v1/whistles/duplicates`: open whistles a raise here would likely duplicate. */
export interface DuplicateList {
  radius_m: number;
  window_hours: number;
  items: Duplicate[];
}

export interface Duplicate {
  id: string;
  status: Status;
  raised_at: string;
  distance_m: number;
  /** The caller may read the case; only then are `description` and `address` given. */
  readable: boolean;
  description?: string;
  address?: string;
}
export type CaseKind = 'whistle' | 'enforcement';
export type SubjectKind = 'individual' | 'unit';
export type DecisionOutcome = 'no_penalty' | 'warning' | 'fine' | 'other';
export interface CaseParty {
  kind: SubjectKind;
  name: string;
  credit_code?: string | null;
}
export interface BenchmarkApplied {
  tier: string;
  action: string;
  min_yuan?: number | null;
  max_yuan?: number | null;
}
export interface Procedure {
  party: CaseParty;
  registered_at: string;
  decide_by: string;
  persuasion?: 'complied' | 'refused' | null;
  officers?: string[];
  decision?: {
    outcome: DecisionOutcome;
    fine_yuan?: number | null;
    statutory?: Record<string, unknown> | null;
    benchmark?: BenchmarkApplied | null;
    overridden?: boolean;
  } | null;
  decided_at?: string | null;
}
export interface Confirmation {
  rating: number;
  comment?: string | null;
  at: string;
  /** `town`, or `deemed` (3 working days without an answer). */
  by: string;
}
/** `GET /api/v1/cases/{id}`: the case with its party, the benchmark that applied and the fences' warnings. */
export interface CaseView extends Case {
  subject?: CaseParty | null;
  benchmark?: BenchmarkApplied | null;
  fences?: TimelineEntry[];
}
export interface OpenCaseRequest {
  item: string;
  description: string;
  location: Location;
  subject: CaseParty;
  town?: string;
  attachments?: string[];
  from_whistle?: string;
}
export type CaseStep = 'persuade' | 'investigate' | 'notify' | 'decide' | 'serve' | 'close';
export interface SupervisionItem {
  id: string;
  reason: 'override' | 'fence' | 'time_limit_near' | 'time_limit_passed' | string;
  case: string;
  kind: CaseKind;
  town: string;
  district: string;
  item: string;
  status: Status;
  time: string;
  detail?: string | null;
  decide_by?: string | null;
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
  /** Ids of evidence this town uploaded (`POST /api/v1/attachments`). */
  attachments?: string[];
}
/** `201` answer to an upload: the file as stored (metadata stripped). */
export interface AttachmentUploaded {
  id: string;
  sha256: string;
  content_type: string;
  size: number;
}
export interface Suggestion {
  item: string;
  score?: number;
  names?: Names;
  matched?: string[];
}

/** Outcome figures (`GET /api/v1/figures`, schemas/json/figures-report.schema.json); times in seconds. */
export interface OutcomeFigures {
  cases: number;
  closed: number;
  rejected: number;
  procedures: number;
  procedures_per_case: number;
  handoffs: number;
  inspections: number;
  rechecks: number;
  penalties: number;
  repeated_inspections: number;
  repeated_inspection_rate: number;
  handling_mean_seconds?: number | null;
  handling_median_seconds?: number | null;
  handling_p90_seconds?: number | null;
  reopens: number;
  confirmations: number;
  rating_mean?: number | null;
  fences_warned: number;
  fences_blocked: number;
  fences_overridden: number;
}
export interface FiguresReport {
  from: string;
  to: string;
  /** `null`: the whole city. */
  district?: string | null;
  repeat_window_days: number;
  figures: OutcomeFigures;
  /** Where the figures are defined (`docs/figures.md#definitions`). */
  definitions: string;
}
/** `GET /api/v1/whistles`: one page of the ledger (newest raised first); `next_cursor` is null on the last. */
export interface LedgerPage {
  items: Case[];
  next_cursor: string | null;
}
/** Counts over the whistles raised in an overview's period (`GET /api/v1/reports/overview`). */
export interface OverviewFigures {
  raised: number;
  dispatched: number;
  open: number;
  resolved: number;
  breached: number;
  overdue: number;
  breach_rate: number | null;
  mtta_seconds: number | null;
  mttr_seconds: number | null;
}
export interface OverviewBucket {
  from_seconds: number;
  to_seconds: number | null;
  count: number;
}
export interface Overview {
  district?: string | null;
  from: string;
  to: string;
  total: OverviewFigures;
  districts: (OverviewFigures & { code: string })[];
  daily: { day: string; raised: number; resolved: number; breached: number }[];
  mtta_histogram: OverviewBucket[];
  mttr_histogram: OverviewBucket[];
  top_items: { code: string; raised: number; breached: number }[];
  slowest_departments: { code: string; raised: number; resolved: number; mttr_seconds: number; breach_rate: number | null }[];
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

interface RequestOpts {
  headers?: Record<string, string>;
  /** A body sent as is (e.g. CSV), with its content type; otherwise `body` is sent as JSON. */
  raw?: { type: string; text: string };
  /** Parse the answer as text instead of JSON. */
  text?: boolean;
  /** No token, and a 401 is an answer rather than "log in again" (the login itself). */
  anonymous?: boolean;
  /** A multipart body (an upload); the browser sets its content type with the boundary. */
  form?: FormData;
  /** The answer's bytes as a Blob (an attachment). */
  blob?: boolean;
}

async function request<T>(method: string, path: string, body?: unknown, o: RequestOpts = {}): Promise<T> {
  const bearer = o.anonymous ? null : token();
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers: {
        accept: o.blob ? '*/*' : o.text ? 'text/csv, text/plain, application/json' : 'application/json',
        ...(o.form ? {} : o.raw ? { 'content-type': o.raw.type } : body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
        ...o.headers,
      },
      body: o.form ?? (o.raw ? o.raw.text : body !== undefined ? JSON.stringify(body) : undefined),
    });
    if (o.blob && res.ok) return (await res.blob()) as T;
  } catch (e) {
    throw new ApiError(0, 'network', e instanceof Error ? e.message : String(e));
  }
  const text = await res.text();
  let json: unknown = undefined;
  if (text && !(o.text && res.ok)) {
    try {
      json = JSON.parse(text);
    } catch {
      /* not JSON (e.g. an nginx error page) */
    }
  }
  if (!res.ok) {
    const err = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
    const e = new ApiError(res.status, err?.code ?? `http_${res.status}`, err?.message ?? (text.slice(0, 200) || res.statusText));
    // No token, a forged one or an expired one: log in again, then come back here.
    if (res.status === 401 && !o.anonymous) toLogin('expired');
    throw e;
  }
  return (o.text ? text : json) as T;
}

/**
 * A file from the API (an export), fetched with the token: its bytes and the name the server
 * gives it (`Content-Disposition`), else `fallback`. Errors as `request`'s.
 */
async function download(path: string, fallback: string): Promise<{ blob: Blob; name: string }> {
  const bearer = token();
  let res: Response;
  try {
    res = await fetch(path, { headers: bearer ? { authorization: `Bearer ${bearer}` } : {} });
  } catch (e) {
    throw new ApiError(0, 'network', e instanceof Error ? e.message : String(e));
  }
  if (!res.ok) {
    const text = await res.text();
    let err: { code?: string; message?: string } | undefined;
    try {
      err = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
    } catch {
      /* not JSON */
    }
    if (res.status === 401) toLogin('expired');
    throw new ApiError(res.status, err?.code ?? `http_${res.status}`, err?.message ?? (text.slice(0, 200) || res.statusText));
  }
  const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? fallback;
  return { blob: await res.blob(), name };
}

export interface LoginResponse extends Session {
  token_type: string;
}

/** GET /api/v1/auth/config: how one logs in here. */
export interface AuthConfig {
  password: boolean;
  oidc: { login_url: string; label: Names } | null;
}

export interface DistrictInfo {
  code: string;
  names: Names;
  departments?: { code: string; names: Names; department_type?: string; command_centre?: boolean }[];
}

export interface HolderVersion {
  district: string;
  holder: { kind: string; department_type?: string };
  authority: string;
  effective_from: string;
  effective_to?: string | null;
  reason?: string;
}
export interface AuditEntry {
  version: number;
  recorded_at: string;
  actor: string;
  action: string;
  district: string;
  effective_from: string;
  reason: string;
}
export interface ItemDetail extends Item {
  version: number;
  history: HolderVersion[];
  audit: AuditEntry[];
}
export type ChangeAction = 'delegate' | 'recover' | 'change_holder';
export interface HolderChange {
  district: string;
  effective_from: string;
  reason: string;
  department_type?: string | null;
  authority?: string | null;
}
export interface WhatIfReport {
  item: string;
  district: string;
  effective_from: string;
  open_total: number;
  open_affected: { id: string; town: string; item: string; now: string; proposed: string }[];
  last_month_total: number;
  last_month_affected: number;
  last_month_share: number;
}

/** A person on a duty roster (`GET /api/v1/rosters`). */
export interface RosterPerson {
  id: string;
  name: string;
  phone?: string | null;
  email?: string | null;
  wecom_id?: string | null;
  /** China time, "HH:MM": nothing but breaches and escalations reaches them then. */
  quiet_hours?: { start: string; end: string } | null;
}
/** A weekly shift: on `days` (mon…sun), from `start` to `end` (China time; past midnight ends the next day). */
export interface RosterShift {
  days: string[];
  start: string;
  end: string;
  person: string;
}
/** Someone else on duty from `from` until `until` ("YYYY-MM-DDTHH:MM", China time). */
export interface RosterOverride {
  from: string;
  until: string;
  person: string;
  note?: string | null;
}
export interface Roster {
  unit?: string | null;
  people: RosterPerson[];
  shifts: RosterShift[];
  overrides: RosterOverride[];
  roles: Record<string, string>;
  robots?: { wecom?: string | null; dingtalk?: string | null } | null;
  updated_at?: string | null;
  updated_by?: string | null;
}
/** Who a unit's escalations reach at a time (`GET /api/v1/rosters/{unit}/on-duty`). */
export interface OnDuty {
  unit: string;
  at: string;
  duty_officer?: RosterPerson | null;
  roles: Record<string, RosterPerson>;
}

/** An account of the account store (`GET /api/v1/accounts`). */
export interface AccountRecord {
  username: string;
  role: string;
  town?: string | null;
  department?: string | null;
  district?: string | null;
  enabled: boolean;
  created_at: string;
  updated_at: string;
  password_changed_at: string;
}
/** A role and its scope: `town` for a town, `department` for a department, `district` for a command centre (or a district manager). */
export interface AccountScope {
  role: string;
  town?: string;
  department?: string;
  district?: string;
}
export interface AccountAuditEntry {
  id: number;
  at: string;
  actor: string;
  actor_role: string;
  action: string;
  username: string;
  detail: Record<string, unknown>;
}

export const api = {
  /** Logs in and keeps the session (sessionStorage). Wrong credentials: ApiError 401 invalid_credentials. */
  login: async (username: string, password: string) => {
    const r = await request<LoginResponse>('POST', '/api/v1/auth/login', { username, password }, { anonymous: true });
    setSession({ token: r.token, expires_at: r.expires_at, account: r.account });
    return r;
  },
  me: () => request<Account>('GET', '/api/v1/auth/me'),
  /** Whether single sign-on is offered (no token needed). */
  authConfig: () => request<AuthConfig>('GET', '/api/v1/auth/config', undefined, { anonymous: true }),
  /**
   * Keeps the session of a single sign-on: the token came back in the URL fragment (never sent
   * to a server); the account is the token's, asked of /api/v1/auth/me.
   */
  adoptToken: async (tokenValue: string, expiresAt: string) => {
    const account = await request<Account>('GET', '/api/v1/auth/me', undefined, {
      anonymous: true,
      headers: { authorization: `Bearer ${tokenValue}` },
    });
    setSession({ token: tokenValue, expires_at: expiresAt, account });
    return account;
  },
  /** Revokes the current token on the server (best effort: the session is cleared either way). */
  logout: () => {
    // "Anonymous": a 401 (a token already refused) is an answer here, not "log in again".
    const bearer = token();
    return request<void>('POST', '/api/v1/auth/logout', undefined, {
      anonymous: true,
      headers: bearer ? { authorization: `Bearer ${bearer}` } : {},
    });
  },
  /** The logged-in account's new password; the answer is a fresh session (every earlier token is revoked). */
  changePassword: async (oldPassword: string, newPassword: string) => {
    const r = await request<LoginResponse>('POST', '/api/v1/auth/password', { old_password: oldPassword, new_password: newPassword });
    setSession({ token: r.token, expires_at: r.expires_at, account: r.account });
    return r;
  },
  rosters: (district?: string) =>
    request<{ rosters: Roster[] }>('GET', `/api/v1/rosters${district ? `?district=${encodeURIComponent(district)}` : ''}`).then((r) => r.rosters),
  onDuty: (unit: string, at?: string) =>
    request<OnDuty>('GET', `/api/v1/rosters/${encodeURIComponent(unit)}/on-duty${at ? `?at=${encodeURIComponent(at)}` : ''}`),
  putRoster: (unit: string, roster: Roster) => request<Roster>('PUT', `/api/v1/rosters/${encodeURIComponent(unit)}`, roster),
  accounts: () => request<{ accounts: AccountRecord[] }>('GET', '/api/v1/accounts').then((r) => r.accounts),
  createAccount: (username: string, password: string, scope: AccountScope) =>
    request<AccountRecord>('POST', '/api/v1/accounts', { username, password, ...scope }),
  setEnabled: (username: string, enabled: boolean) =>
    request<AccountRecord>('POST', `/api/v1/accounts/${encodeURIComponent(username)}/${enabled ? 'enable' : 'disable'}`),
  resetPassword: (username: string, password: string) =>
    request<AccountRecord>('POST', `/api/v1/accounts/${encodeURIComponent(username)}/password`, { password }),
  assignRole: (username: string, scope: AccountScope) =>
    request<AccountRecord>('POST', `/api/v1/accounts/${encodeURIComponent(username)}/role`, scope),
  accountAudit: (username?: string) =>
    request<{ entries: AccountAuditEntry[]; next_before?: number }>(
      'GET',
      `/api/v1/accounts/audit${username ? `?username=${encodeURIComponent(username)}` : ''}`,
    ).then((r) => r.entries),
  districts: () => request<{ districts: DistrictInfo[] }>('GET', '/api/v1/districts').then((r) => r.districts),
  registryItem: (code: string) => request<ItemDetail>('GET', `/api/v1/registry/items/${encodeURIComponent(code)}`),
  registryChange: (code: string, action: ChangeAction, change: HolderChange) =>
    request<ItemDetail>('POST', `/api/v1/registry/items/${encodeURIComponent(code)}/${action === 'change_holder' ? 'holder' : action}`, change),
  whatIf: (item: string, action: ChangeAction, change: HolderChange) =>
    request<WhatIfReport>('POST', '/api/v1/registry/whatif', { item, action, change }),
  exportCsv: () => request<string>('GET', '/api/v1/registry/export', undefined, { text: true }),
  importCsv: (csv: string) =>
    request<{ rows: number; items: number; changed: string[] }>('POST', '/api/v1/registry/import', undefined, { raw: { type: 'text/csv', text: csv } }),
  /** 12345 hotline work orders (CSV) for the command centre's district; `dryRun` checks only. */
  importHotline: (csv: string, dryRun: boolean) =>
    request<HotlineImportReport>('POST', `/api/v1/hotline/orders${dryRun ? '?dry_run=true' : ''}`, undefined, { raw: { type: 'text/csv', text: csv } }),
  towns: () => request<{ towns: Town[] }>('GET', '/api/v1/towns').then((r) => r.towns),
  items: (district?: string) =>
    request<{ items: Item[] }>('GET', `/api/v1/registry/items${district ? `?district=${encodeURIComponent(district)}` : ''}`).then(
      (r) => r.items,
    ),
  route: (town: string, item: string) =>
    request<RouteAnswer>('GET', `/api/v1/route?town=${encodeURIComponent(town)}&item=${encodeURIComponent(item)}`),
  raise: (req: RaiseRequest, idempotencyKey: string) =>
    request<{ id: string; status: Status; possible_duplicates?: string[] }>('POST', '/api/v1/whistles', req, {
      headers: { 'idempotency-key': idempotencyKey },
    }),
  /** Open whistles of the item near a point (the caller's district), before a raise is sent. */
  duplicates: (item: string, lat: number, lon: number) =>
    request<DuplicateList>('GET', `/api/v1/whistles/duplicates?item=${encodeURIComponent(item)}&lat=${lat}&lon=${lon}`),
  /** Merge a duplicate whistle into another open whistle of the district. */
  merge: (id: string, into: string, idempotencyKey: string) =>
    request<{ id: string; event_id: string; status: Status }>('POST', `/api/v1/whistles/${encodeURIComponent(id)}/merge`, { into }, {
      headers: { 'idempotency-key': idempotencyKey },
    }),
  whistle: (id: string) => request<Case>('GET', `/api/v1/whistles/${encodeURIComponent(id)}`),
  act: (id: string, action: 'acknowledge' | 'arrive' | 'resolve' | 'reject', body?: object, idempotencyKey?: string) =>
    request<{ id: string; event_id: string; status: Status }>(
      'POST',
      `/api/v1/whistles/${encodeURIComponent(id)}/${action}`,
      body ?? {},
      idempotencyKey ? { headers: { 'idempotency-key': idempotencyKey } } : undefined,
    ),
  /** Hand the case to another department of its district (`to`: its code), with a reason. */
  transfer: (id: string, to: string, reason: string, idempotencyKey: string) =>
    request<{ id: string; event_id: string; status: Status }>(
      'POST',
      `/api/v1/whistles/${encodeURIComponent(id)}/transfer`,
      { to, reason },
      { headers: { 'idempotency-key': idempotencyKey } },
    ),
  /** Stop the case's SLA clocks, with a reason. */
  pause: (id: string, reason: string, idempotencyKey: string) =>
    request<{ id: string; event_id: string; status: Status }>(
      'POST',
      `/api/v1/whistles/${encodeURIComponent(id)}/pause`,
      { reason },
      { headers: { 'idempotency-key': idempotencyKey } },
    ),
  /** Restart the clocks of a paused case (empty body). */
  resume: (id: string, idempotencyKey: string) =>
    request<{ id: string; event_id: string; status: Status }>('POST', `/api/v1/whistles/${encodeURIComponent(id)}/resume`, undefined, {
      headers: { 'idempotency-key': idempotencyKey },
    }),
  suggest: (text: string) =>
    request<{ suggestions?: Suggestion[] } | Suggestion[]>('GET', `/api/v1/assist/suggest?text=${encodeURIComponent(text)}`).then(
      (r) => (Array.isArray(r) ? r : (r?.suggestions ?? [])),
    ),
  /** A town opens its own enforcement case (issue K): `202 {id, status: "registered"}`. */
  openCase: (req: OpenCaseRequest, idempotencyKey: string) =>
    request<{ id: string; status: Status }>('POST', '/api/v1/cases', req, { headers: { 'idempotency-key': idempotencyKey } }),
  caseView: (id: string) => request<CaseView>('GET', `/api/v1/cases/${encodeURIComponent(id)}`),
  /** One step of the administrative penalty procedure. */
  caseStep: (id: string, step: CaseStep, body: object, idempotencyKey: string) =>
    request<{ id: string; event_id: string; status: Status }>('POST', `/api/v1/cases/${encodeURIComponent(id)}/${step}`, body, {
      headers: { 'idempotency-key': idempotencyKey },
    }),
  /** The raising town confirms a resolved whistle (rating 1–5). */
  confirm: (id: string, rating: number, comment: string | undefined, idempotencyKey: string) =>
    request<{ id: string; event_id: string; status: Status }>(
      'POST',
      `/api/v1/whistles/${encodeURIComponent(id)}/confirm`,
      comment ? { rating, comment } : { rating },
      { headers: { 'idempotency-key': idempotencyKey } },
    ),
  /** The raising town reopens a resolved whistle: back to the same department. */
  reopen: (id: string, reason: string, idempotencyKey: string) =>
    request<{ id: string; event_id: string; status: Status }>('POST', `/api/v1/whistles/${encodeURIComponent(id)}/reopen`, { reason }, {
      headers: { 'idempotency-key': idempotencyKey },
    }),
  /** A comment on a whistle (or a town case: `kind` "cases"), on its timeline and live on the boards. */
  comment: (id: string, text: string, idempotencyKey: string, kind: 'whistles' | 'cases' = 'whistles') =>
    request<{ id: string; event_id: string; status: Status }>('POST', `/api/v1/${kind}/${encodeURIComponent(id)}/comments`, { text }, {
      headers: { 'idempotency-key': idempotencyKey },
    }),
  /** Upload one photo or video as evidence (its metadata is stripped by the server). */
  uploadAttachment: (file: File) => {
    const form = new FormData();
    form.append('file', file, file.name);
    return request<AttachmentUploaded>('POST', '/api/v1/attachments', undefined, { form });
  },
  /** An attachment's bytes (fetched with the token; show it through a blob: URL). */
  attachment: (id: string) => request<Blob>('GET', `/api/v1/attachments/${encodeURIComponent(id)}`, undefined, { blob: true }),
  supervisionQueue: () => request<{ items: SupervisionItem[] }>('GET', '/api/v1/supervision/queue').then((r) => r.items),
  review: (itemId: string, verdict: 'upheld' | 'corrected', note: string | undefined, idempotencyKey: string) =>
    request<unknown>('POST', `/api/v1/supervision/${encodeURIComponent(itemId)}/review`, note ? { verdict, note } : { verdict }, {
      headers: { 'idempotency-key': idempotencyKey },
    }),
  slaSummary: () => request<unknown>('GET', '/api/v1/sla/summary'),
  /** The outcome figures of the account's scope over `[from, to)` (the API's defaults when absent). */
  figures: (period: { from?: string; to?: string } = {}) => {
    const q = new URLSearchParams();
    if (period.from) q.set('from', period.from);
    if (period.to) q.set('to', period.to);
    const qs = q.toString();
    return request<FiguresReport>('GET', `/api/v1/figures${qs ? `?${qs}` : ''}`);
  },
  /** The ledger (`query`: its filters and `cursor`, as a query string). */
  ledger: (query: string) => request<LedgerPage>('GET', `/api/v1/whistles${query ? `?${query}` : ''}`),
  /** The ledger's export with the same filters: `format` csv (UTF-8 with BOM) or xlsx. */
  ledgerExport: (format: 'csv' | 'xlsx', query: string) =>
    download(`/api/v1/whistles/export.${format}${query ? `?${query}` : ''}`, `whistles.${format}`),
  /** The charts' figures (`query`: district, from, to). */
  overview: (query: string) => request<Overview>('GET', `/api/v1/reports/overview${query ? `?${query}` : ''}`),
};

export function newKey(): string {
  return crypto.randomUUID();
}
