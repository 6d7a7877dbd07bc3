// One live channel over the gateway's WebSocket (/ws), with automatic reconnect and resume.
//
// Protocol (docs/architecture.md): the first frame of every connection is
// {"type":"auth","token"} → `authenticated`; then {"type":"subscribe","channel"} → `snapshot` {cursor, cases};
// then `event` frames, each with the cursor after it. After a drop we reconnect (backoff 0.5 s →
// 10 s, immediately when the browser comes back online) and subscribe with the last cursor → the
// server answers `resumed` and replays exactly what we missed, or a `snapshot` with reset:true.
// Close 4008 (we fell behind) and 1001 (gateway going away) are resumed the same way.
// Frames at or before the cursor we already applied are dropped, so nothing is applied twice.
// Close 4001 (no valid token, or it expired mid-session) is not retried: back to the login page.
// A snapshot holds the most urgent cases (500 at most); when it is `truncated` we ask for the rest
// page by page ({"type":"more","after":next} → `page`). Cases in frames are summaries: no timeline.
// Under a reconnect storm the gateway may answer `overloaded` with `retry_after_ms`: we wait that
// long (plus jitter) and ask again.
import type { Case, CaseEventType } from './api';
import { toLogin, token } from './session';

/** The gateway's close code for a missing, forged or expired token. */
export const CLOSE_UNAUTHORIZED = 4001;

export type ConnState = 'connecting' | 'live' | 'reconnecting' | 'offline';

export interface CaseEventFrame {
  id: string;
  type: CaseEventType;
  subject: string;
  time: string;
  data?: Record<string, unknown>;
}

export interface ChannelHandlers {
  /** Replace local state with these open cases (first subscribe, or a reset after a long gap). */
  snapshot(cases: Case[], reset: boolean): void;
  /** One change; `c` is the case after it (also for events replayed after a resume). */
  event(c: Case, ev: CaseEventFrame): void;
  /** More open cases after a truncated snapshot, as they are now: add them. */
  page?(cases: Case[]): void;
  state?(s: ConnState): void;
  error?(code: string, message: string): void;
}

/** Compare Redis stream ids "ms-seq" numerically. */
export function cursorCmp(a: string, b: string): number {
  const [am, as = '0'] = a.split('-');
  const [bm, bs = '0'] = b.split('-');
  const d = BigInt(am) - BigInt(bm);
  if (d !== 0n) return d < 0n ? -1 : 1;
  const e = BigInt(as) - BigInt(bs);
  return e === 0n ? 0 : e < 0n ? -1 : 1;
}

function wsUrl(): string {
  const u = new URL('/ws', location.href);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.toString();
}

const live = new Set<LiveChannel>();

export class LiveChannel {
  private ws: WebSocket | null = null;
  private cursor: string | null = null;
  private closed = false;
  private attempt = 0;
  private timer: number | undefined;
  /** The subscribe or page request last sent, to repeat after `overloaded`. */
  private pending: Record<string, string> | null = null;
  private retryTimer: number | undefined;
  state: ConnState = 'connecting';
  /** Counters for tests and the status tooltip. */
  stats = { connects: 0, auths: 0, snapshots: 0, resumes: 0, events: 0, duplicatesDropped: 0 };

  constructor(
    readonly channel: string,
    private readonly h: ChannelHandlers,
  ) {
    live.add(this);
    window.addEventListener('online', this.onOnline);
    window.addEventListener('offline', this.onOffline);
    this.connect();
  }

