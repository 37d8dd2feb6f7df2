import { expect, test } from '@playwright/test';
import { ADMIN, fillLogin, shot } from './helpers';

test('log in, a wrong password shows a readable error, log out', async ({ page }) => {
  // A wrong password: a readable message, no blank screen, still on the login page.
  await fillLogin(page, ADMIN.email, 'not-the-password');
  const error = page.getByRole('alert').filter({ hasText: 'not right' });
  await expect(error).toBeVisible();
  await expect(error).toHaveText('The email, password or workspace is not right.');
  await expect(page).toHaveURL(/\/login$/);
  await shot(page, 'login-wrong-password');

  // The right one: the app shell with the user.
  await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
  await expect(page.getByTitle(ADMIN.email)).toContainText('admin'); // the user label: name · workspace · role
  await expect(page.getByRole('navigation', { name: 'Conversations' })).toBeVisible();
  await shot(page, 'login-signed-in');

  // A reload keeps the session (refresh token).
  await page.reload();
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();

  // Sign out: back to the login page, and a reload does not sign in again.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  await page.reload();
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Sign out' })).toHaveCount(0);
  await shot(page, 'login');
});
