import { useState, type ChangeEvent, type FormEvent } from 'react';
import { Navigate, useLocation } from 'react-router-dom';
import { ApiProblem } from '../api/problem';
import { SetupNotice } from '../setup/SetupNotice';
import { useAuth } from './AuthContext';
import { BrandLarge } from '../ui/Brand';

export function LoginPage() {
  const { state, login } = useAuth();
  const location = useLocation();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [tenant, setTenant] = useState('default');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  if (state.status === 'signedIn') {
    const to = (location.state as { from?: string } | null)?.from ?? '/';
    return <Navigate to={to} replace />;
  }

  // An edit starts a new attempt: the last attempt's error no longer applies.
  const edit = (set: (v: string) => void) => (e: ChangeEvent<HTMLInputElement>) => {
    set(e.target.value);
    setError(null);
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(email.trim(), password, tenant.trim() || 'default');
    } catch (err) {
      setError(
        err instanceof ApiProblem
          ? err.status === 401
            ? 'The email, password or workspace is not right.'
            : err.detail || err.title
          : 'Could not sign in.',
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="login">
      <form className="login-card" onSubmit={submit} aria-labelledby="login-title">
        <BrandLarge />
        <h1 id="login-title">Sign in</h1>
        <p className="muted">Your AI workbench: chat, tools and artifacts.</p>
        <SetupNotice />
        <label className="field">
          <span>Email</span>
          <input type="email" autoComplete="username" required value={email} onChange={edit(setEmail)} autoFocus />
        </label>
        <label className="field">
          <span>Password</span>
          <input type="password" autoComplete="current-password" required value={password} onChange={edit(setPassword)} />
        </label>
        <label className="field">
          <span>Workspace</span>
          <input type="text" autoComplete="organization" required value={tenant} onChange={edit(setTenant)} />
        </label>
        {error && (
          <div className="form-error" role="alert">
            {error}
          </div>
        )}
        <button type="submit" className="btn btn-primary btn-block" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
