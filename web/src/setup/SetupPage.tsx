// /setup#<token> — first run: the link `penny serve` prints while the platform has no admin.
// Creates that admin (also the platform super-admin), signs them in and opens the chat. The
// token is in the fragment, so it never reaches the server's logs or a Referer header.
import { useEffect, useState, type FormEvent } from 'react';
import { Link, useLocation } from 'react-router-dom';
import { api } from '../api';
import { ApiProblem } from '../api/problem';
import { MIN_PASSWORD, NewPasswordFields } from '../auth/NewPasswordFields';
import { BrandLarge } from '../ui/Brand';

type State = { status: 'loading' } | { status: 'done' } | { status: 'noToken' } | { status: 'ready' } | { status: 'error'; reason: string };

/** The token of a set-up link: everything after `#` (an optional `token=` accepted). */
export function tokenFromHash(hash: string): string {
  const raw = hash.replace(/^#/, '').trim();
  return decodeURIComponent(raw.startsWith('token=') ? raw.slice('token='.length) : raw);
}

export default function SetupPage() {
  const location = useLocation();
  const token = tokenFromHash(location.hash);
  const [state, setState] = useState<State>({ status: 'loading' });

  useEffect(() => {
    let gone = false;
    api.setupStatus().then(
      ({ needed }) => !gone && setState(needed ? { status: token ? 'ready' : 'noToken' } : { status: 'done' }),
      (e: unknown) =>
        !gone &&
        setState({
          status: 'error',
          reason:
            e instanceof ApiProblem && e.status !== 0
              ? e.detail || e.title
              : 'The server could not be reached. Check that `penny serve` is running and reload the page.',
        }),
    );
    return () => {
      gone = true;
    };
  }, [token]);

  return (
    <main className="login">
      <div className="login-card">
        <BrandLarge />
        {state.status === 'loading' && (
          <p className="muted" role="status">
            Checking set-up…
          </p>
        )}
        {state.status === 'done' && <Done />}
        {state.status === 'noToken' && (
          <>
            <h1>Set-up link needed</h1>
            <p className="form-error" role="alert">
              This address has no set-up token.
            </p>
            <p className="muted">
              Open the whole link that <code>penny serve</code> printed (it ends in <code>#setup_…</code>). A restart of{' '}
              <code>penny serve</code> prints a fresh one.
            </p>
          </>
        )}
        {state.status === 'error' && (
          <>
            <h1>Set-up unavailable</h1>
            <p className="form-error" role="alert">
              {state.reason}
            </p>
          </>
        )}
        {state.status === 'ready' && <SetupForm token={token} onDone={() => setState({ status: 'done' })} />}
      </div>
    </main>
  );
}

function Done() {
  return (
    <>
      <h1>Already set up</h1>
      <p className="muted">This PENNY has an administrator. Sign in with your account.</p>
      <Link to="/login" className="btn btn-primary btn-block">
        Go to sign in
      </Link>
    </>
  );
}

function SetupForm({ token, onDone }: { token: string; onDone: () => void }) {
  const [email, setEmail] = useState('');
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (password.length < MIN_PASSWORD) return setError(`Use at least ${MIN_PASSWORD} characters for the password.`);
    if (password !== confirm) return setError('The two passwords differ.');
    setBusy(true);
    setError(null);
    try {
      await api.finishSetup({ token, email: email.trim(), password, displayName: name.trim() || undefined });
      // Signed in like after a login; a fresh load of the app picks the session up and opens the chat.
      window.location.replace('/');
    } catch (err) {
      setBusy(false);
      if (err instanceof ApiProblem && err.code === 'setup_done') onDone();
      else if (err instanceof ApiProblem && err.code === 'setup_token_invalid')
        setError(
          'This set-up link is not valid. Open the latest link that `penny serve` printed (each start prints one; the 16 most recent work).',
        );
      else if (err instanceof ApiProblem) setError(err.errors.map((f) => f.message).join('; ') || err.detail || err.title);
      else setError('Could not finish set-up.');
    }
  };

  return (
    <form onSubmit={submit} aria-labelledby="setup-title">
      <h1 id="setup-title">Set up PENNY</h1>
      <p className="muted">Create the administrator: you manage the workspace, its users and models, and the whole platform.</p>
      <div className="field">
        <label htmlFor="setup-email">Email</label>
        <input id="setup-email" type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} autoFocus />
      </div>
      <div className="field">
        <label htmlFor="setup-name">Name</label>
        <input id="setup-name" type="text" autoComplete="name" maxLength={200} placeholder="Administrator" value={name} onChange={(e) => setName(e.target.value)} />
      </div>
      <NewPasswordFields idPrefix="setup" password={password} confirm={confirm} onPassword={setPassword} onConfirm={setConfirm} />
      {error && (
        <div className="form-error" role="alert">
          {error}
        </div>
      )}
      <button type="submit" className="btn btn-primary btn-block" disabled={busy}>
        {busy ? 'Setting up…' : 'Create administrator'}
      </button>
    </form>
  );
}
