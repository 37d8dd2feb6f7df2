// Small building blocks the console's pages share: dialogs and their footers, confirmation, copy-once fields,
// loading and empty states, tables, status badges, a data loader that reports failures as
// toasts and a runner for actions that report their outcome the same way.
import { createContext, useCallback, useContext, useEffect, useId, useRef, useState, type DependencyList, type ReactNode } from 'react';
import { ApiProblem } from '../api/problem';
import { useToast } from '../ui/toast';

// --- dialog ------------------------------------------------------------------------------

interface ModalProps {
  open: boolean;
  title: string;
  onClose: () => void;
  children: ReactNode;
  /** Wider dialog (forms with two columns). */
  wide?: boolean;
}

/** A modal dialog (native <dialog>: focus stays inside, Escape closes, focus returns after). */
export function Modal({ open, title, onClose, children, wide }: ModalProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) {
      if (typeof d.showModal === 'function') d.showModal();
      else d.setAttribute('open', '');
    } else if (!open && d.open) {
      if (typeof d.close === 'function') d.close();
      else d.removeAttribute('open');
    }
  }, [open]);
  return (
    <dialog
      ref={ref}
      className={`modal ${wide ? 'modal-wide' : ''}`}
      aria-labelledby={titleId}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      {open && (
        <div className="modal-body">
          <div className="modal-head">
            <h2 id={titleId}>{title}</h2>
            <button type="button" className="btn-ghost btn-icon" aria-label="Close" onClick={onClose}>
              ×
            </button>
          </div>
          {children}
        </div>
      )}
    </dialog>
  );
}

interface DialogFooterProps {
  /** A form-wide error (not one field's), shown as an alert above the buttons. */
  error?: string | null;
  busy: boolean;
  submitLabel: string;
  /** The submit button's text while `busy`, e.g. "Saving…". */
  busyLabel: string;
  onCancel: () => void;
  /** Keeps submit disabled for a reason other than `busy` (e.g. an empty required field). */
  disabled?: boolean;
  /** Spans both columns of a `wide` dialog's two-column form. */
  wide?: boolean;
}

/** The foot of a dialog's form: its error, Cancel and the submit button (off while busy). */
export function DialogFooter({ error, busy, submitLabel, busyLabel, onCancel, disabled, wide }: DialogFooterProps) {
  const span = wide ? ' span-2' : '';
  return (
    <>
      {error && (
        <div className={`form-error${span}`} role="alert">
          {error}
        </div>
      )}
      <div className={`modal-actions${span}`}>
        <button type="button" className="btn" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" className="btn btn-primary" disabled={busy || disabled}>
          {busy ? busyLabel : submitLabel}
        </button>
      </div>
    </>
  );
}

// --- confirmation ------------------------------------------------------------------------

export interface ConfirmOptions {
  title: string;
  body: ReactNode;
  confirmLabel: string;
  danger?: boolean;
}

type Confirm = (o: ConfirmOptions) => Promise<boolean>;
const ConfirmCtx = createContext<Confirm | null>(null);

/** `const ok = await confirm({...})`: a styled, keyboard-usable replacement for window.confirm. */
export function ConfirmProvider({ children }: { children: ReactNode }) {
  const [ask, setAsk] = useState<(ConfirmOptions & { resolve: (ok: boolean) => void }) | null>(null);
  const confirm = useCallback<Confirm>((o) => new Promise((resolve) => setAsk({ ...o, resolve })), []);
  const answer = (ok: boolean) => {
    ask?.resolve(ok);
    setAsk(null);
  };
  return (
    <ConfirmCtx.Provider value={confirm}>
      {children}
      <Modal open={ask !== null} title={ask?.title ?? ''} onClose={() => answer(false)}>
        <div className="confirm-text">{ask?.body}</div>
        <div className="modal-actions">
          <button type="button" className="btn" onClick={() => answer(false)}>
            Cancel
          </button>
          <button type="button" className={`btn ${ask?.danger ? 'btn-danger' : 'btn-primary'}`} onClick={() => answer(true)} autoFocus>
            {ask?.confirmLabel}
          </button>
        </div>
      </Modal>
    </ConfirmCtx.Provider>
  );
}

