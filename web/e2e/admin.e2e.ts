import { readFileSync } from 'node:fs';
import { expect, test, type APIRequestContext, type Page } from '@playwright/test';
import { ADMIN, apiToken, assistantMessages, echoWords, login, newChat, send, shot, waitIdle } from './helpers';

/** The admin console's section, by its left-nav link. */
async function openSection(page: Page, name: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Admin' }).getByRole('link', { name, exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name })).toBeVisible();
}

interface Totals {
  conversations: number;
  messages: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

async function todaysTotals(request: APIRequestContext, token: string): Promise<Totals> {
  const day = new Date().toISOString().slice(0, 10);
  const r = await request.get(`/api/v1/admin/analytics?from=${day}&to=${day}&groupBy=day`, { headers: { authorization: `Bearer ${token}` } });
  expect(r.status(), await r.text()).toBe(200);
  return ((await r.json()) as { totals: Totals }).totals;
}

test('an admin invites a user, who sets a password and lands in the chat; a role change shows in the audit log', async ({ page, browser }) => {
  test.setTimeout(60_000);
  await login(page);
  await page.getByRole('link', { name: 'Admin', exact: true }).click();
  await expect(page).toHaveURL(/\/admin$/);
  await openSection(page, 'Users');

  // Invite: the dialog shows the one-time link once, as an absolute address.
  const email = `invitee-${Date.now()}@penny.test`;
  await page.getByRole('button', { name: 'Invite user' }).click();
  const dialog = page.getByRole('dialog', { name: 'Invite a user' });
  await dialog.getByLabel('Email', { exact: true }).fill(email);
  await dialog.getByLabel('Role', { exact: true }).selectOption('creator');
  await dialog.getByRole('button', { name: 'Create invitation' }).click();
  const created = page.getByRole('dialog', { name: 'Invitation created' });
  const linkField = created.getByLabel('One-time link');
  await expect(linkField).toHaveValue(/\/invite#\S+$/);
  const link = await linkField.inputValue();
  expect(link.startsWith(`${new URL(page.url()).origin}/invite#`)).toBe(true);
  await expect(created.getByRole('button', { name: 'Copy' })).toBeVisible();
  await shot(page, 'admin-invite');
  await created.getByRole('button', { name: 'Done' }).click();
  const row = page.locator('tr', { has: page.getByRole('rowheader', { name: email }) });
  await expect(row).toBeVisible();

  // The invited user, in a browser of their own: the link needs no login.
  const other = await browser.newContext();
  const invitee = await other.newPage();
  await invitee.goto(link);
  await expect(invitee.getByRole('heading', { name: /^Join / })).toBeVisible();
  await expect(invitee.getByText(email).first()).toBeVisible();
  await invitee.getByLabel('Password', { exact: true }).fill('invitee-password-1');
  await invitee.getByLabel('Confirm password', { exact: true }).fill('invitee-password-1');
  await shot(invitee, 'invite-accept');
  await invitee.getByRole('button', { name: 'Set password and join' }).click();
  await expect(invitee.getByRole('button', { name: 'Sign out' })).toBeVisible();
  await expect(invitee).toHaveURL(/\/$/);
  await expect(invitee.getByTitle(email)).toContainText('creator');
  await expect(invitee.getByRole('button', { name: '+ New chat' })).toBeVisible();
  await expect(invitee.getByRole('link', { name: 'Admin', exact: true })).toHaveCount(0); // a creator is not staff
  await shot(invitee, 'invite-landed');

  // The link was for one use only.
  await invitee.goto(link);
  await expect(invitee.getByRole('heading', { name: 'Link not valid' })).toBeVisible();
  await expect(invitee.getByRole('link', { name: 'Go to sign in' })).toBeVisible();
  await shot(invitee, 'invite-used');
  await other.close();

  // The admin changes the role; the table and a notice confirm it.
  await page.reload();
  await expect(row.getByRole('cell').nth(2)).toContainText('active'); // name, role, status…
  await row.getByLabel(`Role of ${email}`).selectOption('viewer');
  await expect(page.getByRole('status').filter({ hasText: `${email} is now a viewer` })).toBeVisible();
  await page.reload();
  await expect(row.getByLabel(`Role of ${email}`)).toHaveValue('viewer');

  // The audit log has the change (user.update, role viewer) and the invitation.
  await openSection(page, 'Audit log');
  await page.getByLabel('Action', { exact: true }).fill('user.');
  await page.getByRole('button', { name: 'Apply filters' }).click();
  const update = page.locator('tbody tr', { hasText: 'user.update' }).first();
  await expect(update).toBeVisible();
  await expect(update).toContainText(ADMIN.email);
  await expect(page.locator('tbody tr', { hasText: 'user.invite_accept' }).first()).toBeVisible();
  await expect(page.locator('tbody tr', { hasText: /user\.invite(?!_)/ }).first()).toBeVisible();
  await update.getByRole('button', { name: /^Show details of user\.update/ }).click();
  const details = page.locator('tr.detail-row').first();
  await expect(details).toContainText('"role": "viewer"');
  await shot(page, 'admin-audit');

  // Export with the same filters: a CSV holding the change.
  const download = page.waitForEvent('download', { timeout: 15_000 });
  await page.getByRole('button', { name: 'Export CSV' }).click();
  const file = await download;
  expect(file.suggestedFilename()).toMatch(/^audit-.*\.csv$/);
  const csv = readFileSync((await file.path())!, 'utf8');
  expect(csv.split('\n')[0]).toMatch(/action/i);
  expect(csv).toContain('user.update');
  expect(csv).not.toContain('model.create'); // the filter applies
});

test.describe('dashboard', () => {
  test.use({ viewport: { width: 1280, height: 2200 } });

  test('shows usage seeded through the fake model as numbers and charts, with tooltips and CSV', async ({ page, request }) => {
    test.setTimeout(60_000);
    const token = await apiToken(request);
    const auth = { authorization: `Bearer ${token}` };
    // Prices on the fake model, so that the cost charts have something to show.
    const models = (await (await request.get('/api/v1/models', { headers: auth })).json()) as { id: string; name: string }[];
    const fake = models.find((m) => m.name === 'fake');
    expect(fake, 'scripts/e2e.sh configures a model "fake"').toBeTruthy();
    const priced = await request.patch(`/api/v1/models/${fake!.id}`, { headers: auth, data: { price_input_per_1k: 0.5, price_output_per_1k: 1.5 } });
    expect(priced.status(), await priced.text()).toBe(200);
    const before = await todaysTotals(request, token);

    await login(page);
    await newChat(page);
    const questions = ['First seeded question [[tokens=6]]', 'Second seeded question [[tokens=9]]'];
    for (const [i, q] of questions.entries()) {
      await send(page, q);
      await expect(assistantMessages(page)).toHaveCount(i + 1);
      await waitIdle(page);
      await expect(assistantMessages(page).nth(i).locator('.markdown')).toHaveText(echoWords(q, i === 0 ? 6 : 9).join(' '));
    }

    // The rollups are written with the runs: the chat and its two messages count at once,
    // with the fake's usage (one output token per streamed word: 6 + 9).
    const after = await todaysTotals(request, token);
    expect(after.conversations - before.conversations).toBe(1);
    expect(after.messages - before.messages).toBe(2);
    expect(after.outputTokens - before.outputTokens).toBe(15);
    const input = after.inputTokens - before.inputTokens;
    expect(input).toBeGreaterThan(0);
    expect(after.costUsd - before.costUsd).toBeCloseTo((input * 0.5 + 15 * 1.5) / 1000, 6);

    await page.goto('/admin');
    await expect(page.getByRole('heading', { level: 1, name: 'Dashboard' })).toBeVisible();
    await page.getByRole('button', { name: '7 days' }).click();
    await expect(page.getByRole('button', { name: '7 days' })).toHaveAttribute('aria-pressed', 'true');

    // KPI tiles show what the API counts (the range ends today).
    const kpi = (label: string) => page.locator('.kpi', { hasText: label }).locator('.kpi-value');
    const fmt = (n: number) => n.toLocaleString('en-US');
    const weekly = await (async () => {
      const to = new Date().toISOString().slice(0, 10);
      const from = new Date(Date.now() - 6 * 86_400_000).toISOString().slice(0, 10);
      const r = await request.get(`/api/v1/admin/analytics?from=${from}&to=${to}`, { headers: { authorization: `Bearer ${token}` } });
      return ((await r.json()) as { totals: Totals }).totals;
    })();
    await expect(kpi('Conversations')).toHaveText(fmt(weekly.conversations));
    await expect(kpi('Messages')).toHaveText(fmt(weekly.messages));
    await expect(kpi('Tokens')).toHaveText(fmt(weekly.inputTokens + weekly.outputTokens));
    await expect(kpi('Cost')).toHaveText(/^\$\d/);
    await expect(kpi('Cost')).not.toHaveText('$0.00');

    // Charts are drawn (vega-embed, SVG) and carry the fake model.
    const perDay = page.getByRole('region', { name: 'Conversations and messages per day' });
    await expect(perDay.locator('svg .mark-line path').first()).toBeVisible({ timeout: 15_000 });
    const tokens = page.getByRole('region', { name: 'Tokens by model' });
    const bar = tokens.locator('svg .mark-rect path').first();
    await expect(bar).toBeVisible();
    await tokens.getByText('Show data').click();
    await expect(tokens.getByRole('cell', { name: 'fake', exact: true }).first()).toBeVisible();
    await expect(page.getByRole('region', { name: 'Cost by model' }).locator('svg .mark-rect path').first()).toBeVisible();
    await expect(page.getByRole('region', { name: 'Cost by user' }).locator('svg .mark-rect path').first()).toBeVisible();
    await expect(page.getByRole('region', { name: 'Cost by user' })).toContainText(ADMIN.email);
    await expect(page.getByRole('region', { name: 'Time to first token' }).locator('svg .mark-rect path').first()).toBeVisible();

    // Hovering a bar shows its numbers.
    await bar.hover();
    const tooltip = page.locator('#vg-tooltip-element');
    await expect(tooltip).toBeVisible();
    await expect(tooltip).toContainText('fake');
    await expect(tooltip).toContainText('Count');
    await shot(page, 'admin-dashboard');

    // Each grouping downloads as CSV (through the API client: the bearer header is sent).
    const download = page.waitForEvent('download', { timeout: 15_000 });
    await page.getByRole('group', { name: 'Download CSV' }).getByRole('button', { name: 'by model' }).click();
    const file = await download;
    expect(file.suggestedFilename()).toMatch(/\.csv$/);
    const csv = readFileSync((await file.path())!, 'utf8');
    expect(csv).toContain('fake');

    // The charts follow the dark theme (vega's dark theme: light axis labels).
    const label = perDay.locator('svg .role-axis-label text').first();
    const lightFill = await label.getAttribute('fill');
    await page.getByRole('button', { name: /^Theme: / }).click(); // system → dark
    await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
    await expect.poll(() => perDay.locator('svg .role-axis-label text').first().getAttribute('fill')).not.toBe(lightFill);
    await page.mouse.move(0, 0);
    await shot(page, 'admin-dashboard-dark');
    await page.getByRole('button', { name: /^Theme: / }).click(); // dark → light
    await page.getByRole('button', { name: /^Theme: / }).click(); // light → system
  });
});

test('at phone width the admin menu collapses behind a button', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await login(page);
  await page.goto('/admin/users');
  await expect(page.getByRole('heading', { level: 1, name: 'Users' })).toBeVisible();
  const menu = page.getByRole('button', { name: 'Show the admin menu' });
  await expect(menu).toBeVisible();
  await expect(page.getByRole('navigation', { name: 'Admin' })).not.toBeInViewport();
  await menu.click();
  await expect(page.getByRole('navigation', { name: 'Admin' })).toBeInViewport({ ratio: 1 }); // slid in fully
  await shot(page, 'admin-phone-menu');
  await page.getByRole('navigation', { name: 'Admin' }).getByRole('link', { name: 'Health', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Health' })).toBeVisible();
  await expect(page.getByRole('navigation', { name: 'Admin' })).not.toBeInViewport();
  await shot(page, 'admin-phone-health');
});

test('a viewer who opens /admin is sent back to the chat with a notice', async ({ page, request }) => {
  const admin = await apiToken(request);
  const email = `viewer-admin-${Date.now()}@penny.test`;
  const password = 'viewer-password-1';
  const created = await request.post('/api/v1/users', { headers: { authorization: `Bearer ${admin}` }, data: { email, role: 'viewer', password } });
  expect(created.status(), await created.text()).toBe(201);
  await login(page, email, password);
  await expect(page.getByRole('link', { name: 'Admin', exact: true })).toHaveCount(0);
  await page.goto('/admin/users');
  await expect(page.getByRole('alert').filter({ hasText: 'Admin console unavailable' })).toBeVisible();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole('heading', { level: 1, name: 'Users' })).toHaveCount(0);
  await shot(page, 'admin-denied');
});

test('an admin sets the system prompt every chat starts with', async ({ page }) => {
  await login(page);
  await page.goto('/admin');
  await openSection(page, 'Policies');
  const prompt = page.getByLabel('Instructions for every chat');
  await prompt.fill('Answer in British English. Cite the files you were given.');
  await page.getByRole('button', { name: 'Save policies' }).click();
  await expect(page.getByText('Policies saved')).toBeVisible();
  await page.reload();
  await expect(page.getByLabel('Instructions for every chat')).toHaveValue('Answer in British English. Cite the files you were given.');
  await page.getByLabel('Instructions for every chat').scrollIntoViewIfNeeded();
  await shot(page, 'admin-policies');
  // Cleared again, so other tests' chats start without it.
  await page.getByLabel('Instructions for every chat').fill('');
  await page.getByRole('button', { name: 'Save policies' }).click();
  await expect(page.getByText('Policies saved')).toBeVisible();
});
