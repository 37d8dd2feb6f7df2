import type { StreamEvent } from '../chat/stream';

export type SocketStatus = 'connecting' | 'open' | 'offline' | 'closed';

export interface SendFrame {
  content: string;
  /** Answer below this message; `null`: a new first message; omitted: the current leaf. */
  parentId?: string | null;
  model?: string;
  toolsAllowed?: string[];
  /** Ids of the caller's uploads to attach. */
  attachments?: string[];
  /** Ids of knowledge collections to answer from (searched by `search_documents`). */
  collections?: string[];
  /** Answer the question `parentId` names again (a sibling answer); `content` stays empty. */
  regenerate?: boolean;
}

export interface Accepted {
  messageId: string;
  assistantMessageId: string;
  runId: string;
}

export class SocketError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** The id of the request (send, cancel) this error answers, when it answers one. */
    readonly requestId?: string,
  ) {
    super(message);
    this.name = 'SocketError';
  }
}

export interface ChatSocketOptions {
  url: string;
  /** A current access token. */
  getToken: () => Promise<string>;
  /** Refreshes the access token after the server refused it (4401); false = signed out. */
  refreshToken: () => Promise<boolean>;
  /**
   * Called on every `ready` (first connect and each reconnect) with the server's lastSeq;
   * returns the seq to resume after.
   */
  onReady: (serverLastSeq: number, reconnect: boolean) => Promise<number> | number;
  onEvent: (e: StreamEvent) => void;
  onStatus?: (s: SocketStatus) => void;
  /** Protocol errors that are not replies to a send/cancel (their frame carries no known `requestId`). */
  onError?: (e: SocketError) => void;
  WebSocketImpl?: typeof WebSocket;
  pingEveryMs?: number;
  backoff?: (attempt: number) => number;
}

type Pending =
  | { kind: 'send'; resolve: (a: Accepted) => void; reject: (e: Error) => void }
  | { kind: 'cancel'; resolve: () => void; reject: (e: Error) => void };

