import { useId, useState, type FormEvent } from 'react';

/** Longest URL the server accepts. */
export const MAX_URL = 2048;

/** Why `raw` cannot be added as a document URL, or null when it can. Pure. */
export function urlProblem(raw: string): string | null {
  const s = raw.trim();
  if (!s) return 'Enter a URL.';
  if (s.length > MAX_URL) return `A URL can have at most ${MAX_URL} characters.`;
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return 'This is not a URL (it should start with https://).';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'Only http:// and https:// URLs can be added.';
  if (u.username || u.password) return 'The URL must not contain a user name or password.';
  return null;
}

/**
 * Adds a document by URL: the server fetches it (through its outbound policy) and it
 * is then ingested like an upload, its progress and errors shown in the same list.
 */
export function UrlForm({ onUrl }: { onUrl: (url: string) => void }) {
  const [url, setUrl] = useState('');
  const [error, setError] = useState<string | null>(null);
  const hint = useId();
  const errorId = useId();
  const inputId = useId();

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const problem = urlProblem(url);
    setError(problem);
    if (problem) return;
    onUrl(url.trim());
    setUrl('');
  };

  return (
    <form className="url-form" onSubmit={submit} aria-label="Add a document from a URL" noValidate>
      <label className="url-label" htmlFor={inputId}>
        Add from URL
      </label>
      <div className="url-row">
        <input
          id={inputId}
          type="url"
          inputMode="url"
          value={url}
          onChange={(e) => {
            setUrl(e.target.value);
            if (error) setError(null);
          }}
          maxLength={MAX_URL}
          placeholder="https://example.com/handbook.pdf"
          aria-describedby={error ? `${hint} ${errorId}` : hint}
          aria-invalid={error ? true : undefined}
        />
        <button type="submit" className="btn btn-small" disabled={!url.trim()}>
          Add
        </button>
      </div>
      <div id={hint} className="muted small">
        A web page or a file on the web; the server fetches it once. The same name again becomes a new version.
      </div>
      {error && (
        <div id={errorId} className="upload-error" role="alert">
          {error}
        </div>
      )}
    </form>
  );
}
