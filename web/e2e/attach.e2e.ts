import { expect, test } from '@playwright/test';
import { assistantMessages, login, newChat, send, shot, userMessages, waitIdle } from './helpers';

test('an attached file is uploaded, shown on the message and told to the model', async ({ page }) => {
  await login(page);
  await newChat(page);

  await page.locator('input[type="file"]').setInputFiles({
    name: 'sales.csv',
    mimeType: 'text/csv',
    buffer: Buffer.from('month,total\njan,3\nfeb,5\n'),
  });
  // The upload finishes before the message can go.
  const pending = page.getByRole('list', { name: 'Attached files' });
  await expect(pending.getByText('sales.csv')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Remove sales.csv' })).toBeVisible();

  await send(page, 'Sum the totals [[tokens=40]]');
  await expect(userMessages(page)).toHaveCount(1);
  // The text is the user's own; the file is a chip beside it, not pasted into the text.
  await expect(userMessages(page).locator('.msg-user-text')).toHaveText('Sum the totals [[tokens=40]]');
  const chip = userMessages(page).getByRole('listitem').filter({ hasText: 'sales.csv' });
  await expect(chip).toBeVisible();
  await waitIdle(page);

  // The fake model echoes what it was given: the file's name and type reached it.
  await expect(assistantMessages(page).locator('.markdown')).toContainText('sales.csv');
  await expect(assistantMessages(page).locator('.markdown')).toContainText('text/csv');
  // The composer is empty again, and a reload still shows the file on the message.
  await expect(page.getByRole('button', { name: 'Remove sales.csv' })).toHaveCount(0);
  await page.reload();
  await expect(userMessages(page).getByRole('listitem').filter({ hasText: 'sales.csv' })).toBeVisible();
  await shot(page, 'attach');
});