let requestCounter = 0;
/** An id for a client frame, unique on this page (the server echoes it as `requestId`). */
function nextRequestId(): string {
  requestCounter += 1;
  return `r${requestCounter.toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

const defaultBackoff = (n: number) => Math.min(10_000, 500 * 2 ** n) * (0.75 + Math.random() * 0.5);

/**
 * One conversation's WebSocket (`/ws/chat/:id`): authenticates, resumes the event stream from
 * the last seq seen, reconnects with backoff after a drop, keeps the line alive with pings.
 * Each send and cancel carries an `id`; its reply (`accepted`, `cancelled` or `error`) echoes
 * it as `requestId`, which settles that request's promise and no other.
 */
export class ChatSocket {
  private ws: WebSocket | null = null;
  private status: SocketStatus = 'connecting';
  private attempt = 0;
  private connectedOnce = false;
  private stopped = false;
  private pending = new Map<string, Pending>();
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private authRetried = false;
  /**
   * The current socket's `resume` has gone out. The server streams from `ready` on, but this
   * client decides where to resume only after `onReady`; what comes before its `resume` is
   * sent again from there (the socket's first resume replays), so it is ignored.
   */
  private resumed = false;

  constructor(private readonly opts: ChatSocketOptions) {}

  get state(): SocketStatus {
    return this.status;
  }

  start(): void {
    this.stopped = false;
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= 1) ws.close(1000, 'bye');
    this.failPending(new SocketError('closed', 'connection closed'));
    this.setStatus('closed');
  }

  /** Drops the connection as if the network failed (reconnects by itself). For tests/dev. */
  drop(): void {
    this.ws?.close(4000, 'dropped by client');
  }

  send(frame: SendFrame): Promise<Accepted> {
    return new Promise((resolve, reject) => {
      const id = nextRequestId();
      if (!this.write({ type: 'send', id, ...frame })) {
        reject(new SocketError('offline', 'Not connected: the message was not sent.'));
        return;
      }
      this.pending.set(id, { kind: 'send', resolve, reject });
    });
  }

  cancel(runId: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const id = nextRequestId();
      if (!this.write({ type: 'cancel', id, runId })) {
        reject(new SocketError('offline', 'Not connected.'));
        return;
      }
      this.pending.set(id, { kind: 'cancel', resolve, reject });
    });
  }

  private write(frame: Record<string, unknown>): boolean {
    if (this.status !== 'open' || !this.ws || this.ws.readyState !== 1) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  private setStatus(s: SocketStatus): void {
    if (this.status === s) return;
    this.status = s;
    this.opts.onStatus?.(s);
  }

  private failPending(e: Error): void {
    const p = [...this.pending.values()];
    this.pending.clear();
    p.forEach((x) => x.reject(e));
  }

  /** The request a reply answers (taken out of the pending ones), by its `requestId`. */
  private settle(f: Record<string, unknown>): Pending | undefined {
    if (typeof f.requestId !== 'string') return undefined;
    const p = this.pending.get(f.requestId);
    this.pending.delete(f.requestId);
    return p;
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    this.setStatus(this.connectedOnce ? 'offline' : 'connecting');
    let token: string;
    try {
      token = await this.opts.getToken();
    } catch {
      this.scheduleReconnect();
      return;
    }
    if (this.stopped) return;
    const Impl = this.opts.WebSocketImpl ?? WebSocket;
    const ws = new Impl(this.opts.url);
    this.ws = ws;
    this.resumed = false;
    ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token }));
    ws.onmessage = (m) => {
      if (this.ws !== ws) return;
      let frame: Record<string, unknown>;
      try {
        frame = JSON.parse(String(m.data)) as Record<string, unknown>;
      } catch {
        return;
      }
      void this.handle(ws, frame);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      clearInterval(this.pingTimer);
      this.failPending(new SocketError('offline', 'The connection dropped before the server answered.'));
      if (this.stopped) return;
      if (ev.code === 4404 || ev.code === 4403) {
        this.setStatus('closed');
        this.opts.onError?.(new SocketError(ev.code === 4404 ? 'not_found' : 'suspended', ev.reason || 'closed'));
        return;
      }
      if (ev.code === 4401 && !this.authRetried) {
        this.authRetried = true;
        void this.opts.refreshToken().then((ok) => {
          if (ok) void this.connect();
          else this.setStatus('closed');
        });
        return;
      }
      this.scheduleReconnect();
    };
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    this.setStatus(this.connectedOnce ? 'offline' : 'connecting');
    const delay = (this.opts.backoff ?? defaultBackoff)(this.attempt++);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.connect(), delay);
  }

  private async handle(ws: WebSocket, f: Record<string, unknown>): Promise<void> {
    const type = f.type;
    if (typeof f.seq === 'number') {
      if (this.resumed) this.opts.onEvent(f as unknown as StreamEvent);
      return;
    }
    switch (type) {
      case 'ready': {
        const reconnect = this.connectedOnce;
        const after = await this.opts.onReady(Number(f.lastSeq ?? 0), reconnect);
        if (this.ws !== ws) return;
        ws.send(JSON.stringify({ type: 'resume', after }));
        this.resumed = true;
        this.connectedOnce = true;
        this.attempt = 0;
        this.authRetried = false;
        this.setStatus('open');
        clearInterval(this.pingTimer);
        this.pingTimer = setInterval(() => this.write({ type: 'ping' }), this.opts.pingEveryMs ?? 25_000);
        return;
      }
      case 'accepted': {
        const p = this.settle(f);
        if (p?.kind === 'send') {
          p.resolve({
            messageId: String(f.messageId),
            assistantMessageId: String(f.assistantMessageId),
            runId: String(f.runId),
          });
        }
        return;
      }
      case 'cancelled': {
        const p = this.settle(f);
        if (p?.kind === 'cancel') p.resolve();
        return;
      }
      case 'error': {
        const requestId = typeof f.requestId === 'string' ? f.requestId : undefined;
        const err = new SocketError(String(f.code ?? 'error'), String(f.message ?? 'error'), requestId);
        const p = this.settle(f);
        if (p) p.reject(err);
        else this.opts.onError?.(err);
        return;
      }
      default:
        return; // pong and unknown frames
    }
  }
}

export function chatSocketUrl(conversationId: string, loc: Location = window.location): string {
  const proto = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${loc.host}/ws/chat/${conversationId}`;
}
