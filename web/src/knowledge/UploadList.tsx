import type { KnowledgeDocument } from '../api/types';
import { formatSize } from '../artifacts/renderers';
import { isIngesting, progressFraction, progressText, STATUS_LABELS } from './status';
import type { Upload } from './useUploads';

interface Props {
  uploads: Upload[];
  docs: KnowledgeDocument[];
  onClear: (done: (u: Upload) => boolean) => void;
}

interface Row {
  label: string;
  detail: string | null;
  /** 0 to 1, or null for a bar without an amount; undefined for no bar. */
  fraction?: number | null;
  tone: 'busy' | 'ok' | 'error' | 'muted';
}

function row(u: Upload, doc: KnowledgeDocument | undefined): Row {
  switch (u.phase) {
    case 'waiting':
      return { label: 'Waiting', detail: null, fraction: 0, tone: 'muted' };
    case 'uploading':
      return { label: `Uploading ${Math.round(u.progress * 100)}%`, detail: null, fraction: u.progress, tone: 'busy' };
    case 'adding':
      return { label: u.url ? 'Fetching…' : 'Adding…', detail: null, fraction: null, tone: 'busy' };
    case 'failed':
      return { label: 'Failed', detail: u.error ?? null, tone: 'error' };
    case 'added': {
      if (!doc) return { label: 'Queued', detail: null, fraction: null, tone: 'busy' };
      const label = STATUS_LABELS[doc.status] ?? doc.status;
      if (doc.status === 'failed') return { label, detail: doc.error, tone: 'error' };
      if (doc.status === 'cancelled') return { label, detail: null, tone: 'muted' };
      if (doc.status === 'ready') {
        const n = doc.chunks ?? 0;
        return { label, detail: `${n} ${n === 1 ? 'passage' : 'passages'}${u.newVersion ? ` · version ${doc.version}` : ''}`, tone: 'ok' };
      }
      return { label, detail: progressText(doc), fraction: progressFraction(doc), tone: 'busy' };
    }
  }
}

/** The files being added, each with its own progress: upload, then ingest. */
export function UploadList({ uploads, docs, onClear }: Props) {
  const byId = new Map(docs.map((d) => [d.id, d]));
  const over = (u: Upload) => {
    const d = u.documentId ? byId.get(u.documentId) : undefined;
    return d !== undefined && !isIngesting(d);
  };
  const finished = uploads.some((u) => u.phase === 'failed' || (u.phase === 'added' && over(u)));
  return (
    <section className="uploads" aria-label="Uploads">
      <div className="uploads-head">
        <h3>Uploads</h3>
        {finished && (
          <button type="button" className="btn-ghost btn-small" onClick={() => onClear(over)}>
            Clear finished
          </button>
        )}
      </div>
      <ul>
        {uploads.map((u) => {
          const r = row(u, u.documentId ? byId.get(u.documentId) : undefined);
          return (
            <li key={u.key} className={`upload upload-${r.tone}`} aria-label={u.name}>
              <div className="upload-line">
                <span className="upload-name" title={u.url ?? u.name}>
                  {u.name}
                </span>
                {(!u.url || u.phase === 'added') && <span className="muted small">{formatSize(u.size)}</span>}
                <span className="upload-state" role="status">
                  {r.label}
                </span>
              </div>
              {r.fraction !== undefined && <ProgressBar fraction={r.fraction} label={`${u.name}: ${r.label}`} />}
              {r.detail && <div className={r.tone === 'error' ? 'upload-error' : 'muted small'}>{r.detail}</div>}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

export function ProgressBar({ fraction, label }: { fraction: number | null; label: string }) {
  return (
    <div
      className={`progress${fraction === null ? ' progress-indeterminate' : ''}`}
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={fraction === null ? undefined : Math.round(fraction * 100)}
    >
      <span style={fraction === null ? undefined : { width: `${Math.round(fraction * 100)}%` }} />
    </div>
  );
}
