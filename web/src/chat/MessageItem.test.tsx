import { act, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MessageItem } from './MessageItem';
import type { DisplayMessage } from './stream';
import { ToastProvider } from '../ui/toast';

const message = (over: Partial<DisplayMessage>): DisplayMessage => ({
  id: 'a1',
  parent_id: 'u1',
  role: 'assistant',
  content: 'The answer',
  status: 'complete',
  model: 'fake',
  tool_calls: null,
  error_code: null,
  siblings: 1,
  sibling_index: 1,
  sibling_ids: ['a1'],
  tools: [],
  streaming: false,
  artifacts: [],
  ...over,
});

const show = (m: DisplayMessage) =>
  render(<MessageItem message={m} busy={false} onEdit={vi.fn()} onRegenerate={vi.fn()} onSwitch={vi.fn()} onOpenArtifact={vi.fn()} />);

const setClipboard = (value: unknown) => Object.defineProperty(navigator, 'clipboard', { value, configurable: true });

afterEach(() => {
  vi.useRealTimers();
  setClipboard(undefined);
});

describe('a failed answer', () => {
  it('says what went wrong in one sentence, with the code only in the tooltip', () => {
    show(message({ content: '', status: 'failed', error_code: 'provider_error', error: { code: 'provider_error', message: '' } }));
    const alert = screen.getByRole('alert');
    expect(alert).toHaveTextContent(/^The model provider returned an error\.$/);
    expect(alert).toHaveAttribute('title', 'Error code: provider_error');
  });

  it("shows the server's message when the run sent one", () => {
    show(message({ content: '', status: 'failed', error: { code: 'tool_step_limit', message: 'the model kept calling tools after 8 turns' } }));
    expect(screen.getByRole('alert')).toHaveTextContent(/^The model kept calling tools after 8 turns\.$/);
  });

  it('keeps Regenerate shown (not only on hover) and offers no Copy for an empty answer', () => {
    show(message({ content: '', status: 'failed', error: { code: 'provider_error', message: '' } }));
    const regenerate = screen.getByRole('button', { name: 'Regenerate' });
    expect(regenerate.closest('.msg-actions')).toHaveClass('msg-actions-shown');
    expect(screen.queryByRole('button', { name: 'Copy' })).toBeNull();
  });
});

describe('Copy', () => {
  it('says Copied for a moment', async () => {
    vi.useFakeTimers();
    const writeText = vi.fn().mockResolvedValue(undefined);
    setClipboard({ writeText });
    show(message({}));
    expect(screen.getByRole('button', { name: 'Copy' }).closest('.msg-actions')).not.toHaveClass('msg-actions-shown');
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Copy' }));
    });
    expect(writeText).toHaveBeenCalledWith('The answer');
    expect(screen.getByRole('button', { name: 'Copied' })).toBeInTheDocument();
    act(() => vi.advanceTimersByTime(1600));
    expect(screen.getByRole('button', { name: 'Copy' })).toBeInTheDocument();
  });

  it('says so when this browser cannot copy', async () => {
    setClipboard(undefined);
    show(message({}));
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Copy' }));
    });
    expect(screen.getByRole('button', { name: 'Could not copy' })).toHaveAttribute('title', expect.stringMatching(/copy it by hand/));
  });
});

describe('editing a message', () => {
  it('sizes the box to a long single-line message', () => {
    const content = 'Please look at https://example.com/a/very/long/path '.repeat(8);
    show(message({ id: 'u2', parent_id: null, role: 'user', content }));
    fireEvent.click(screen.getByRole('button', { name: 'Edit' }));
    const box = screen.getByLabelText('Edit message');
    expect(box).toHaveValue(content);
    expect(Number(box.getAttribute('rows'))).toBeGreaterThanOrEqual(5);
    expect(box.closest('article')).toHaveClass('msg-editing');
  });
});

describe('citations in an answer', () => {
  const passages = [
    { n: 1, passageId: 7, documentId: 'd1', title: 'accords.pdf', page: 2, heading: 'Chapter two', content: 'The Zanzibar accord was signed in 1891 by both parties.' },
  ];
  const searched = (content: string) =>
    message({
      content,
      tools: [{ callId: 'c1', name: 'search_documents', arguments: '{}', status: 'ok', result: JSON.stringify({ query: 'q', passages, instructions: '' }) }],
    });
  const showIn = (m: DisplayMessage) =>
    render(
      <ToastProvider>
        <MessageItem message={m} busy={false} onEdit={vi.fn()} onRegenerate={vi.fn()} onSwitch={vi.fn()} onOpenArtifact={vi.fn()} />
      </ToastProvider>,
    );

  it('turns [n] into chips that open the passage with its verdict and page', () => {
    showIn(searched('The documents say: "The Zanzibar accord was signed in 1891" [1]. Also [2].'));
    const chip = screen.getAllByRole('button', { name: 'Source 1: accords.pdf (verified)' })[0]!;
    expect(chip).toHaveTextContent('1');
    expect(screen.getAllByRole('button', { name: 'Source 2 (unverified)' })[0]).toHaveClass('cite-chip-warn');
    expect(screen.getByRole('region', { name: 'Sources' })).toHaveTextContent('accords.pdfp. 2');
    fireEvent.click(chip);
    const dialog = screen.getByRole('dialog', { name: 'Source 1' });
    expect(dialog).toHaveTextContent('Page 2 · Chapter two');
    expect(dialog).toHaveTextContent('The Zanzibar accord was signed in 1891 by both parties.');
    expect(dialog).toHaveTextContent('verified');
    expect(screen.getByRole('button', { name: 'Open page 2' })).toBeInTheDocument();
    fireEvent.keyDown(document, { key: 'Escape' });
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
  });

  it('marks a quote the passage does not hold as unverified, and says why', () => {
    showIn(searched('It was "signed in 1895" [1].'));
    fireEvent.click(screen.getAllByRole('button', { name: 'Source 1: accords.pdf (unverified)' })[0]!);
    const badge = screen.getByText('unverified');
    expect(badge).toHaveClass('cite-badge-warn');
    expect(badge.getAttribute('title')).toContain('signed in 1895');
  });

  it('leaves [n] as text in an answer that searched nothing, and in code', () => {
    showIn(message({ content: 'Item [1] of the list, and `a[2]`.' }));
    expect(screen.queryByRole('button', { name: /Source/ })).not.toBeInTheDocument();
    expect(screen.getByText(/Item \[1\] of the list/)).toBeInTheDocument();
  });
});

describe('a question answered from collections', () => {
  it('shows the collections picked for it', () => {
    show(message({ id: 'u2', role: 'user', content: 'Refunds?', collections: [{ id: 'k1', name: 'Handbook' }, { id: 'k2', name: 'Policies' }] }));
    const picked = screen.getByRole('list', { name: 'Answered from' });
    expect(picked).toHaveTextContent('Handbook');
    expect(picked).toHaveTextContent('Policies');
  });
});
