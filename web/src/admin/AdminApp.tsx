// The admin console (/admin/*): its own chunk, loaded only when staff open it.
import { useEffect, useState } from 'react';
import { Link, Navigate, NavLink, Route, Routes, useLocation } from 'react-router-dom';
import { useAuth, useMe } from '../auth/AuthContext';
import { ErrorBoundary } from '../ui/ErrorBoundary';
import { useTheme } from '../ui/theme';
import { BrandBadge } from './BrandProvider';
import { isSuperAdmin } from './guard';
import { ApiKeys } from './pages/ApiKeys';
import { Audit } from './pages/Audit';
import { Dashboard } from './pages/Dashboard';
import { Health } from './pages/Health';
import { Models } from './pages/Models';
import { Policies } from './pages/Policies';
import { Tenants } from './pages/Tenants';
import { Theme } from './pages/Theme';
import { Tools } from './pages/Tools';
import { Users } from './pages/Users';
import { ConfirmProvider } from './ui';
import './admin.css';

interface Section {
  path: string;
  label: string;
  element: JSX.Element;
  superAdmin?: boolean;
}

const SECTIONS: Section[] = [
  { path: '', label: 'Dashboard', element: <Dashboard /> },
  { path: 'users', label: 'Users', element: <Users /> },
  { path: 'api-keys', label: 'API keys', element: <ApiKeys /> },
  { path: 'models', label: 'Models', element: <Models /> },
  { path: 'tools', label: 'Tools', element: <Tools /> },
  { path: 'policies', label: 'Policies', element: <Policies /> },
  { path: 'theme', label: 'Theme', element: <Theme /> },
  { path: 'audit', label: 'Audit log', element: <Audit /> },
  { path: 'health', label: 'Health', element: <Health /> },
  { path: 'tenants', label: 'Tenants', element: <Tenants />, superAdmin: true },
];

export default function AdminApp() {
  const me = useMe();
  const { logout } = useAuth();
  const [theme, cycleTheme] = useTheme();
  const [navOpen, setNavOpen] = useState(false);
  const location = useLocation();
  const sections = SECTIONS.filter((s) => !s.superAdmin || isSuperAdmin(me));
  const current = sections.find((s) => `/admin${s.path ? `/${s.path}` : ''}` === location.pathname.replace(/\/$/, ''));

  useEffect(() => {
    setNavOpen(false);
    document.title = `${current?.label ?? 'Admin'} · PENNY admin`;
    return () => {
      document.title = 'PENNY';
    };
  }, [location.pathname, current]);

  return (
    <ConfirmProvider>
      <div className={`app admin ${navOpen ? 'nav-open' : ''}`}>
        <a className="skip-link" href="#admin-main">
          Skip to content
        </a>
        <header className="topbar">
          <button
            type="button"
            className="btn-ghost btn-icon nav-toggle"
            aria-label="Show the admin menu"
            aria-expanded={navOpen}
            aria-controls="admin-nav"
            onClick={() => setNavOpen((o) => !o)}
          >
            ☰
          </button>
          <Link to="/admin" className="brand brand-link">
            <span className="brand-mark" aria-hidden="true">
              P
            </span>{' '}
            PENNY <span className="admin-tag">Admin</span>
          </Link>
          <div className="topbar-right">
            <span className="muted small user-label" title={me.email}>
              {me.display_name || me.email} · {me.tenant.name} · {me.role}
            </span>
            <Link to="/" className="btn-ghost btn-small topbar-back">
              Back to chat
            </Link>
            <button type="button" className="btn-ghost btn-small" onClick={cycleTheme} aria-label={`Theme: ${theme}. Change theme`}>
              {theme === 'dark' ? '☾ Dark' : theme === 'light' ? '☀ Light' : '◐ Auto'}
            </button>
            <button type="button" className="btn-ghost btn-small" onClick={() => void logout()}>
              Sign out
            </button>
          </div>
        </header>
        <div className="body">
          <nav id="admin-nav" className="sidebar admin-nav" aria-label="Admin">
            <BrandBadge />
            <ul>
              {sections.map((s) => (
                <li key={s.path}>
                  <NavLink to={s.path ? `/admin/${s.path}` : '/admin'} end className="admin-link" onClick={() => setNavOpen(false)}>
                    {s.label}
                  </NavLink>
                </li>
              ))}
            </ul>
            <Link to="/" className="btn btn-block back-link">
              ← Back to chat
            </Link>
          </nav>
          {navOpen && <div className="scrim" onClick={() => setNavOpen(false)} aria-hidden="true" />}
          <main className="main admin-main" id="admin-main" tabIndex={-1}>
            <ErrorBoundary key={location.pathname}>
              <Routes>
                {sections.map((s) => (s.path ? <Route key={s.path} path={s.path} element={s.element} /> : <Route key="index" index element={s.element} />))}
                <Route path="*" element={<Navigate to="/admin" replace />} />
              </Routes>
            </ErrorBoundary>
          </main>
        </div>
      </div>
    </ConfirmProvider>
  );
}
