import { createContext, useCallback, useContext, useMemo, useRef, useState, type ReactNode } from 'react';
import { ApiProblem } from '../api/problem';

export interface Toast {
  id: number;
  kind: 'error' | 'info';
  title: string;
  detail?: string;
}

interface ToastApi {
  push: (t: Omit<Toast, 'id'>) => void;
  error: (e: unknown, fallbackTitle?: string) => void;
}

const Ctx = createContext<ToastApi | null>(null);

export function problemText(e: unknown, fallbackTitle = 'Something went wrong'): { title: string; detail?: string } {
  if (e instanceof ApiProblem) {
    const field = e.errors.map((f) => `${f.field}: ${f.message}`).join('; ');
    const detail = [e.detail !== e.title ? e.detail : '', field].filter(Boolean).join(' — ');
    return { title: e.title, detail: detail || undefined };
  }
  if (e instanceof Error) return { title: fallbackTitle, detail: e.message };
  return { title: fallbackTitle, detail: String(e) };
}

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const next = useRef(1);
  const dismiss = useCallback((id: number) => setToasts((ts) => ts.filter((t) => t.id !== id)), []);
  const push = useCallback(
    (t: Omit<Toast, 'id'>) => {
      const id = next.current++;
      setToasts((ts) => [...ts.slice(-3), { ...t, id }]);
      setTimeout(() => dismiss(id), t.kind === 'error' ? 8000 : 4000);
    },
    [dismiss],
  );
  const api = useMemo<ToastApi>(
    () => ({ push, error: (e, fallback) => push({ kind: 'error', ...problemText(e, fallback) }) }),
    [push],
  );
  return (
    <Ctx.Provider value={api}>
      {children}
      <div className="toasts" role="region" aria-label="Notifications" aria-live="polite">
        {toasts.map((t) => (
          <div key={t.id} className={`toast toast-${t.kind}`} role={t.kind === 'error' ? 'alert' : 'status'}>
            <div className="toast-body">
              <strong>{t.title}</strong>
              {t.detail && <div className="toast-detail">{t.detail}</div>}
            </div>
            <button type="button" className="btn-ghost btn-icon" aria-label="Dismiss" onClick={() => dismiss(t.id)}>
              ×
            </button>
          </div>
        ))}
      </div>
    </Ctx.Provider>
  );
}

export function useToast(): ToastApi {
  const c = useContext(Ctx);
  if (!c) throw new Error('useToast outside ToastProvider');
  return c;
}
