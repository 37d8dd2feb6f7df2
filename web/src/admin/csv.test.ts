import { describe, expect, it, vi } from 'vitest';
import { AdminApi, filenameFromDisposition } from '../api/admin';
import { ApiClient } from '../api/client';
import { ApiProblem } from '../api/problem';
import { downloadCsv } from './csv';

function client(handler: (url: string, headers: Headers) => Response) {
  const calls: { url: string; auth: string | null }[] = [];
  const fetchFn = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input);
    const headers = new Headers(init?.headers);
    if (url.endsWith('/auth/refresh')) {
      return new Response(JSON.stringify({ access_token: 'at-1', expires_in: 900 }), { status: 200 });
    }
    calls.push({ url, auth: headers.get('authorization') });
    return handler(url, headers);
  });
  let signedIn = true;
  const c = new ApiClient({ fetch: fetchFn as typeof fetch, store: { get: () => signedIn, set: (on) => (signedIn = on) } });
  return { api: new AdminApi(c), calls };
}

describe('filenameFromDisposition', () => {
  it('reads quoted, bare and RFC 5987 names and strips paths', () => {
    expect(filenameFromDisposition('attachment; filename="audit-acme-2025-01-02.csv"')).toBe('audit-acme-2025-01-02.csv');
    expect(filenameFromDisposition('attachment; filename=report.csv')).toBe('report.csv');
    expect(filenameFromDisposition("attachment; filename*=UTF-8''caf%C3%A9.csv")).toBe('café.csv');
    expect(filenameFromDisposition('attachment; filename="../../etc/passwd"')).toBe('.._.._etc_passwd');
    expect(filenameFromDisposition(null)).toBeNull();
    expect(filenameFromDisposition('inline')).toBeNull();
  });
});

describe('downloadCsv', () => {
  it('asks for format=csv with the bearer token and saves the blob under the server name', async () => {
    const { api, calls } = client(
      () =>
        new Response('key,label\n2025-01-01,\n', {
          status: 200,
          headers: { 'content-type': 'text/csv', 'content-disposition': 'attachment; filename="analytics-day.csv"' },
        }),
    );
    const save = vi.fn();
    const name = await downloadCsv(() => api.analyticsCsv({ from: '2025-01-01', to: '2025-01-07', groupBy: 'day' }), 'fallback.csv', save);
    expect(name).toBe('analytics-day.csv');
    expect(calls).toHaveLength(1);
    const url = new URL(calls[0]!.url, 'http://x');
    expect(url.pathname).toBe('/api/v1/admin/analytics');
    expect(Object.fromEntries(url.searchParams)).toEqual({ from: '2025-01-01', to: '2025-01-07', groupBy: 'day', format: 'csv' });
    expect(calls[0]!.auth).toBe('Bearer at-1');
    expect(save).toHaveBeenCalledTimes(1);
    const [blob, filename] = save.mock.calls[0] as [Blob, string];
    expect(filename).toBe('analytics-day.csv');
    expect(await blob.text()).toBe('key,label\n2025-01-01,\n');
  });

  it('falls back to the given name and passes the audit filters on', async () => {
    const { api, calls } = client(() => new Response('id\n', { status: 200, headers: { 'content-type': 'text/csv' } }));
    const save = vi.fn();
    const name = await downloadCsv(() => api.auditCsv({ action: 'user.', actor: 'a@b.test' }), 'audit.csv', save);
    expect(name).toBe('audit.csv');
    expect(calls[0]!.url).toBe('/api/v1/admin/audit?action=user.&actor=a%40b.test&format=csv');
    expect(save.mock.calls[0]![1]).toBe('audit.csv');
  });

  it('rejects with the problem and saves nothing when the server refuses', async () => {
    const { api } = client(
      () =>
        new Response(JSON.stringify({ title: 'Invalid field', status: 422, code: 'validation_failed', detail: 'at most 366 days' }), {
          status: 422,
          headers: { 'content-type': 'application/problem+json' },
        }),
    );
    const save = vi.fn();
    const err = await downloadCsv(() => api.analyticsCsv({ from: '2020-01-01', to: '2025-01-01', groupBy: 'day' }), 'x.csv', save).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiProblem);
    expect((err as ApiProblem).code).toBe('validation_failed');
    expect(save).not.toHaveBeenCalled();
  });
});
