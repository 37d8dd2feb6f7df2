import { act, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MessageItem } from './MessageItem';
import type { DisplayMessage } from './stream';

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