export function useConfirm(): Confirm {
  const c = useContext(ConfirmCtx);
  if (!c) throw new Error('useConfirm outside ConfirmProvider');
  return c;
}

// --- copy-once secrets and links -----------------------------------------------------------

/** A read-only value with a Copy button (a link or a key shown once). */
export function CopyField({ label, value }: { label: string; value: string }) {
  const [copied, setCopied] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const id = useId();
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
    } catch {
      // No clipboard permission (http, an old browser): select it for Ctrl+C.
      input.current?.select();
      document.execCommand?.('copy');
    }
    setCopied(true);
    setTimeout(() => setCopied(false), 2000);
  };
  return (
    <div className="copy-field">
      <label htmlFor={id}>{label}</label>
      <div className="row nowrap">
        <input id={id} ref={input} type="text" readOnly value={value} onFocus={(e) => e.currentTarget.select()} className="mono grow-input" />
        <button type="button" className="btn" onClick={copy} aria-live="polite">
          {copied ? 'Copied' : 'Copy'}
        </button>
      </div>
    </div>
  );
}

// --- form fields -------------------------------------------------------------------------

export interface FieldProps {
  id: string;
  'aria-describedby'?: string;
  'aria-invalid'?: boolean;
}

/**
 * A labelled control with its hint and error outside the label (so the accessible name stays
 * the label alone) and tied to the control by aria-describedby.
 */
export function Field({
  label,
  hint,
  error,
  className,
  children,
}: {
  label: ReactNode;
  hint?: ReactNode;
  error?: string | null;
  className?: string;
  children: (p: FieldProps) => ReactNode;
}) {
  const id = useId();
  const described = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ');
  return (
    <div className={`field ${className ?? ''}`}>
      <label htmlFor={id}>{label}</label>
      {children({ id, 'aria-describedby': described || undefined, 'aria-invalid': error ? true : undefined })}
      {hint && (
        <span id={`${id}-hint`} className="muted small field-hint">
          {hint}
        </span>
      )}
      {error && (
        <span id={`${id}-error`} className="field-error">
          {error}
        </span>
      )}
    </div>
  );
}

// --- states and badges ---------------------------------------------------------------------

export function Loading({ what }: { what: string }) {
  return (
    <p className="muted loading" role="status">
      <span className="spinner" aria-hidden="true" /> Loading {what}…
    </p>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <strong>{title}</strong>
      {children && <div className="muted">{children}</div>}
    </div>
  );
}

export function Badge({ tone, children }: { tone: 'ok' | 'bad' | 'warn' | 'neutral'; children: ReactNode }) {
  return <span className={`badge badge-${tone}`}>{children}</span>;
}

/**
 * A column heading of a `Table`: its text, or `{ label, num }` for right-aligned figures and
 * `{ label, hidden }` for one only screen readers need (e.g. "Actions"). `false` leaves it out.
 */
export type Column = string | { label: string; num?: boolean; hidden?: boolean };

