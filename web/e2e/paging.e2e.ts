import { expect, test, type APIRequestContext, type Page } from '@playwright/test';
import { apiToken, assistantMessages, echoWords, login, shot, userMessages, waitIdle } from './helpers';

/** A new conversation with `exchanges` questions answered by the fake model, sent over the API. */
async function seed(request: APIRequestContext, token: string, exchanges: number, tag: string): Promise<string> {
  const headers = { authorization: `Bearer ${token}` };
  const created = await request.post('/api/v1/conversations', { headers, data: { title: `Paging ${tag}` } });
  expect(created.status(), await created.text()).toBe(201);
  const { id } = (await created.json()) as { id: string };
  for (let i = 0; i < exchanges; i++) {
    // With `accept: text/event-stream` the answer comes back when the run has ended.
    const r = await request.post(`/api/v1/chat/${id}/messages`, {
      headers: { ...headers, accept: 'text/event-stream' },
      data: { content: `${tag} ${i} [[tokens=1 delay_ms=0]]` },
    });
    expect(r.status()).toBe(200);
    expect(await r.text()).toContain('run.completed');
  }
  return id;
}

const messageList = (page: Page) => page.getByRole('log');
const scrollToTop = (page: Page) => messageList(page).evaluate((el) => el.scrollTo({ top: 0 }));

test('a 1,000-message chat opens on its newest 100; scrolling up loads older pages in place', async ({ page, request }) => {
  test.setTimeout(180_000);
  const token = await apiToken(request);
  const id = await seed(request, token, 500, 'q');

  const listed = await request.get(`/api/v1/conversations/${id}/messages?limit=100`, { headers: { authorization: `Bearer ${token}` } });
  expect(listed.headers()['x-has-more']).toBe('true');
  expect(((await listed.json()) as unknown[]).length).toBe(100);

  const pages: string[] = [];
  page.on('request', (r) => {
    if (r.url().includes(`/conversations/${id}/messages`)) pages.push(new URL(r.url()).search);
  });
  await login(page);
  const opening = Date.now();
  await page.goto(`/c/${id}`);
  await expect(userMessages(page).last()).toContainText('q 499');
  // A figure for the closing note, not a timed assertion (shared machines are noisy).
  console.log(`figure: a 1,000-message chat showed its newest message ${Date.now() - opening} ms after navigation`);
  expect(pages).toEqual(['?limit=100']);
  // Virtualized: a handful of the 100 are in the DOM.
  expect(await page.locator('article.msg').count()).toBeLessThan(40);

  // To the top of the newest page: the next 100 load, and what was at the top stays put.
  await scrollToTop(page);
  const older = page.getByRole('button', { name: 'Load older messages' });
  const anchor = userMessages(page).filter({ hasText: 'q 450 ' });
  await expect(userMessages(page).filter({ hasText: 'q 449 ' })).toHaveCount(1);
  expect(pages).toHaveLength(2);
  expect(pages[1]).toContain('before=');
  expect(pages[1]).toContain('limit=100');
  await expect(anchor).toBeInViewport();
  const top = await messageList(page).evaluate((el) => el.scrollTop);
  expect(top, 'the view did not jump to the top of the older page').toBeGreaterThan(1000);
  await shot(page, 'paging-older');

  // Page by page up to the first message; then there is nothing more to load.
  for (let n = 3; n <= 10; n++) {
    await scrollToTop(page);
    await expect.poll(() => pages.length).toBe(n);
    await expect(page.getByText('Loading older messages…')).toHaveCount(0);
  }
  await scrollToTop(page);
  await expect(userMessages(page).filter({ hasText: 'q 0 ' })).toBeInViewport();
  await expect(older).toHaveCount(0);
  expect(pages).toHaveLength(10);
  await shot(page, 'paging-first');
});

test('opening a chat while its answer streams resumes from that run, not from the start', async ({ page, request }) => {
  const token = await apiToken(request);
  const id = await seed(request, token, 3, 'r');
  const resumes: number[] = [];
  page.on('websocket', (ws) =>
    ws.on('framesent', (f) => {
      const frame = JSON.parse(String(f.payload)) as { type?: string; after?: number };
      if (frame.type === 'resume') resumes.push(frame.after ?? -1);
    }),
  );
  await login(page);
  const message = 'Slow one [[tokens=40 delay_ms=60]]';
  const sent = await request.post(`/api/v1/chat/${id}/messages`, { headers: { authorization: `Bearer ${token}` }, data: { content: message } });
  expect(sent.status()).toBe(202);
  const { runId } = (await sent.json()) as { runId: string };
  const listed = (await (
    await request.get(`/api/v1/conversations/${id}/messages`, { headers: { authorization: `Bearer ${token}` } })
  ).json()) as { run_id: string | null; run_started_seq: number | null }[];
  const streaming = listed.at(-1)!;
  expect(streaming.run_id).toBe(runId);
  expect(streaming.run_started_seq).toBeGreaterThan(1);

  await page.goto(`/c/${id}`);
  await expect(page.locator('article.msg.streaming')).toHaveCount(1);
  await waitIdle(page);
  expect(resumes[0]).toBe(streaming.run_started_seq! - 1);
  await expect(assistantMessages(page).last().locator('.markdown')).toHaveText(echoWords(message, 40).join(' '));
});
