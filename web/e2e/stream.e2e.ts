import { expect, test } from '@playwright/test';
import { assistantMessages, echoWords, login, newChat, send, shot, userMessages, waitIdle } from './helpers';

test('a message gets a streamed answer that grows token by token and completes once', async ({ page }) => {
  await login(page);
  await newChat(page);

  // Watch the last answer's text in the page from before the send until it stops streaming.
  const samples = page.evaluate(
    () =>
      new Promise<string[]>((resolve) => {
        const seen: string[] = [];
        const started = Date.now();
        const tick = () => {
          const answers = document.querySelectorAll('article[aria-label="Assistant said"]');
          const last = answers[answers.length - 1];
          const text = last?.querySelector('.markdown')?.textContent ?? '';
          if (text && seen[seen.length - 1] !== text) seen.push(text);
          if ((last && text && !last.classList.contains('streaming')) || Date.now() - started > 15_000) resolve(seen);
          else requestAnimationFrame(tick);
        };
        tick();
      }),
  );
  const message = 'Tell me about streaming [[tokens=30 delay_ms=40]]';
  await send(page, message);
  await expect(userMessages(page)).toHaveCount(1);
  await expect(userMessages(page)).toContainText('Tell me about streaming');

  // While it streams: the Stop button, and the text grows.
  await expect(page.getByRole('button', { name: /Stop/ })).toBeVisible();
  const seen = await samples;
  await waitIdle(page);

  const expected = echoWords(message, 30).join(' ');
  expect(seen.length, `distinct texts seen while streaming: ${seen.length}`).toBeGreaterThanOrEqual(5);
  for (let i = 1; i < seen.length; i++) {
    expect(seen[i]!.startsWith(seen[i - 1]!.trimEnd()), `sample ${i} extends sample ${i - 1}`).toBe(true);
    expect(seen[i]!.length).toBeGreaterThan(seen[i - 1]!.length);
  }
  expect(seen[seen.length - 1]).toBe(expected);

  // Complete, once: one answer with exactly the expected text, and its actions are shown.
  await expect(assistantMessages(page)).toHaveCount(1);
  await expect(assistantMessages(page).locator('.markdown')).toHaveText(expected);
  await expect(assistantMessages(page).getByRole('button', { name: 'Regenerate' })).toBeAttached();
  // The chat got its title from the first message.
  await expect(page.getByRole('heading', { level: 2 })).toHaveText('Tell me about streaming');
  await shot(page, 'stream');
});
