import { expect, test } from '@playwright/test';
import { assistantMessages, echoWords, login, newChat, send, shot, waitIdle } from './helpers';

test('dropping the WebSocket mid-answer: offline banner, then the answer completes once without doubled text', async ({ page }) => {
  const sockets: string[] = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));
  await login(page);
  await newChat(page);
  expect(sockets).toHaveLength(1);

  const tokens = 60;
  const message = `Count for me [[tokens=${tokens} delay_ms=30]]`;
  await send(page, message);
  const answer = assistantMessages(page).last().locator('.markdown');
  // Mid-answer: some tokens are in, most are still to come.
  await expect(answer).toContainText(' t10 ');
  const before = (await answer.textContent()) ?? '';
  expect(before).not.toContain(` t${tokens}`);

  const offline = page.getByText('Offline — reconnecting…');
  await page.evaluate(() => (window as unknown as { pennySocket: { drop(): void } }).pennySocket.drop());
  await expect(offline).toBeVisible();
  await shot(page, 'reconnect-offline');
  await expect(offline).toBeHidden({ timeout: 10_000 });

  await waitIdle(page);
  const words = echoWords(message, tokens);
  await expect(assistantMessages(page)).toHaveCount(1);
  await expect(answer).toHaveText(words.join(' '));
  const got = ((await answer.textContent()) ?? '').split(/\s+/).filter(Boolean);
  for (const w of words) expect(got.filter((x) => x === w), `"${w}" appears once`).toHaveLength(1);
  expect(got).toHaveLength(words.length);
  expect(sockets.length, 'the client opened a second WebSocket').toBeGreaterThanOrEqual(2);

  // The stored answer is the same.
  await page.reload();
  await expect(assistantMessages(page).locator('.markdown')).toHaveText(words.join(' '));
  await shot(page, 'reconnect');
});
