import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, type APIRequestContext, type Locator, type Page } from '@playwright/test';

/** Screenshots go here (web/e2e/output/<name>.png); scripts/e2e.sh empties it first. */
export const OUTPUT_DIR = fileURLToPath(new URL('./output/', import.meta.url));

export const ADMIN = {
  email: process.env.PENNY_ADMIN_EMAIL ?? 'admin@penny.local',
  password: process.env.PENNY_ADMIN_PASSWORD ?? 'admin-password-1',
};
export const TENANT = process.env.PENNY_TENANT ?? 'default';

export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(OUTPUT_DIR, { recursive: true });
  await page.screenshot({ path: `${OUTPUT_DIR}${name}.png` });
}

export async function fillLogin(page: Page, email: string, password: string): Promise<void> {
  await page.goto('/login');
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

export async function login(page: Page, email = ADMIN.email, password = ADMIN.password): Promise<void> {
  await fillLogin(page, email, password);
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
}

/** The composer's text box. */
export const composer = (page: Page): Locator => page.getByLabel('Message', { exact: true });

/** Starts a new chat and waits until its WebSocket is open (the composer is enabled). */
export async function newChat(page: Page): Promise<void> {
  await page.getByRole('button', { name: '+ New chat' }).click();
  await expect(page).toHaveURL(/\/c\/[0-9a-f-]+$/);
  await expect(composer(page)).toHaveAttribute('placeholder', 'Message PENNY…');
}

export async function send(page: Page, text: string): Promise<void> {
  await composer(page).fill(text);
  await composer(page).press('Enter');
}

export const assistantMessages = (page: Page): Locator => page.getByRole('article', { name: 'Assistant said' });
export const userMessages = (page: Page): Locator => page.getByRole('article', { name: 'You said' });

/** Waits until no answer is running: the Send button is back and nothing streams. */
export async function waitIdle(page: Page, timeout = 20_000): Promise<void> {
  await expect(page.getByRole('button', { name: 'Send', exact: true })).toBeVisible({ timeout });
  await expect(page.locator('article.msg.streaming')).toHaveCount(0, { timeout });
}

/**
 * The fake provider's answer to a message without tool directives: `Echo: <words of the
 * message without directives>` padded with `t<N>` words up to the token count, one word per
 * token when the message has fewer words than tokens (crates/penny-fake-llm/src/script.rs).
 */
export function echoWords(text: string, tokens: number): string[] {
  const clean = text.replace(/\[\[.*?\]\]/g, ' ').split(/\s+/).filter(Boolean);
  const words = ['Echo:', ...clean];
  while (words.length < tokens) words.push(`t${words.length + 1}`);
  return words;
}

/** An access token for the API, by logging in. */
export async function apiToken(request: APIRequestContext, email = ADMIN.email, password = ADMIN.password): Promise<string> {
  const r = await request.post('/api/v1/auth/login', { data: { email, password, tenant: TENANT } });
  expect(r.status(), await r.text()).toBe(200);
  return ((await r.json()) as { access_token: string }).access_token;
}
