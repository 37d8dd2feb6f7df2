import { fireEvent, render, screen, within } from '@testing-library/react';
import { useState } from 'react';
import { describe, expect, it, vi } from 'vitest';
import type { Collection } from '../api/types';
import { CollectionPicker, MAX_PICKED } from './CollectionPicker';

const coll = (id: string, name: string, ready = 2): Collection => ({
  id,
  name,
  ownerId: 'u1',
  description: '',
  embeddingModel: 'local/all-MiniLM-L6-v2',
  embeddingDims: 384,
  createdAt: '2025-01-01T00:00:00Z',
  updatedAt: '2025-01-01T00:00:00Z',
  documents: ready,
  ready,
  chunks: 10,
  bytes: 100,
  access: 'read',
});

const readable = [coll('k1', 'Handbook'), coll('k2', 'Policies', 1), coll('k3', 'Reports')];

/** The picker as the composer holds it: the pick is state above it. */
function Picker({ initial = [], onOpen, collections = readable }: { initial?: string[]; onOpen?: () => void; collections?: Collection[] }) {
  const [picked, setPicked] = useState<string[]>(initial);
  return <CollectionPicker collections={collections} picked={picked} onPicked={setPicked} onOpen={onOpen} />;
}

const menuButton = () => screen.getByText(/^Collections/, { selector: 'summary' });
const menu = () => menuButton().closest('details')!;

describe('the collection picker', () => {
  it('lists the readable collections with a checkbox each; picking shows a chip', () => {
    const onOpen = vi.fn();
    render(<Picker onOpen={onOpen} />);
    expect(screen.queryByRole('list', { name: 'Answering from' })).not.toBeInTheDocument();
    fireEvent.click(menuButton());
    expect(menu().open).toBe(true);
    fireEvent(menu(), new Event('toggle'));
    expect(onOpen).toHaveBeenCalled();
    const group = screen.getByRole('group', { name: 'Collections to answer from' });
    const boxes = within(group).getAllByRole('checkbox');
    expect(boxes).toHaveLength(3);
    expect(within(group).getByText('1 doc')).toBeInTheDocument();

    fireEvent.click(within(group).getByRole('checkbox', { name: /Policies/ }));
    fireEvent.click(within(group).getByRole('checkbox', { name: /Handbook/ }));
    const chips = screen.getByRole('list', { name: 'Answering from' });
    // In the order picked.
    expect(within(chips).getAllByRole('listitem').map((li) => li.textContent)).toEqual(['Policies×', 'Handbook×']);
    expect(menuButton()).toHaveTextContent('Collections (2)');
    expect(menuButton()).toHaveAccessibleName('Collections to answer from (2 picked)');
  });

  it('removes a collection with its chip or by unticking it', () => {
    render(<Picker initial={['k1', 'k3']} />);
    fireEvent.click(screen.getByRole('button', { name: 'Remove Handbook' }));
    const chips = screen.getByRole('list', { name: 'Answering from' });
    expect(within(chips).getAllByRole('listitem')).toHaveLength(1);
    fireEvent.click(menuButton());
    expect(screen.getByRole('checkbox', { name: /Handbook/ })).not.toBeChecked();
    fireEvent.click(screen.getByRole('checkbox', { name: /Reports/ }));
    expect(screen.queryByRole('list', { name: 'Answering from' })).not.toBeInTheDocument();
  });

  it('shows no chip for an id it does not know (a collection gone)', () => {
    render(<Picker initial={['gone', 'k2']} />);
    const chips = screen.getByRole('list', { name: 'Answering from' });
    expect(within(chips).getAllByRole('listitem').map((li) => li.textContent)).toEqual(['Policies×']);
  });

  it('closes on Escape and gives the focus back to its button', () => {
    render(<Picker />);
    fireEvent.click(menuButton());
    const box = screen.getByRole('checkbox', { name: /Reports/ });
    box.focus();
    fireEvent.keyDown(box, { key: 'Escape' });
    expect(menu().open).toBe(false);
    expect(menuButton()).toHaveFocus();
  });

  it(`takes at most ${MAX_PICKED} collections`, () => {
    const many = Array.from({ length: MAX_PICKED + 1 }, (_, i) => coll(`k${i}`, `C${i}`));
    render(<Picker collections={many} initial={many.slice(0, MAX_PICKED).map((c) => c.id)} />);
    fireEvent.click(menuButton());
    expect(screen.getByRole('checkbox', { name: `C${MAX_PICKED} 2 docs` })).toBeDisabled();
    expect(screen.getByRole('checkbox', { name: 'C0 2 docs' })).toBeEnabled();
  });

  it('says where to add collections when there are none', () => {
    render(<Picker collections={[]} />);
    fireEvent.click(menuButton());
    expect(screen.getByText(/No collections yet/)).toBeInTheDocument();
  });
});
