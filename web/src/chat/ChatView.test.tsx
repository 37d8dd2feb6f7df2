import { act, fireEvent, render, screen } from '@testing-library/react';
import { MemoryRouter, Route, Routes } from 'react-router-dom';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ToolInfo } from '../api/types';
import { ToastProvider } from '../ui/toast';
import { ChatView } from './ChatView';

const send = vi.fn().mockResolvedValue(true);
const tool = (name: string): ToolInfo => ({ name, description: `does ${name}`, parameters: {}, usable: true });
const collection = (id: string, name: string) => ({ id, name, description: '', ready: 1, documents: 1, access: 'read' });

vi.mock('../api', () => ({
  api: {
    getConversation: (id: string) => Promise.resolve({ id, title: 'A chat' }),
    models: () => Promise.resolve([{ id: 'm1', name: 'fake', provider: 'fake', is_default: true }]),
    tools: () => Promise.resolve([tool('python_execute'), tool('current_time'), tool('web_search')]),
    artifacts: () => Promise.resolve([]),
    collections: () => Promise.resolve([collection('k1', 'Handbook'), collection('k2', 'Policies')]),
    updateConversation: () => Promise.resolve({ id: 'c1', title: 'A chat' }),
  },
}));

vi.mock('./useChat', () => ({
  useChat: () => ({
    state: { branch: [], artifacts: [], announced: null },
    messages: [],
    loaded: true,
    connection: 'open',
    running: false,
    send,
    cancel: vi.fn(),
    switchBranch: vi.fn(),
    hasOlder: false,
    loadingOlder: false,
    loadOlder: vi.fn(),
  }),
}));

async function open(id: string) {
  const view = render(
    <ToastProvider>
      <MemoryRouter initialEntries={[`/c/${id}`]} future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
        <Routes>
          <Route path="/c/:id" element={<ChatView onActivity={() => undefined} />} />
        </Routes>
      </MemoryRouter>
    </ToastProvider>,
  );
  await screen.findByRole('checkbox', { name: /python_execute/ });
  return view;
}

afterEach(() => {
  localStorage.clear();
  send.mockClear();
});

describe('the tool chips', () => {
  it('show readable labels; the name stays in the accessible name and the tooltip', async () => {
    await open('c1');
    const python = screen.getByRole('checkbox', { name: 'Python (python_execute)' });
    expect(python.closest('label')).toHaveTextContent(/^Python$/);
    expect(python.closest('label')).toHaveAttribute('title', 'python_execute: does python_execute');
    expect(screen.getByRole('checkbox', { name: 'Time (current_time)' })).toBeInTheDocument();
    expect(screen.getByRole('checkbox', { name: 'web_search' })).toBeInTheDocument();
  });

  it('are remembered per conversation and sent with the next message', async () => {
    const first = await open('c1');
    expect(screen.getByRole('checkbox', { name: /python_execute/ })).not.toBeChecked();
    fireEvent.click(screen.getByRole('checkbox', { name: /python_execute/ }));
    first.unmount();

    // Another chat starts with none on.
    const other = await open('c2');
    expect(screen.getByRole('checkbox', { name: /python_execute/ })).not.toBeChecked();
    other.unmount();

    // Back in the first chat: still on, and a follow-up keeps the tool.
    await open('c1');
    expect(screen.getByRole('checkbox', { name: /python_execute/ })).toBeChecked();
    expect(screen.getByRole('checkbox', { name: /current_time/ })).not.toBeChecked();
    fireEvent.change(screen.getByLabelText('Message', { selector: 'textarea' }), { target: { value: 'And now?' } });
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Send' }));
    });
    expect(send).toHaveBeenCalledWith('And now?', expect.objectContaining({ toolsAllowed: ['python_execute'] }));
  });
});

describe('the collection picker', () => {
  const pick = async (name: RegExp) => {
    const summary = await screen.findByText(/^Collections/, { selector: 'summary' });
    fireEvent.click(summary);
    fireEvent.click(screen.getByRole('checkbox', { name }));
  };
  const sendText = async (text: string) => {
    fireEvent.change(screen.getByLabelText('Message', { selector: 'textarea' }), { target: { value: text } });
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Send' }));
    });
  };

  it('sends the picked collections with each message, and keeps them for the conversation', async () => {
    const first = await open('c1');
    await pick(/Policies/);
    await sendText('What is the refund policy?');
    expect(send).toHaveBeenCalledWith(
      'What is the refund policy?',
      expect.objectContaining({ collections: [{ id: 'k2', name: 'Policies' }] }),
    );
    first.unmount();

    // Another chat starts with none picked.
    const other = await open('c2');
    await screen.findByText(/^Collections/, { selector: 'summary' });
    expect(screen.queryByRole('list', { name: 'Answering from' })).not.toBeInTheDocument();
    await sendText('Hello');
    expect(send).toHaveBeenLastCalledWith('Hello', expect.objectContaining({ collections: [] }));
    other.unmount();

    // Back in the first chat: still picked until removed.
    await open('c1');
    const chips = await screen.findByRole('list', { name: 'Answering from' });
    expect(chips).toHaveTextContent('Policies');
    await sendText('And shipping?');
    expect(send).toHaveBeenLastCalledWith('And shipping?', expect.objectContaining({ collections: [{ id: 'k2', name: 'Policies' }] }));
    fireEvent.click(screen.getByRole('button', { name: 'Remove Policies' }));
    await sendText('Thanks');
    expect(send).toHaveBeenLastCalledWith('Thanks', expect.objectContaining({ collections: [] }));
  });

  it('drops a picked collection the user can no longer read', async () => {
    localStorage.setItem('penny.collections.c1', JSON.stringify(['gone', 'k1']));
    await open('c1');
    const chips = await screen.findByRole('list', { name: 'Answering from' });
    expect(chips).toHaveTextContent(/^Handbook×$/);
    await sendText('Where?');
    expect(send).toHaveBeenCalledWith('Where?', expect.objectContaining({ collections: [{ id: 'k1', name: 'Handbook' }] }));
  });
});
