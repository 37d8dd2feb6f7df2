import { describe, expect, it, vi } from 'vitest';
import type { StreamEvent } from '../chat/stream';
import { ChatSocket, SocketError, type SocketStatus } from './socket';

/** A scripted stand-in for the browser WebSocket. */
class FakeWs {
  static all: FakeWs[] = [];
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((m: { data: string }) => void) | null = null;
  onclose: ((e: { code: number; reason: string }) => void) | null = null;
  constructor(readonly url: string) {
    FakeWs.all.push(this);
    queueMicrotask(() => {
      this.readyState = 1;
      this.onopen?.();
    });
  }
  send(s: string) {
    this.sent.push(JSON.parse(s) as Record<string, unknown>);
  }
  close(code = 1000, reason = '') {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  serverSends(frame: Record<string, unknown>) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('ChatSocket', () => {
  it('authenticates, resumes, reconnects after a drop and resumes from the last seq', async () => {
    FakeWs.all = [];
    const events: StreamEvent[] = [];
    const statuses: SocketStatus[] = [];
    let lastSeq = 0;
    const onReady = vi.fn((server: number, reconnect: boolean) => (reconnect ? lastSeq : server));
    const socket = new ChatSocket({
      url: 'ws://test/ws/chat/c1',
      getToken: async () => 'tok',
      refreshToken: async () => true,
      onReady,
      onEvent: (e) => {
        events.push(e);
        lastSeq = e.seq;
      },
      onStatus: (s) => statuses.push(s),
      WebSocketImpl: FakeWs as unknown as typeof WebSocket,
      backoff: () => 0,
    });
    socket.start();
    await tick();
    const first = FakeWs.all[0]!;
    expect(first.sent[0]).toEqual({ type: 'auth', token: 'tok' });
    first.serverSends({ type: 'ready', conversationId: 'c1', lastSeq: 7 });
    await tick();
    expect(first.sent[1]).toEqual({ type: 'resume', after: 7 });
    expect(socket.state).toBe('open');

    const sent = socket.send({ content: 'hi', toolsAllowed: [] });
    const id = first.sent[2]!.id;
    expect(first.sent[2]).toEqual({ type: 'send', id, content: 'hi', toolsAllowed: [] });
    first.serverSends({ type: 'accepted', messageId: 'u', assistantMessageId: 'a', runId: 'r', requestId: id });
    await expect(sent).resolves.toEqual({ messageId: 'u', assistantMessageId: 'a', runId: 'r' });
    first.serverSends({ type: 'message.delta', seq: 8, runId: 'r', messageId: 'a', text: 'x' });
    first.serverSends({ type: 'message.delta', seq: 9, runId: 'r', messageId: 'a', text: 'y' });

    first.close(1006, 'network');
    expect(socket.state).toBe('offline');
    await tick();
    await tick();
    const second = FakeWs.all[1]!;
    expect(second.sent[0]).toEqual({ type: 'auth', token: 'tok' });
    second.serverSends({ type: 'ready', conversationId: 'c1', lastSeq: 12 });
    // Live from `ready` on: the server's stream starts before the client's resume, which
    // replays from 9; this early event is ignored, not applied ahead of 10..12.
    second.serverSends({ type: 'message.delta', seq: 13, runId: 'r', messageId: 'a', text: 'z' });
    await tick();
    expect(onReady).toHaveBeenLastCalledWith(12, true);
    expect(second.sent[1]).toEqual({ type: 'resume', after: 9 });
    expect(statuses).toEqual(['open', 'offline', 'open']);
    expect(events.map((e) => e.seq)).toEqual([8, 9]);
    socket.stop();
  });

  it('a send while offline is refused, not queued', async () => {
    const socket = new ChatSocket({
      url: 'ws://x',
      getToken: async () => 't',
      refreshToken: async () => true,
      onReady: () => 0,
      onEvent: () => undefined,
      WebSocketImpl: FakeWs as unknown as typeof WebSocket,
    });
    await expect(socket.send({ content: 'x' })).rejects.toMatchObject({ code: 'offline' });
  });

  it('refreshes the token once when the server refuses it (4401)', async () => {
    FakeWs.all = [];
    let token = 'old';
    const refreshToken = vi.fn(async () => {
      token = 'new';
      return true;
    });
    const socket = new ChatSocket({
      url: 'ws://x',
      getToken: async () => token,
      refreshToken,
      onReady: () => 0,
      onEvent: () => undefined,
      WebSocketImpl: FakeWs as unknown as typeof WebSocket,
      backoff: () => 0,
    });
    socket.start();
    await tick();
    FakeWs.all[0]!.close(4401, 'unauthenticated');
    await tick();
    await tick();
    expect(refreshToken).toHaveBeenCalledTimes(1);
    expect(FakeWs.all[1]!.sent[0]).toEqual({ type: 'auth', token: 'new' });
    socket.stop();
  });

  it('settles each send and cancel by the requestId of its reply, whatever the order', async () => {
    FakeWs.all = [];
    const unrelated: SocketError[] = [];
    const socket = new ChatSocket({
      url: 'ws://x',
      getToken: async () => 't',
      refreshToken: async () => true,
      onReady: () => 0,
      onEvent: () => undefined,
      onError: (e) => unrelated.push(e),
      WebSocketImpl: FakeWs as unknown as typeof WebSocket,
    });
    socket.start();
    await tick();
    const ws = FakeWs.all[0]!;
    ws.serverSends({ type: 'ready', conversationId: 'c1', lastSeq: 0 });
    await tick();

    const first = socket.send({ content: 'one' });
    const second = socket.send({ content: 'two', model: 'gone' });
    const stop = socket.cancel('r1');
    const [a, b, c] = ws.sent.slice(2).map((f) => f.id as string);
    expect(new Set([a, b, c]).size).toBe(3);
    expect(ws.sent.slice(2).map((f) => f.type)).toEqual(['send', 'send', 'cancel']);

    // The second send's error comes first: it rejects the second send, not the first.
    ws.serverSends({ type: 'error', code: 'validation_failed', message: 'no such model', field: 'model', requestId: b });
    await expect(second).rejects.toMatchObject({ code: 'validation_failed', message: 'no such model', requestId: b });
    ws.serverSends({ type: 'cancelled', runId: 'r1', requestId: c });
    await expect(stop).resolves.toBeUndefined();
    // An error that answers no request of ours goes to onError and settles nothing.
    ws.serverSends({ type: 'error', code: 'invalid_frame', message: 'odd' });
    ws.serverSends({ type: 'accepted', messageId: 'u', assistantMessageId: 'a', runId: 'r', requestId: 'someone-else' });
    expect(unrelated.map((e) => e.code)).toEqual(['invalid_frame']);
    ws.serverSends({ type: 'accepted', messageId: 'u', assistantMessageId: 'a', runId: 'r', requestId: a });
    await expect(first).resolves.toEqual({ messageId: 'u', assistantMessageId: 'a', runId: 'r' });

    // A request still open when the line drops is rejected.
    const lost = socket.send({ content: 'three' });
    ws.close(1006, 'network');
    await expect(lost).rejects.toMatchObject({ code: 'offline' });
    socket.stop();
  });
});
