import { expect, test } from '@playwright/test';
import { assistantMessages, login, newChat, send, shot, waitIdle } from './helpers';

/**
 * A minimal valid PDF: one page per entry of `pages`, each line set in Helvetica, with a
 * correct cross-reference table (byte offsets of every object).
 */
function pdf(pages: string[][]): Buffer {
  const escape = (s: string) => s.replace(/[\\()]/g, (c) => `\\${c}`);
  const objects: string[] = [];
  const pageIds = pages.map((_, i) => 4 + i * 2);
  objects[1] = '<< /Type /Catalog /Pages 2 0 R >>';
  objects[2] = `<< /Type /Pages /Kids [${pageIds.map((id) => `${id} 0 R`).join(' ')}] /Count ${pages.length} >>`;
  objects[3] = '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>';
  pages.forEach((lines, i) => {
    const page = pageIds[i]!;
    const stream = ['BT', '/F1 14 Tf', '72 720 Td', '18 TL', ...lines.map((l) => `(${escape(l)}) Tj T*`), 'ET'].join('\n');
    objects[page] =
      `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents ${page + 1} 0 R >>`;
    objects[page + 1] = `<< /Length ${Buffer.byteLength(stream, 'latin1')} >>\nstream\n${stream}\nendstream`;
  });
  let out = '%PDF-1.4\n';
  const offsets: number[] = [];
  for (let id = 1; id < objects.length; id++) {
    offsets[id] = Buffer.byteLength(out, 'latin1');
    out += `${id} 0 obj\n${objects[id]}\nendobj\n`;
  }
  const xref = Buffer.byteLength(out, 'latin1');
  out += `xref\n0 ${objects.length}\n0000000000 65535 f \n`;
  for (let id = 1; id < objects.length; id++) out += `${String(offsets[id]).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

const ACCORD = 'The Zanzibar accord was signed in 1891 by both parties.';

test('knowledge: a PDF uploaded into a collection is searched by the model and cited, and the citation opens its page', async ({ page, context }) => {
  test.setTimeout(90_000); // ingest embeds on the CPU
  await login(page);

  // The Knowledge page, from the sidebar.
  await page.getByRole('link', { name: 'Knowledge' }).click();
  await expect(page).toHaveURL(/\/knowledge$/);
  await expect(page.getByRole('heading', { name: 'Knowledge', level: 1 })).toBeVisible();

  // A collection.
  const name = `History ${Date.now().toString(36)}`;
  const form = page.getByRole('form', { name: 'New collection' });
  await form.getByLabel('Name').fill(name);
  await form.getByLabel(/Description/).fill('Treaties and accords');
  await form.getByRole('button', { name: 'Create collection' }).click();
  await expect(page).toHaveURL(/\/knowledge\/[0-9a-f-]+$/);
  const view = page.getByRole('region', { name: `Collection ${name}` });
  await expect(view.getByRole('heading', { name })).toBeVisible();
  await expect(view).toContainText('No documents yet');
  await expect(page.getByRole('link', { name: new RegExp(name) })).toHaveAttribute('aria-current', 'page');

  // A two-page PDF and a text file, with the picker (several files at once).
  const file = pdf([
    ['Treaties of the nineteenth century.', 'This page lists nothing of interest.'],
    ['Chapter two.', ACCORD, 'It ended a long dispute over the islands.'],
  ]);
  await view.getByLabel('Add documents').setInputFiles([
    { name: 'accords.pdf', mimeType: 'application/pdf', buffer: file },
    { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('Notes about the archive and its opening hours.\n') },
  ]);
  const uploads = view.getByRole('region', { name: 'Uploads' });
  await expect(uploads.getByRole('listitem')).toHaveCount(2);

  // Both become ready; the document list tells pages, passages and version.
  const row = view.getByRole('row', { name: 'accords.pdf' });
  await expect(row.locator('.status-badge')).toHaveText('Ready', { timeout: 60_000 });
  await expect(view.getByRole('row', { name: 'notes.txt' }).locator('.status-badge')).toHaveText('Ready', { timeout: 30_000 });
  await expect(uploads.getByRole('listitem', { name: 'accords.pdf' })).toContainText('Ready');
  await expect(row.getByRole('cell').nth(2)).toHaveText('2'); // pages
  await expect(row).toContainText('v1');
  await expect(row.getByRole('button', { name: 'Delete accords.pdf' })).toBeVisible();
  await expect(row.getByRole('button', { name: 'Cancel accords.pdf' })).toHaveCount(0);
  await expect(page.getByRole('link', { name: new RegExp(name) })).toContainText('2 of 2 ready');
  await shot(page, 'knowledge');
  await page.screenshot({ path: '/tmp/knowledge-page.png' });

  // A chat whose model searches the documents (the Documents tool turned on).
  await newChat(page);
  const toggle = page.getByRole('checkbox', { name: 'search_documents' });
  await toggle.check();
  await expect(toggle).toBeChecked();
  await expect(page.locator('.tool-toggle', { has: toggle })).toContainText('Documents');
  await send(page, 'When was it signed? [[tool=search_documents args={"query":"Zanzibar accord","k":3}]]');

  const answer = assistantMessages(page).last();
  await waitIdle(page, 30_000);
  await expect(answer.locator('details.toolcall')).toContainText('Documents');
  await expect(answer.locator('.markdown')).toContainText(`The documents say: "${ACCORD}"`);

  // The marker is a chip; the answer lists its source.
  const chip = answer.locator('.markdown').getByRole('button', { name: /^Source 1: accords\.pdf \(verified\)$/ });
  await expect(chip).toBeVisible();
  await expect(chip).toHaveText('1');
  const sources = answer.getByRole('region', { name: 'Sources' });
  await expect(sources).toContainText('accords.pdf');
  await expect(sources).toContainText('p. 2');

  // Its popover: document, page, passage, verdict.
  await chip.click();
  const popover = page.getByRole('dialog', { name: 'Source 1' });
  await expect(popover).toBeVisible();
  await expect(popover).toContainText('accords.pdf');
  await expect(popover).toContainText('Page 2');
  await expect(popover.locator('.cite-passage')).toContainText('Zanzibar accord was signed in 1891');
  await expect(popover.locator('.cite-badge')).toHaveText('✓ verified');
  await expect(popover.locator('.cite-badge')).toHaveClass(/cite-badge-ok/);
  await shot(page, 'knowledge-citation');
  await page.screenshot({ path: '/tmp/knowledge-popover.png' });

  // "Open page 2" opens the PDF from an object URL at that page.
  const opened = context.waitForEvent('page');
  await popover.getByRole('button', { name: 'Open page 2' }).click();
  const tab = await opened;
  await expect.poll(() => tab.url(), { timeout: 10_000 }).toMatch(/^blob:http:\/\/[^/]+\/[0-9a-f-]+#page=2$/);
  await tab.close();

  // Escape closes the popover and gives the focus back to the chip.
  await popover.focus();
  await page.keyboard.press('Escape');
  await expect(popover).toHaveCount(0);
  await expect(chip).toBeFocused();

  // After a reload the stored answer still cites its source.
  await page.reload();
  await expect(assistantMessages(page).last().getByRole('button', { name: /^Source 1: accords\.pdf \(verified\)$/ }).first()).toBeVisible();

  // Back on the Knowledge page: deleting the collection (confirmed) removes it.
  await page.getByRole('link', { name: 'Knowledge' }).click();
  await page.getByRole('link', { name: new RegExp(name) }).click();
  page.once('dialog', (d) => void d.accept());
  await page.getByRole('button', { name: 'Delete collection' }).click();
  await expect(page.getByRole('link', { name: new RegExp(name) })).toHaveCount(0);
});
