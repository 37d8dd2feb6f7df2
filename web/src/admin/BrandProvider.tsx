import { createContext, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { api } from '../api';
import type { TenantTheme } from '../api/types';
import { useMe } from '../auth/AuthContext';
import { applyAccent, defaultTheme } from './brand';

interface BrandApi {
  theme: TenantTheme;
  /** After the Theme page saved: the whole app follows at once. */
  setTheme: (t: TenantTheme) => void;
}

const Ctx = createContext<BrandApi | null>(null);

/** Loads the tenant's theme once signed in and applies its accent colour to the page. */
export function BrandProvider({ children }: { children: ReactNode }) {
  const me = useMe();
  const [theme, setTheme] = useState<TenantTheme>(() => defaultTheme(me.tenant.name));

  useEffect(() => {
    let gone = false;
    // A theme that cannot be loaded leaves the default look; it is not worth an error.
    api.theme().then(
      (t) => !gone && setTheme(t),
      () => undefined,
    );
    return () => {
      gone = true;
    };
  }, [me.tenant.id]);

  useEffect(() => {
    applyAccent(theme.accentColor);
    return () => applyAccent(null);
  }, [theme.accentColor]);

  const value = useMemo(() => ({ theme, setTheme }), [theme]);
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useBrand(): BrandApi {
  const c = useContext(Ctx);
  if (!c) throw new Error('useBrand outside BrandProvider');
  return c;
}

/** The tenant's logo (or its initial) and name, as the sidebar shows them. */
export function BrandBadge() {
  const { theme } = useBrand();
  const name = theme.name || 'Workspace';
  return (
    <div className="tenant-brand" title={name}>
      {theme.logoUrl ? (
        <img className="tenant-logo" src={theme.logoUrl} alt="" />
      ) : (
        <span className="tenant-logo tenant-initial" aria-hidden="true">
          {name.trim().charAt(0).toUpperCase() || 'W'}
        </span>
      )}
      <span className="tenant-name">{name}</span>
    </div>
  );
}
