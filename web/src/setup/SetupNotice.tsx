// The login page's notice while the platform has no admin: signing in cannot work yet, the
// set-up link `penny serve` printed is the way in.
import { useEffect, useState } from 'react';
import { api } from '../api';
import './setup.css';

export function SetupNotice() {
  const [needed, setNeeded] = useState(false);

  useEffect(() => {
    let gone = false;
    // A failed check shows nothing: the login form still reports its own errors.
    api.setupStatus().then(
      (s) => !gone && setNeeded(s.needed),
      () => undefined,
    );
    return () => {
      gone = true;
    };
  }, []);

  if (!needed) return null;
  return (
    <div className="setup-notice" role="status">
      <strong>This PENNY has no administrator yet</strong>
      Open the set-up link that <code>penny serve</code> printed when it started (each start prints one).
    </div>
  );
}
