import { expect, test } from '@playwright/test';
import { apiToken, login, newChat, shot } from './helpers';

test('a viewer without tool rights does not see the python_execute toggle', async ({ page, request }) => {
  const admin = await apiToken(request);
  const email = `viewer-${Date.now()}@penny.test`;
  const password = 'viewer-password-1';
  const created = await request.post('/api/v1/users', {
    headers: { authorization: `Bearer ${admin}` },
    data: { email, role: 'viewer', password },
  });
  expect(created.status(), await created.text()).toBe(201);

  // The API agrees: python_execute is not usable by a viewer.
  const viewer = await apiToken(request, email, password);
  const tools = await request.get('/api/v1/tools', { headers: { authorization: `Bearer ${viewer}` } });
  expect(tools.ok()).toBe(true);
  const body = (await tools.json()) as { name: string; usable: boolean }[] | { tools: { name: string; usable: boolean }[] };
  const list = Array.isArray(body) ? body : body.tools;
  expect(list.find((t) => t.name === 'python_execute')?.usable ?? false).toBe(false);

  await login(page, email, password);
  await expect(page.getByText(/· viewer$/)).toBeVisible();
  await newChat(page);
  // Models and tools load together: once the model picker shows, the toggles would too.
  await expect(page.getByRole('combobox', { name: 'Model' })).toBeVisible();
  await expect(page.getByRole('checkbox', { name: 'current_time' })).toBeVisible(); // a viewer's tool
  await expect(page.getByRole('checkbox', { name: 'python_execute' })).toHaveCount(0);
  await expect(page.getByRole('checkbox', { name: 'create_artifact' })).toHaveCount(0);
  await shot(page, 'viewer');
});
