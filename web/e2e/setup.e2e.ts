import { expect, test } from '@playwright/test';
import { shot } from './helpers';

// A second server that scripts/e2e.sh started on its own database without
// PENNY_ADMIN_PASSWORD; this is the set-up link it printed.
const SETUP_URL = process.env.PENNY_SETUP_URL ?? '';

test.skip(!SETUP_URL, 'needs PENNY_SETUP_URL: run through scripts/e2e.sh');

test('first run: the login page points to the set-up link, which creates the admin and opens the chat', async ({ page }) => {
  const origin = new URL(SETUP_URL).origin;
  const owner = { email: 'owner@penny.test', name: 'Ada Owner', password: 'owner-password-1' };

  // Before set-up, signing in cannot work; the login page says what to do instead.
  await page.goto(`${origin}/login`);
  const notice = page.getByRole('status').filter({ hasText: 'no administrator yet' });
  await expect(notice).toContainText('penny serve');
  await shot(page, 'setup-login-notice');

  // A wrong token is refused with a readable message, and the form stays.
  await page.goto(`${origin}/setup#setup_not-the-printed-one`);
  await expect(page.getByRole('heading', { name: 'Set up PENNY' })).toBeVisible();
  await page.getByLabel('Email', { exact: true }).fill(owner.email);
  await page.getByLabel('Name', { exact: true }).fill(owner.name);
  await page.getByLabel('Password', { exact: true }).fill(owner.password);
  await page.getByLabel('Confirm password', { exact: true }).fill(owner.password);
  await page.getByRole('button', { name: 'Create administrator' }).click();
  await expect(page.getByRole('alert')).toContainText('not valid');

  // The printed link: the admin is created, signed in, and lands in the chat.
  await page.goto(SETUP_URL);
  await page.reload(); // a new fragment alone does not reload the page
  await expect(page.getByRole('heading', { name: 'Set up PENNY' })).toBeVisible();
  await page.getByLabel('Email', { exact: true }).fill(owner.email);
  await page.getByLabel('Name', { exact: true }).fill(owner.name);
  await page.getByLabel('Password', { exact: true }).fill(owner.password);
  await page.getByLabel('Confirm password', { exact: true }).fill(owner.password);
  await shot(page, 'setup-form');
  await page.getByRole('button', { name: 'Create administrator' }).click();
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
  await expect(page.getByRole('navigation', { name: 'Conversations' })).toBeVisible();
  await expect(page.getByTitle(owner.email)).toContainText('admin');
  await shot(page, 'setup-signed-in');

  // The link worked once: opening it again says so.
  await page.goto(SETUP_URL);
  await expect(page.getByRole('heading', { name: 'Already set up' })).toBeVisible();
  await shot(page, 'setup-already-done');

  // Signing out and in again works, and the login page has no notice any more.
  await page.goto(`${origin}/`);
  const asked = page.waitForResponse((r) => r.url().endsWith('/api/v1/setup') && r.request().method() === 'GET');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  expect(await (await asked).json()).toEqual({ needed: false });
  await expect(page.getByText('no administrator yet')).toHaveCount(0);
  await page.getByLabel('Email', { exact: true }).fill(owner.email);
  await page.getByLabel('Password', { exact: true }).fill(owner.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
});
