import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { api } from '../api';
import type { Me } from '../api/types';

type AuthState = { status: 'loading' } | { status: 'signedOut' } | { status: 'signedIn'; me: Me };

interface AuthApi {
  state: AuthState;
  login: (email: string, password: string, tenant: string) => Promise<void>;
  logout: () => Promise<void>;
}

const Ctx = createContext<AuthApi | null>(null);

/** The session: restored from the refresh token on load, ended when a refresh fails. */
export function AuthProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<AuthState>(() => (api.hasSession() ? { status: 'loading' } : { status: 'signedOut' }));

  useEffect(() => {
    const off = api.onSessionChange((signedIn) => {
      if (!signedIn) setState({ status: 'signedOut' });
    });
    if (api.hasSession()) {
      api.me().then(
        (me) => setState({ status: 'signedIn', me }),
        () => setState({ status: 'signedOut' }),
      );
    }
    return off;
  }, []);

  const login = useCallback(async (email: string, password: string, tenant: string) => {
    await api.login(email, password, tenant);
    const me = await api.me();
    setState({ status: 'signedIn', me });
  }, []);

  const logout = useCallback(async () => {
    await api.logout();
    setState({ status: 'signedOut' });
  }, []);

  const value = useMemo(() => ({ state, login, logout }), [state, login, logout]);
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useAuth(): AuthApi {
  const c = useContext(Ctx);
  if (!c) throw new Error('useAuth outside AuthProvider');
  return c;
}

export function useMe(): Me {
  const { state } = useAuth();
  if (state.status !== 'signedIn') throw new Error('not signed in');
  return state.me;
}
