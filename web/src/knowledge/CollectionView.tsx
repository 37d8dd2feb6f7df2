import { useEffect, useRef, useState } from 'react';
import { api } from '../api';
import type { Collection, KnowledgeDocument } from '../api/types';
import { formatSize } from '../artifacts/renderers';
import { problemText, useToast } from '../ui/toast';
import { DocumentTable } from './DocumentTable';
import { ACCESS_LABELS, canWrite, isIngesting } from './status';
import { UploadList } from './UploadList';
import type { Upload } from './useUploads';
import { UploadZone } from './UploadZone';
import { UrlForm } from './UrlForm';

interface Props {
  collection: Collection;
  uploads: Upload[];
  onUpload: (files: File[]) => void;
  /** Add the document at a URL (the server fetches it). */
  onAddUrl: (url: string) => void;
  onClearUploads: (done: (u: Upload) => boolean) => void;
  /** Its counts changed (a document was added, finished, removed). */
  onChanged: () => void;
  onDeleted: () => void;
}

/** Polls the documents this often while any is queued or processing. */
const POLL_MS = 1000;

/** One collection: its facts, the upload zone (for writers), uploads and documents. */
export function CollectionView({ collection: c, uploads, onUpload, onAddUrl, onClearUploads, onChanged, onDeleted }: Props) {
  const toast = useToast();
  const [docs, setDocs] = useState<KnowledgeDocument[] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const statuses = useRef(new Map<string, string>());
  const changed = useRef(onChanged);
  changed.current = onChanged;
  const writable = canWrite(c.access);

  useEffect(() => {
    let gone = false;
    api.documents(c.id).then(
      (list) => {
        if (gone) return;
        // A document that appeared, finished or went away changes the collection's counts.
        const before = statuses.current;
        const now = new Map(list.map((d) => [d.id, d.status]));
        const moved = before.size > 0 && (before.size !== now.size || list.some((d) => before.get(d.id) !== d.status));
        statuses.current = now;
        setDocs(list);
        setLoadError(null);
        if (moved) changed.current();
      },
      (e) => {
        if (gone) return;
        const t = problemText(e, 'Could not load the documents');
        setLoadError(t.detail ? `${t.title}: ${t.detail}` : t.title);
      },
    );
    return () => {
      gone = true;
    };
  }, [c.id, tick]);

  // While any document is being ingested (or an upload is being added), poll.
  const active = (docs?.some(isIngesting) ?? false) || uploads.some((u) => u.phase === 'adding');
  useEffect(() => {
    if (!active || loadError) return;
    const t = window.setTimeout(() => setTick((x) => x + 1), POLL_MS);
    return () => window.clearTimeout(t);
  }, [active, loadError, docs]);

  const refresh = () => setTick((x) => x + 1);
  // A newly added document shows at once.
  const addedKeys = uploads.filter((u) => u.documentId).length;
  useEffect(() => {
    if (addedKeys > 0) setTick((x) => x + 1);
  }, [addedKeys]);

  const removeCollection = async () => {
    const what = c.documents === 1 ? 'its document' : c.documents > 1 ? `its ${c.documents} documents` : '';
    if (!window.confirm(`Delete the collection “${c.name}”${what ? ` and ${what}` : ''}? This cannot be undone.`)) return;
    try {
      await api.deleteCollection(c.id);
      onDeleted();
    } catch (e) {
      toast.error(e, 'Could not delete the collection');
    }
  };

  const access = ACCESS_LABELS[c.access] ?? { label: c.access, title: '' };
  return (
    <div className="collection">
      <div className="collection-head">
        <div className="grow">
          <h2 className="collection-title">{c.name}</h2>
          {c.description && <p className="collection-desc">{c.description}</p>}
          <p className="muted small collection-summary">
            {c.documents === 0
              ? 'No documents'
              : `${c.documents === 1 ? '1 document' : `${c.documents} documents`} (${c.ready} ready) · ${c.chunks.toLocaleString()} ${
                  c.chunks === 1 ? 'passage' : 'passages'
                } · ${formatSize(c.bytes)}`}{' '}
            ·{' '}
            <span className={`access-badge access-${c.access}`} title={access.title}>
              {access.label}
            </span>
          </p>
        </div>
        {c.access === 'manage' && (
          <button type="button" className="btn btn-small btn-danger" onClick={() => void removeCollection()}>
            Delete collection
          </button>
        )}
      </div>

      {writable ? (
        <div className="add-sources">
          <UploadZone onFiles={onUpload} />
          <UrlForm onUrl={onAddUrl} />
        </div>
      ) : (
        <p className="knowledge-note">You can search this collection and open its documents; only its owner and writers can add or remove documents.</p>
      )}
      {uploads.length > 0 && <UploadList uploads={uploads} docs={docs ?? []} onClear={onClearUploads} />}

      {loadError ? (
        <div className="knowledge-note knowledge-note-error" role="alert">
          {loadError}{' '}
          <button type="button" className="btn btn-small" onClick={() => { setLoadError(null); refresh(); }}>
            Try again
          </button>
        </div>
      ) : docs === null ? (
        <p className="muted small" role="status">
          Loading documents…
        </p>
      ) : docs.length === 0 ? (
        <p className="knowledge-empty-docs muted">
          {writable ? 'No documents yet. Drop files or add a URL above to add the first ones.' : 'This collection has no documents yet.'}
        </p>
      ) : (
        <DocumentTable docs={docs} writable={writable} onChanged={refresh} />
      )}
    </div>
  );
}
