import { readFile } from 'node:fs/promises';
import { expect, test } from '@playwright/test';
import { assistantMessages, login, newChat, send, shot, waitIdle } from './helpers';

test('export the conversation as Markdown', async ({ page }) => {
  await login(page);
  await newChat(page);
  await send(page, 'Export me please [[tokens=7]]');
  await waitIdle(page);
  await send(page, 'And a second question [[tokens=6]]');
  await waitIdle(page);
  await expect(assistantMessages(page)).toHaveCount(2);
  await expect(page.getByRole('heading', { level: 2 })).toHaveText('Export me please');

  await page.locator('summary', { hasText: 'Export' }).click();
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Markdown (this branch)' }).click(),
  ]);
  expect(download.suggestedFilename()).toBe('Export-me-please.md');
  const path = await download.path();
  expect(path).toBeTruthy();
  const md = await readFile(path!, 'utf8');
  for (const s of [
    'Export me please',
    'Echo: Export me please t5 t6 t7',
    'And a second question',
    'Echo: And a second question t6',
  ])
    expect(md, `the export contains "${s}"`).toContain(s);
  expect(md.indexOf('Export me please')).toBeLessThan(md.indexOf('And a second question'));
  await shot(page, 'export');
});