/** A scrollable `data-table` (plus `className`, e.g. `compact`) with its column headings. */
export function Table({ caption, columns, className, children }: { caption?: string; columns: (Column | false)[]; className?: string; children: ReactNode }) {
  return (
    <div className="table-scroll">
      <table className={className ? `data-table ${className}` : 'data-table'}>
        {caption && <caption className="visually-hidden">{caption}</caption>}
        <thead>
          <tr>
            {columns.map((c) => {
              if (c === false) return null;
              const { label, num, hidden } = typeof c === 'string' ? { label: c } : c;
              return (
                <th key={label} scope="col" className={num ? 'num' : undefined}>
                  {hidden ? <span className="visually-hidden">{label}</span> : label}
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}

export function PageHeader({ title, description, actions }: { title: string; description?: ReactNode; actions?: ReactNode }) {
  return (
    <header className="page-head">
      <div>
        <h1>{title}</h1>
        {description && <p className="muted">{description}</p>}
      </div>
      {actions && <div className="row">{actions}</div>}
    </header>
  );
}

/** A notice for managers on pages only admins may change. */
export function ReadOnlyNote({ children = 'Only an admin can change these settings; you can look.' }: { children?: ReactNode }) {
  return (
    <p className="note" role="note">
      {children}
    </p>
  );
}

// --- loading data ------------------------------------------------------------------------

export interface Loaded<T> {
  data: T | null;
  loading: boolean;
  error: unknown;
  reload: () => void;
  setData: (f: (d: T | null) => T | null) => void;
}

/** Runs `load` when `deps` change (and on `reload()`); a failure is shown as a toast. */
export function useLoad<T>(load: () => Promise<T>, deps: DependencyList, what: string): Loaded<T> {
  const toast = useToast();
  const [data, setDataState] = useState<T | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let gone = false;
    setLoading(true);
    load().then(
      (d) => {
        if (gone) return;
        setDataState(d);
        setError(null);
        setLoading(false);
      },
      (e: unknown) => {
        if (gone) return;
        setError(e);
        setLoading(false);
        toast.error(e, `Could not load ${what}`);
      },
    );
    return () => {
      gone = true;
    };
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  const setData = useCallback((f: (d: T | null) => T | null) => setDataState(f), []);
  return { data, loading, error, reload, setData };
}

/** What `ResourceState` shows: a `useLoad()` result, or a page's own state of that shape. */
export type Resource<T> = Pick<Loaded<T>, 'data' | 'loading'> & Partial<Pick<Loaded<T>, 'error' | 'reload'>>;

/**
 * A resource's states: until there is data, "Loading {what}…" and a failed load (with Try
 * again); then `empty` for an empty list, else `children(data)`.
 */
export function ResourceState<T>({ resource, what, empty, children }: { resource: Resource<T>; what: string; empty?: ReactNode; children: (data: T) => ReactNode }) {
  const { data, loading, error, reload } = resource;
  if (data === null) {
    return (
      <>
        {loading && <Loading what={what} />}
        {error != null && reload && <LoadError error={error} onRetry={reload} />}
      </>
    );
  }
  if (Array.isArray(data) && data.length === 0) return <>{empty}</>;
  return <>{children(data)}</>;
}

// --- actions -----------------------------------------------------------------------------

export interface ActionText {
  /** The notice shown when the action succeeds (none when left out). */
  done?: string;
  /** The title of the error toast when it fails. */
  failed: string;
}

/**
 * `run(fn, { done, failed })` awaits `fn`, then shows `done` as a notice or, when it throws,
 * the error as a toast titled `failed`. Resolves to whether `fn` succeeded; never rejects.
 */
export function useAction(): (fn: () => Promise<unknown>, text: ActionText) => Promise<boolean> {
  const toast = useToast();
  return useCallback(
    async (fn: () => Promise<unknown>, { done, failed }: ActionText) => {
      try {
        await fn();
        if (done) toast.push({ kind: 'info', title: done });
        return true;
      } catch (e) {
        toast.error(e, failed);
        return false;
      }
    },
    [toast],
  );
}

/** Field errors of a problem+json 422, by field name. */
export function fieldErrors(e: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (e instanceof ApiProblem) for (const f of e.errors) out[f.field] = f.message;
  return out;
}

/** A failed load's message in words (for a page that could not load at all). */
export function LoadError({ error, onRetry }: { error: unknown; onRetry: () => void }) {
  const text =
    error instanceof ApiProblem
      ? error.status === 404
        ? 'This part of the console is not available on this server yet.'
        : error.detail || error.title
      : 'Something went wrong.';
  return (
    <div className="empty" role="alert">
      <strong>Could not load this page</strong>
      <div className="muted">{text}</div>
      <button type="button" className="btn" onClick={onRetry}>
        Try again
      </button>
    </div>
  );
}
