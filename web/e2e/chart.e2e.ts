import { expect, test } from '@playwright/test';
import { assistantMessages, login, newChat, send, shot, waitIdle } from './helpers';

test('asking for a chart: the model calls python_execute and the chart shows in the artifact panel', async ({ page }) => {
  test.setTimeout(45_000); // the first sandbox start on a loaded machine
  await login(page);
  await newChat(page);

  const toggle = page.getByRole('checkbox', { name: 'python_execute' });
  await expect(toggle).not.toBeChecked();
  await toggle.check();
  await expect(toggle).toBeChecked();

  const script = "import matplotlib.pyplot as plt\\nplt.plot([1,3,2])\\nplt.savefig('/workspace/output/chart.png')";
  await send(page, `Plot [[tool=python_execute args={"script": "${script}"}]]`);

  // The tool call shows in the answer and finishes.
  const answer = assistantMessages(page).last();
  const call = answer.locator('details.toolcall');
  await expect(call).toBeVisible();
  await expect(call).toContainText('Python');
  await expect(call.locator('.toolcall-name')).toHaveAttribute('title', 'python_execute');
  await expect(call).toContainText('done', { timeout: 30_000 });
  await expect(call).toHaveClass(/toolcall-ok/);

  // The artifact panel opens on the chart, and the image really loads.
  const panel = page.getByRole('complementary', { name: 'Artifact' });
  await expect(panel).toBeVisible({ timeout: 15_000 });
  const img = panel.getByRole('img');
  await expect(img).toBeVisible();
  await expect.poll(() => img.evaluate((i: HTMLImageElement) => i.complete && i.naturalWidth), { timeout: 10_000 }).toBeGreaterThan(0);
  const size = await img.evaluate((i: HTMLImageElement) => [i.naturalWidth, i.naturalHeight]);
  expect(size[0]).toBeGreaterThan(100);
  expect(size[1]).toBeGreaterThan(100);
  await expect(panel.getByRole('combobox', { name: 'Artifact' })).toContainText('chart.png');
  await expect(panel).toContainText('image/png');

  // The answer lists the artifact and completes after the tool result.
  await waitIdle(page, 30_000);
  await expect(answer.locator('.artifact-chip')).toContainText('chart.png');
  await expect(answer.locator('.markdown')).toContainText('Tool result');
  await expect(page.getByRole('button', { name: /^Artifacts \(1\)$/ })).toBeVisible();
  await shot(page, 'chart');

  // After a reload the answer still shows what it made (once).
  await page.reload();
  await expect(page.locator('.msg-assistant').last().locator('.artifact-chip')).toHaveCount(1);
  await expect(page.locator('.msg-assistant').last().locator('.artifact-chip')).toContainText('chart.png');
});
