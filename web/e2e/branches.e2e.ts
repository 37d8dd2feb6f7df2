import { expect, test, type Page } from '@playwright/test';
import { assistantMessages, login, newChat, send, shot, userMessages, waitIdle } from './helpers';

async function edit(page: Page, index: number, from: string, to: string): Promise<void> {
  const user = userMessages(page).nth(index);
  await user.hover();
  await user.getByRole('button', { name: 'Edit' }).click();
  const box = page.getByLabel('Edit message');
  await expect(box).toHaveValue(from);
  await box.fill(to);
  await page.getByRole('button', { name: 'Send as new branch' }).click();
  await waitIdle(page);
}

test('editing a sent message makes a new branch; the switcher moves between both', async ({ page }) => {
  await login(page);
  await newChat(page);
  await send(page, 'First question [[tokens=4]]');
  await waitIdle(page);
  await send(page, 'Original follow-up [[tokens=5]]');
  await waitIdle(page);
  await expect(assistantMessages(page).nth(1).locator('.markdown')).toHaveText('Echo: Original follow-up t4 t5');

  await edit(page, 1, 'Original follow-up [[tokens=5]]', 'Edited follow-up [[tokens=5]]');

  // The edited message replaces the old one in the view, with a switcher ‹ 2/2 › on it.
  const switcher = page.getByRole('group', { name: 'Branches' });
  await expect(switcher).toHaveCount(1);
  await expect(switcher).toContainText('2/2');
  await expect(userMessages(page)).toHaveCount(2);
  await expect(assistantMessages(page)).toHaveCount(2);
  await expect(userMessages(page).nth(1)).toContainText('Edited follow-up');
  await expect(assistantMessages(page).nth(1).locator('.markdown')).toHaveText('Echo: Edited follow-up t4 t5');
  await expect(userMessages(page).nth(1).getByRole('group', { name: 'Branches' })).toBeVisible();
  await expect(switcher.getByRole('button', { name: 'Next branch' })).toBeDisabled();

  await switcher.getByRole('button', { name: 'Previous branch' }).click();
  await expect(switcher).toContainText('1/2');
  await expect(userMessages(page).nth(1)).toContainText('Original follow-up');
  await expect(assistantMessages(page).nth(1).locator('.markdown')).toHaveText('Echo: Original follow-up t4 t5');
  await expect(assistantMessages(page)).toHaveCount(2);
  await expect(switcher.getByRole('button', { name: 'Previous branch' })).toBeDisabled();
  await shot(page, 'branches-1of2');

  await switcher.getByRole('button', { name: 'Next branch' }).click();
  await expect(switcher).toContainText('2/2');
  await expect(userMessages(page).nth(1)).toContainText('Edited follow-up');
  await expect(assistantMessages(page).nth(1).locator('.markdown')).toHaveText('Echo: Edited follow-up t4 t5');

  // The first exchange is shared by both branches; the choice survives a reload.
  await expect(userMessages(page).first()).toContainText('First question');
  await page.reload();
  await expect(page.getByRole('group', { name: 'Branches' })).toContainText('2/2');
  await expect(userMessages(page).nth(1)).toContainText('Edited follow-up');
  await shot(page, 'branches');
});

// The first message has no parent: its edit is sent with `parentId: null` (a new first
// message), not appended below the current leaf.
test('editing the first message of a chat makes a new branch', async ({ page }) => {
  await login(page);
  await newChat(page);
  await send(page, 'First version [[tokens=6]]');
  await waitIdle(page);
  await edit(page, 0, 'First version [[tokens=6]]', 'Second version [[tokens=6]]');
  await shot(page, 'branches-first-message');
  await expect(userMessages(page)).toHaveCount(1, { timeout: 3_000 });
  await expect(page.getByRole('group', { name: 'Branches' })).toContainText('2/2', { timeout: 3_000 });
});

test('regenerating an answer makes a sibling answer to the same question', async ({ page }) => {
  await login(page);
  await newChat(page);
  await send(page, 'Which answer [[tokens=5]]');
  await waitIdle(page);
  const answer = assistantMessages(page).first();
  await answer.hover();
  await answer.getByRole('button', { name: 'Regenerate' }).click();
  await waitIdle(page);

  // The switcher sits on the answer, not on the question, which is asked once.
  const switcher = answer.getByRole('group', { name: 'Branches' });
  await expect(switcher).toContainText('2/2');
  await expect(userMessages(page)).toHaveCount(1);
  await expect(assistantMessages(page)).toHaveCount(1);
  await expect(userMessages(page).first().getByRole('group', { name: 'Branches' })).toHaveCount(0);
  await switcher.getByRole('button', { name: 'Previous branch' }).click();
  await expect(switcher).toContainText('1/2');
  await expect(answer.locator('.markdown')).toHaveText('Echo: Which answer t4 t5');
  await expect(userMessages(page)).toHaveCount(1);
  await shot(page, 'regenerated');
});
