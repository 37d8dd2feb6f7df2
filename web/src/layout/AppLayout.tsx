import { lazy, Suspense, useState } from 'react';
import { Route, Routes, useNavigate } from 'react-router-dom';
import { useAuth, useMe } from '../auth/AuthContext';
import { ChatView } from '../chat/ChatView';
import { useTheme } from '../ui/theme';
import { Sidebar, useConversations } from './Sidebar';
import { api } from '../api';
import { useToast } from '../ui/toast';

// A chunk of its own, loaded when the page is first opened.
const KnowledgePage = lazy(() => import('../knowledge/KnowledgePage'));

export function AppLayout() {
  const me = useMe();
  const { logout } = useAuth();
  const [theme, cycleTheme] = useTheme();
  const [conversations, query, setQuery, reload] = useConversations();
  const [navOpen, setNavOpen] = useState(false);

  return (
    <div className={`app ${navOpen ? 'nav-open' : ''}`}>
      <header className="topbar">
        <button type="button" className="btn-ghost btn-icon nav-toggle" aria-label="Show conversations" aria-expanded={navOpen} onClick={() => setNavOpen((o) => !o)}>
          ☰
        </button>
        <div className="brand">
          <span className="brand-mark" aria-hidden="true">P</span> PENNY
        </div>
        <div className="topbar-right">
          <span className="muted small user-label" title={me.email}>
            {me.display_name || me.email} · {me.tenant.name} · {me.role}
          </span>
          <button type="button" className="btn-ghost btn-small" onClick={cycleTheme} aria-label={`Theme: ${theme}. Change theme`}>
            {theme === 'dark' ? '☾ Dark' : theme === 'light' ? '☀ Light' : '◐ Auto'}
          </button>
          <button type="button" className="btn-ghost btn-small" onClick={() => void logout()}>
            Sign out
          </button>
        </div>
      </header>
      <div className="body">
        <Sidebar conversations={conversations} query={query} onQuery={setQuery} onChanged={reload} onNavigate={() => setNavOpen(false)} />
        {navOpen && <div className="scrim" onClick={() => setNavOpen(false)} aria-hidden="true" />}
        <main className="main">
          <Routes>
            <Route path="/" element={<Welcome onCreated={reload} />} />
            <Route path="/c/:id" element={<ChatView onActivity={reload} />} />
            {['/knowledge', '/knowledge/:id'].map((path) => (
              <Route
                key={path}
                path={path}
                element={
                  <Suspense fallback={<div className="splash" role="status">Loading…</div>}>
                    <KnowledgePage />
                  </Suspense>
                }
              />
            ))}
            <Route path="*" element={<Welcome onCreated={reload} />} />
          </Routes>
        </main>
      </div>
    </div>
  );
}

function Welcome({ onCreated }: { onCreated: () => void }) {
  const navigate = useNavigate();
  const toast = useToast();
  const start = async () => {
    try {
      const c = await api.createConversation({ title: 'New chat' });
      onCreated();
      navigate(`/c/${c.id}`);
    } catch (e) {
      toast.error(e, 'Could not create a chat');
    }
  };
  return (
    <div className="welcome">
      <h1>What shall we work on?</h1>
      <p className="muted">Start a new chat, or open an earlier one from your chat list. Models can run Python, make charts and write reports; results appear beside the chat.</p>
      <button type="button" className="btn btn-primary" onClick={start}>
        Start a new chat
      </button>
    </div>
  );
}