  close(): void {
    this.closed = true;
    live.delete(this);
    window.removeEventListener('online', this.onOnline);
    window.removeEventListener('offline', this.onOffline);
    clearTimeout(this.timer);
    clearTimeout(this.retryTimer);
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, 'bye');
  }

  /** Cut the socket as a network drop would (test hook; the channel reconnects by itself). */
  drop(): void {
    this.ws?.close(4000, 'dropped by client');
  }

  private setState(s: ConnState): void {
    if (this.state === s) return;
    this.state = s;
    this.h.state?.(s);
  }

  private onOnline = (): void => {
    if (this.closed) return;
    if (!this.ws || this.ws.readyState > WebSocket.OPEN) {
      clearTimeout(this.timer);
      this.attempt = 0;
      this.connect();
    }
  };

  private onOffline = (): void => {
    // Don't wait for TCP to notice: drop now, reconnect when back online.
    this.setState('offline');
    this.ws?.close(4000, 'browser offline');
  };

  private connect(): void {
    if (this.closed) return;
    this.setState(this.stats.connects === 0 ? 'connecting' : navigator.onLine === false ? 'offline' : 'reconnecting');
    let ws: WebSocket;
    try {
      ws = new WebSocket(wsUrl());
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.stats.connects++;
      // Authenticate first, on every (re)connect; subscribe once the gateway says `authenticated`.
      const tok = token();
      if (!tok) return this.unauthorized();
      ws.send(JSON.stringify({ type: 'auth', token: tok }));
    };
    ws.onmessage = (m) => {
      if (this.ws !== ws) return;
      let frame: Record<string, unknown>;
      try {
        frame = JSON.parse(String(m.data));
      } catch {
        return;
      }
      this.onFrame(frame);
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (e.code === CLOSE_UNAUTHORIZED) return this.unauthorized();
      this.scheduleReconnect();
    };
    ws.onerror = () => {
      /* a close follows */
    };
  }

  /** The token was refused or ran out: no reconnect loop; log in again. */
  private unauthorized(): void {
    this.close();
    toLogin('expired');
  }

  private subscribe(): void {
    const msg: Record<string, string> = { type: 'subscribe', channel: this.channel };
    if (this.cursor) msg.cursor = this.cursor;
    this.pending = msg;
    this.ws?.send(JSON.stringify(msg));
  }

  /** Asks for the page after `next` (the rest of a truncated snapshot). */
  private more(next: string): void {
    const msg: Record<string, string> = { type: 'more', channel: this.channel, after: next };
    this.pending = msg;
    this.ws?.send(JSON.stringify(msg));
  }

  /** The gateway is busy: send the last request again after its hint, with jitter. */
  private retryLater(ms: number): void {
    const msg = this.pending;
    if (!msg) return;
    clearTimeout(this.retryTimer);
    const ws = this.ws;
    this.retryTimer = window.setTimeout(() => {
      if (this.ws === ws && ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
    }, ms + Math.random() * Math.min(ms, 1000));
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    this.setState(navigator.onLine === false ? 'offline' : 'reconnecting');
    const base = Math.min(10_000, 500 * 2 ** this.attempt);
    this.attempt++;
    const delay = base / 2 + Math.random() * (base / 2);
    clearTimeout(this.timer);
    this.timer = window.setTimeout(() => this.connect(), delay);
  }

  private onFrame(f: Record<string, unknown>): void {
    if (f.channel !== undefined && f.channel !== null && f.channel !== this.channel) return;
    switch (f.type) {
      case 'authenticated': {
        // Resubscribe with the cursor we have, if any: the gateway resumes from it.
        this.stats.auths++;
        this.subscribe();
        break;
      }
      case 'snapshot': {
        this.stats.snapshots++;
        this.cursor = String(f.cursor);
        this.attempt = 0;
        this.setState('live');
        this.pending = null;
        this.h.snapshot((f.cases as Case[]) ?? [], f.reset === true);
        if (typeof f.next === 'string') this.more(f.next);
        break;
      }
      case 'page': {
        this.pending = null;
        this.h.page?.((f.cases as Case[]) ?? []);
        if (typeof f.next === 'string') this.more(f.next);
        break;
      }
      case 'resumed': {
        this.stats.resumes++;
        this.attempt = 0;
        // The frames that follow are exactly the ones we missed, then live ones.
        this.setState('live');
        break;
      }
      case 'event': {
        const cur = String(f.cursor);
        if (this.cursor && cursorCmp(cur, this.cursor) <= 0) {
          this.stats.duplicatesDropped++;
          return;
        }
        this.cursor = cur;
        this.stats.events++;
        this.h.event(f.case as Case, f.event as CaseEventFrame);
        break;
      }
      case 'error':
        if (f.code === 'unauthenticated') return this.unauthorized();
        if (f.code === 'overloaded') return this.retryLater(Number(f.retry_after_ms ?? 1000));
        this.h.error?.(String(f.code), String(f.message ?? ''));
        break;
      default:
        break; // unsubscribed, or frames from a newer gateway
    }
  }
}

// Test hook: lets the browser tests cut every live socket to simulate a network drop.
declare global {
  interface Window {
    __whistle?: { dropSockets(): number; channels(): { channel: string; state: ConnState; stats: LiveChannel['stats'] }[] };
  }
}
window.__whistle = {
  dropSockets() {
    for (const c of live) c.drop();
    return live.size;
  },
  channels() {
    return [...live].map((c) => ({ channel: c.channel, state: c.state, stats: { ...c.stats } }));
  },
};
