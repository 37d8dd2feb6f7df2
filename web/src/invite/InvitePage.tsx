// /invite#<token> — accept an invitation (or a password-reset link) without being signed in:
// choose a password, get signed in, land in the chat.
import { useEffect, useState, type FormEvent } from 'react';
import { Link, useLocation } from 'react-router-dom';
import { api } from '../api';
import { ApiProblem } from '../api/problem';
import { MIN_PASSWORD, NewPasswordFields } from '../auth/NewPasswordFields';
import type { Invitation } from '../api/types';
import { BrandLarge } from '../ui/Brand';

type State = { status: 'loading' } | { status: 'invalid'; reason: string } | { status: 'ready'; invitation: Invitation };

/** The message for a link that cannot be used. */
export function invalidReason(e: unknown): string {
  if (e instanceof ApiProblem) {
    if (e.code === 'invite_invalid' || e.status === 404) return 'This link is invalid, has expired or was already used.';
    if (e.status === 0) return 'The server could not be reached. Check your connection and reload the page.';
    return e.detail || e.title;
  }
  return 'This link could not be opened.';
}

export default function InvitePage() {
  // The token is in the fragment, which the browser never sends: it lands in no log.
  const token = decodeURIComponent(useLocation().hash.replace(/^#/, ''));
  const [state, setState] = useState<State>({ status: 'loading' });

  useEffect(() => {
    let gone = false;
    api.invitation(token).then(
      (invitation) => !gone && setState({ status: 'ready', invitation }),
      (e: unknown) => !gone && setState({ status: 'invalid', reason: invalidReason(e) }),
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
            Checking your link…
          </p>
        )}
        {state.status === 'invalid' && (
          <>
            <h1>Link not valid</h1>
            <p className="form-error" role="alert">
              {state.reason}
            </p>
            <p className="muted">Ask your workspace admin for a new link, or sign in if you already have a password.</p>
            <Link to="/login" className="btn btn-primary btn-block">
              Go to sign in
            </Link>
          </>
        )}
        {state.status === 'ready' && <AcceptForm token={token} invitation={state.invitation} />}
      </div>
    </main>
  );
}

function AcceptForm({ token, invitation }: { token: string; invitation: Invitation }) {
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const reset = invitation.purpose === 'reset';

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (password.length < MIN_PASSWORD) return setError(`Use at least ${MIN_PASSWORD} characters.`);
    if (password !== confirm) return setError('The two passwords differ.');
    setBusy(true);
    setError(null);
    try {
      await api.acceptInvitation(token, password);
      // The session is stored like a login's; a fresh load of the app picks it up (and the
      // tenant's theme) and opens the chat.
      window.location.replace('/');
    } catch (err) {
      setBusy(false);
      if (err instanceof ApiProblem && err.code === 'invite_invalid') setError('This link has expired or was already used. Ask for a new one.');
      else if (err instanceof ApiProblem) setError(err.errors.map((f) => f.message).join('; ') || err.detail || err.title);
      else setError('Could not set the password.');
    }
  };

  return (
    <form onSubmit={submit} aria-labelledby="invite-title">
      <h1 id="invite-title">{reset ? 'Choose a new password' : `Join ${invitation.tenantName}`}</h1>
      <p className="muted">
        {reset ? (
          <>
            For <strong>{invitation.email}</strong> in {invitation.tenantName}. Your other sessions end when you save.
          </>
        ) : (
          <>
            You were invited as <strong>{invitation.email}</strong>. Choose a password to finish.
          </>
        )}
      </p>
      <dl className="invite-facts">
        <dt>Workspace</dt>
        <dd>
          {invitation.tenantName} <span className="muted small">({invitation.tenantSlug})</span>
        </dd>
        <dt>Email</dt>
        <dd>{invitation.email}</dd>
      </dl>
      <input type="email" name="username" autoComplete="username" value={invitation.email} readOnly hidden />
      <NewPasswordFields idPrefix="invite" password={password} confirm={confirm} onPassword={setPassword} onConfirm={setConfirm} autoFocus />
      {error && (
        <div className="form-error" role="alert">
          {error}
        </div>
      )}
      <button type="submit" className="btn btn-primary btn-block" disabled={busy}>
        {busy ? 'Saving…' : reset ? 'Save password and sign in' : 'Set password and join'}
      </button>
    </form>
  );
}
