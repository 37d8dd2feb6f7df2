import { useState, type FormEvent } from 'react';
import { api } from '../api';
import type { Collection } from '../api/types';
import { isApiProblem } from '../api/problem';
import { useToast } from '../ui/toast';

/** Creates a collection (name and an optional description). */
export function NewCollectionForm({ onCreated }: { onCreated: (c: Collection) => void }) {
  const toast = useToast();
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const n = name.trim();
    if (!n) return;
    setBusy(true);
    setError(null);
    try {
      const c = await api.createCollection({ name: n, description: description.trim() || undefined });
      setName('');
      setDescription('');
      onCreated(c);
    } catch (err) {
      if (isApiProblem(err) && err.code === 'knowledge_unavailable') {
        setError('Knowledge is not available: this server has no embedding model. Ask an administrator to set one up.');
      } else if (isApiProblem(err) && err.status === 403) {
        setError('Your role cannot create collections.');
      } else {
        const field = isApiProblem(err) ? err.errors.find((f) => f.field === 'name') : undefined;
        if (field) setError(`Name: ${field.message}`);
        else toast.error(err, 'Could not create the collection');
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="new-collection" onSubmit={(e) => void submit(e)} aria-label="New collection">
      <h2 className="knowledge-side-title">New collection</h2>
      {error && (
        <div className="form-error" role="alert">
          {error}
        </div>
      )}
      <label className="field">
        Name
        <input type="text" value={name} onChange={(e) => setName(e.target.value)} maxLength={200} required placeholder="e.g. Contracts" />
      </label>
      <label className="field">
        <span>
          Description <span className="muted small">(optional)</span>
        </span>
        <input type="text" value={description} onChange={(e) => setDescription(e.target.value)} maxLength={2000} />
      </label>
      <button type="submit" className="btn btn-primary btn-block" disabled={busy || !name.trim()}>
        {busy ? 'Creating…' : 'Create collection'}
      </button>
    </form>
  );
}
