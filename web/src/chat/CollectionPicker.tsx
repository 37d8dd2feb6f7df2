import { useRef, type KeyboardEvent } from 'react';
import type { Collection } from '../api/types';
import { BookIcon } from '../ui/icons';

interface Props {
  /** The collections the user can read. */
  collections: Collection[];
  /** Ids picked, in the order picked. */
  picked: string[];
  onPicked: (ids: string[]) => void;
  /** The menu opened: a chance to refresh the list. */
  onOpen?: () => void;
}

/** Most collections one message may be answered from (as the server allows). */
export const MAX_PICKED = 20;

/**
 * The composer's collection picker: a menu of the readable collections with a checkbox
 * each, and a removable chip per picked one. Escape closes the menu and gives the focus
 * back to its button.
 */
export function CollectionPicker({ collections, picked, onPicked, onOpen }: Props) {
  const menu = useRef<HTMLDetailsElement>(null);
  const chosen = picked.flatMap((id) => collections.filter((c) => c.id === id));
  const full = picked.length >= MAX_PICKED;

  const toggle = (id: string, on: boolean) => onPicked(on ? [...picked, id] : picked.filter((x) => x !== id));

  const onKey = (e: KeyboardEvent<HTMLDetailsElement>) => {
    if (e.key !== 'Escape' || !menu.current?.open) return;
    e.preventDefault();
    e.stopPropagation();
    menu.current.open = false;
    menu.current.querySelector('summary')?.focus();
  };

  return (
    <>
      <details
        ref={menu}
        className="menu collection-menu"
        onToggle={(e) => e.currentTarget.open && onOpen?.()}
        onKeyDown={onKey}
      >
        <summary className="btn-ghost btn-small" aria-label={`Collections to answer from${picked.length ? ` (${picked.length} picked)` : ''}`}>
          <BookIcon /> Collections{picked.length ? ` (${picked.length})` : ''}
        </summary>
        <div className="menu-list collection-list" role="group" aria-label="Collections to answer from">
          {collections.length === 0 ? (
            <p className="muted small collection-empty">No collections yet. Add documents under Knowledge.</p>
          ) : (
            collections.map((c) => {
              const on = picked.includes(c.id);
              return (
                <label key={c.id} className="collection-option" title={c.description || c.name}>
                  <input type="checkbox" checked={on} disabled={!on && full} onChange={(e) => toggle(c.id, e.target.checked)} />
                  <span className="collection-option-name">{c.name}</span>
                  <span className="muted small">
                    {c.ready} {c.ready === 1 ? 'doc' : 'docs'}
                  </span>
                </label>
              );
            })
          )}
        </div>
      </details>
      {chosen.length > 0 && (
        <ul className="collection-chips" aria-label="Answering from">
          {chosen.map((c) => (
            <li key={c.id} className="collection-chip">
              <span>{c.name}</span>
              <button type="button" className="btn-ghost btn-icon" aria-label={`Remove ${c.name}`} onClick={() => toggle(c.id, false)}>
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
