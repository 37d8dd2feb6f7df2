import { expect, test, type Page } from '@playwright/test';
import { login, shot } from './helpers';

/** Content-Security-Policy violations the page reports, and requests that left PENNY's origin. */
function watch(page: Page, origin: string) {
  const violations: string[] = [];
  const foreign: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
  });
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (['http:', 'https:', 'ws:', 'wss:'].includes(u.protocol) && u.host !== new URL(origin).host) foreign.push(r.url());
  });
  return { violations, foreign };
}

test('the refresh token is an HttpOnly cookie, never in storage; the app and the API docs run under their CSP', async ({ page, context, baseURL }) => {
  const seen = watch(page, baseURL!);
  await login(page);
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage, ...sessionStorage }));
  expect(stored).not.toContain('rt_');
  const cookie = (await context.cookies()).find((c) => c.name === 'penny_refresh');
  expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/api/v1/auth/refresh' });
  expect(await page.evaluate(() => document.cookie)).not.toContain('penny_refresh');

  // A reload signs in again from the cookie alone.
  await page.reload();
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();

  // The API reference renders from PENNY's own copy of its script.
  await page.goto('/api/docs');
  await expect(page.getByText('PENNY API').first()).toBeVisible({ timeout: 20_000 });
  await shot(page, 'api-docs');

  expect(seen.violations).toEqual([]);
  expect(seen.foreign).toEqual([]);
});
