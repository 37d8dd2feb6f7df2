// The tenant's look applied to the page: its accent colour as CSS variables (styles.css
// derives the dark-theme variant and the soft tint), plus readable text on the accent.
// Small on purpose: it is part of the chat's first load.
import type { TenantTheme } from '../api/types';

export const DEFAULT_ACCENT = '#4f46e5';

export function isHexColor(v: string): boolean {
  return /^#[0-9a-f]{6}$/i.test(v);
}

/** Black or white text, whichever reads better on `#rrggbb` (perceived brightness, YIQ). */
export function contrastText(hex: string): string {
  const n = parseInt(hex.slice(1), 16);
  const yiq = ((n >> 16) & 255) * 0.299 + ((n >> 8) & 255) * 0.587 + (n & 255) * 0.114;
  return yiq > 150 ? '#111111' : '#ffffff';
}

/**
 * The CSS variables for a tenant accent, or null for the default accent (the built-in
 * palettes, with their own dark-theme accent, then stay as they are).
 */
export function accentVars(accent: string | null | undefined): Record<string, string> | null {
  if (!accent || !isHexColor(accent) || accent.toLowerCase() === DEFAULT_ACCENT) return null;
  return { '--tenant-accent': accent, '--tenant-accent-contrast': contrastText(accent) };
}

/** Sets (or clears, with null) the tenant accent on the document root. */
export function applyAccent(accent: string | null | undefined, root: HTMLElement = document.documentElement): void {
  const vars = accentVars(accent);
  root.style.removeProperty('--tenant-accent');
  root.style.removeProperty('--tenant-accent-contrast');
  if (vars) for (const [k, v] of Object.entries(vars)) root.style.setProperty(k, v);
  if (vars) root.dataset.tenantAccent = '';
  else delete root.dataset.tenantAccent;
}

export function defaultTheme(tenantName: string): TenantTheme {
  return { name: tenantName, logoUrl: null, accentColor: DEFAULT_ACCENT };
}
