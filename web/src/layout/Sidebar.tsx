import { useEffect, useState, type FormEvent } from 'react';
import { NavLink, useNavigate } from 'react-router-dom';
import { api } from '../api';
import type { Conversation } from '../api/types';
import { BrandBadge } from '../admin/BrandProvider';
import { isStaff } from '../admin/guard';
import { useMe } from '../auth/AuthContext';
import { BookIcon, PencilIcon, TrashIcon } from '../ui/icons';
import { useToast } from '../ui/toast';
import { forgetCollectionChoice } from '../chat/collections';
import { forgetToolChoice } from '../chat/tools';

interface Props {
  conversations: Conversation[];
  query: string;
  onQuery: (q: string) => void;
  onChanged: () => void;
  onNavigate?: () => void;
}

export function Sidebar({ conversations, query, onQuery, onChanged, onNavigate }: Props) {
  const navigate = useNavigate();
  const toast = useToast();
  const me = useMe();
  const [renaming, setRenaming] = useState<string | null>(null);
  const [title, setTitle] = useState('');

  const create = async () => {
    try {
      const c = await api.createConversation({ title: 'New chat' });
      onChanged();
      navigate(`/c/${c.id}`);
      onNavigate?.();
    } catch (e) {
      toast.error(e, 'Could not create a chat');
    }
  };

  const rename = async (e: FormEvent, id: string) => {
    e.preventDefault();
    setRenaming(null);
    const t = title.trim();
    if (!t) return;
    try {
      await api.updateConversation(id, { title: t });
      onChanged();
    } catch (err) {
      toast.error(err, 'Could not rename');
    }
  };

  const remove = async (c: Conversation) => {
    if (!window.confirm(`Delete “${c.title}”? This cannot be undone.`)) return;
    try {
      await api.deleteConversation(c.id);
      forgetToolChoice(c.id);
      forgetCollectionChoice(c.id);
      onChanged();
      if (window.location.pathname.endsWith(c.id)) navigate('/');
    } catch (err) {
      toast.error(err, 'Could not delete');
    }
  };

  return (
    <nav className="sidebar" aria-label="Conversations">
      <BrandBadge />
      <button type="button" className="btn btn-primary btn-block" onClick={create}>
        + New chat
      </button>
      <label className="search">
        <span className="visually-hidden">Search conversations</span>
        <input type="search" placeholder="Search chats" value={query} onChange={(e) => onQuery(e.target.value)} />
      </label>
      <ul className="conv-list">
        {conversations.map((c) => (
          <li key={c.id}>
            {renaming === c.id ? (
              <form onSubmit={(e) => rename(e, c.id)} className="conv-rename">
                <label className="visually-hidden" htmlFor={`rename-${c.id}`}>
                  New title
                </label>
                <input
                  id={`rename-${c.id}`}
                  autoFocus
                  value={title}
                  onChange={(e) => setTitle(e.target.value)}
                  onBlur={(e) => rename(e, c.id)}
                  onKeyDown={(e) => e.key === 'Escape' && setRenaming(null)}
                />
              </form>
            ) : (
              <div className="conv-item">
                <NavLink to={`/c/${c.id}`} className="conv-link" onClick={onNavigate} title={c.title}>
                  {c.title || 'Untitled'}
                </NavLink>
                <div className="conv-actions">
                  <button
                    type="button"
                    className="btn-ghost btn-icon"
                    aria-label={`Rename ${c.title}`}
                    title="Rename"
                    onClick={() => {
                      setTitle(c.title);
                      setRenaming(c.id);
                    }}
                  >
                    <PencilIcon />
                  </button>
                  <button type="button" className="btn-ghost btn-icon" aria-label={`Delete ${c.title}`} title="Delete" onClick={() => remove(c)}>
                    <TrashIcon />
                  </button>
                </div>
              </div>
            )}
          </li>
        ))}
        {conversations.length === 0 && <li className="muted small pad">{query ? 'No chats match.' : 'No chats yet.'}</li>}
      </ul>
      <NavLink to="/knowledge" className="btn btn-block sidebar-knowledge" onClick={onNavigate}>
        <BookIcon /> Knowledge
      </NavLink>
      {isStaff(me.role) && (
        <NavLink to="/admin" className="btn btn-block sidebar-admin" onClick={onNavigate}>
          Admin
        </NavLink>
      )}
    </nav>
  );
}

/** The conversation list, most recent first, searched by title on the server. */
export function useConversations(): [Conversation[], string, (q: string) => void, () => void] {
  const [list, setList] = useState<Conversation[]>([]);
  const [query, setQuery] = useState('');
  const [tick, setTick] = useState(0);
  const toast = useToast();
  useEffect(() => {
    let gone = false;
    const t = setTimeout(
      () =>
        api.listConversations(query).then(
          (l) => !gone && setList([...l].sort((a, b) => (a.updated_at < b.updated_at ? 1 : -1))),
          (e) => !gone && toast.error(e, 'Could not load chats'),
        ),
      query ? 250 : 0,
    );
    return () => {
      gone = true;
      clearTimeout(t);
    };
  }, [query, tick, toast]);
  return [list, query, setQuery, () => setTick((x) => x + 1)];
}
