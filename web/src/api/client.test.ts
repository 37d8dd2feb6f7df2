import { describe, expect, it, vi } from 'vitest';
import { ApiClient, type SessionStore } from './client';
import { ApiProblem } from './problem';

function memoryStore(initial: boolean): SessionStore & { value: boolean } {
  const s = {
    value: initial,
    get: () => s.value,
    set: (on: boolean) => {
      s.value = on;
    },
  };
  return s;
}

const json = (status: number, body: unknown, type = 'application/json') =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': type } });

/**
 * A fake server: access tokens `at-N`; the refresh token is the browser's cookie, which the
 * server rotates on each refresh and reads only with `X-Penny-Session: cookie`.
 */
function fakeServer(opts: { refreshFails?: boolean } = {}) {
  let generation = 0;
  const calls: string[] = [];
  let release: () => void = () => undefined;
  const refreshGate = new Promise<void>((r) => (release = r));
  const fetchFn = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input);
    const auth = new Headers(init?.headers).get('authorization');
    calls.push(`${init?.method ?? 'GET'} ${url}`);
    if (url.endsWith('/auth/refresh')) {
      await refreshGate;
      const cookieMode = new Headers(init?.headers).get('x-penny-session') === 'cookie';
      expect(String(init?.body)).toBe('{}');
      if (opts.refreshFails || !cookieMode || init?.credentials !== 'same-origin') {
        return json(401, { type: 'x', title: 'Unauthorized', status: 401, detail: 'refresh token invalid', code: 'unauthenticated' }, 'application/problem+json');
      }
      generation += 1;
      return json(200, { access_token: `at-${generation}`, expires_in: 900 });
    }
    if (auth !== `Bearer at-${generation}` || generation === 0) {
      return json(401, { type: 'x', title: 'Unauthorized', status: 401, detail: 'token expired', code: 'unauthenticated' }, 'application/problem+json');
    }
    if (url.includes('/missing')) {
      return json(404, { type: 'https://penny.dev/problems/not_found', title: 'Not Found', status: 404, detail: 'no such conversation', code: 'not_found' }, 'application/problem+json');
    }
    return json(200, { ok: true, url });
  });
  return { fetchFn, calls, release };
}

describe('ApiClient refresh', () => {
  it('on 401 refreshes once and retries the request', async () => {
    const server = fakeServer();
    server.release();
    const store = memoryStore(true);
    const client = new ApiClient({ fetch: server.fetchFn as typeof fetch, store });
    const r = await client.json<{ ok: boolean }>('/api/v1/me');
    expect(r.ok).toBe(true);
    expect(server.calls.filter((c) => c.includes('/auth/refresh'))).toHaveLength(1);
    expect(store.value).toBe(true);
    expect(client.token).toBe('at-1');
  });

  it('an expired access token: 401, one refresh, retry with the new token', async () => {
    const server = fakeServer();
    server.release();
    const store = memoryStore(true);
    const client = new ApiClient({ fetch: server.fetchFn as typeof fetch, store });
    await client.json('/api/v1/me'); // at-1
    // The server moves on (e.g. the token expired): only a fresh pair works now.
    await client.refresh(); // at-2 held by the client
    (client as unknown as { accessToken: string }).accessToken = 'at-stale';
    server.calls.length = 0;
    await client.json('/api/v1/conversations');
    expect(server.calls).toEqual(['GET /api/v1/conversations', 'POST /api/v1/auth/refresh', 'GET /api/v1/conversations']);
  });

  it('concurrent 401s share one refresh', async () => {
    const server = fakeServer();
    const store = memoryStore(true);
    const client = new ApiClient({ fetch: server.fetchFn as typeof fetch, store });
    (client as unknown as { accessToken: string }).accessToken = 'at-old';
    const all = Promise.all([client.json('/api/v1/a'), client.json('/api/v1/b'), client.json('/api/v1/c')]);
    await new Promise((r) => setTimeout(r, 10));
    server.release();
    const results = await all;
    expect(results).toHaveLength(3);
    expect(server.calls.filter((c) => c.includes('/auth/refresh'))).toHaveLength(1);
    expect(store.value).toBe(true);
  });

  it('a failed refresh ends the session', async () => {
    const server = fakeServer({ refreshFails: true });
    server.release();
    const store = memoryStore(true);
    const client = new ApiClient({ fetch: server.fetchFn as typeof fetch, store });
    const sessions: boolean[] = [];
    client.onSessionChange((s) => sessions.push(s));
    (client as unknown as { accessToken: string }).accessToken = 'at-old';
    const err = await client.json('/api/v1/me').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiProblem);
    expect((err as ApiProblem).status).toBe(401);
    expect(store.value).toBe(false);
    expect(client.token).toBeNull();
    expect(client.hasSession()).toBe(false);
    expect(sessions).toEqual([false]);
  });

  it('turns problem+json into a typed ApiProblem', async () => {
    const server = fakeServer();
    server.release();
    const client = new ApiClient({ fetch: server.fetchFn as typeof fetch, store: memoryStore(true) });
    const err = (await client.json('/api/v1/missing').catch((e: unknown) => e)) as ApiProblem;
    expect(err).toBeInstanceOf(ApiProblem);
    expect(err).toMatchObject({ status: 404, title: 'Not Found', detail: 'no such conversation', code: 'not_found' });
  });

  it('a network failure is an ApiProblem with status 0', async () => {
    const client = new ApiClient({
      fetch: (async () => {
        throw new TypeError('Failed to fetch');
      }) as typeof fetch,
      store: memoryStore(false),
    });
    const err = (await client.json('/api/v1/me', { anonymous: true }).catch((e: unknown) => e)) as ApiProblem;
    expect(err.code).toBe('network');
    expect(err.status).toBe(0);
  });

  it('logs in and out in cookie mode: the refresh token is never held by script', async () => {
    const seen: { url: string; mode: string | null; auth: string | null }[] = [];
    const fetchFn = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const h = new Headers(init?.headers);
      seen.push({ url: String(input), mode: h.get('x-penny-session'), auth: h.get('authorization') });
      if (String(input).endsWith('/auth/login')) return json(200, { access_token: 'at-1', expires_in: 900 });
      return new Response(null, { status: 204 });
    });
    const store = memoryStore(false);
    const client = new ApiClient({ fetch: fetchFn as typeof fetch, store });
    await client.login('a@example.com', 'pw', 'default');
    expect(store.value).toBe(true);
    await client.logout();
    expect(store.value).toBe(false);
    expect(seen).toEqual([
      { url: '/api/v1/auth/login', mode: 'cookie', auth: null },
      { url: '/api/v1/auth/logout', mode: 'cookie', auth: 'Bearer at-1' },
    ]);
  });
});
