import { api } from '../api';
import type { KnowledgeDocument } from '../api/types';
import { formatSize } from '../artifacts/renderers';
import { useToast } from '../ui/toast';
import { openDocument } from './openDocument';
import { isIngesting, kindLabel, progressFraction, progressText, STATUS_LABELS } from './status';
import { ProgressBar } from './UploadList';

interface Props {
  docs: KnowledgeDocument[];
  /** The user may add and remove documents (else no Cancel or Delete). */
  writable: boolean;
  onChanged: () => void;
}

const date = (s: string) => new Date(s).toLocaleDateString(undefined, { dateStyle: 'medium' });
const dateTime = (s: string) => new Date(s).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** The collection's documents, newest first: status and progress, size, version, actions. */
export function DocumentTable({ docs, writable, onChanged }: Props) {
  const toast = useToast();

  const open = async (d: KnowledgeDocument) => {
    try {
      await openDocument(d.id, null);
    } catch (e) {
      toast.error(e, 'Could not open the document');
    }
  };
  const cancel = async (d: KnowledgeDocument) => {
    try {
      await api.cancelDocument(d.id);
    } catch (e) {
      toast.error(e, 'Could not cancel');
    }
    onChanged();
  };
  const remove = async (d: KnowledgeDocument) => {
    if (!window.confirm(`Delete “${d.title}” from this collection? Models will no longer find its passages.`)) return;
    try {
      await api.deleteDocument(d.id);
    } catch (e) {
      toast.error(e, 'Could not delete the document');
    }
    onChanged();
  };

  return (
    <div className="table-scroll doc-table-wrap">
      <table className="doc-table">
        <caption className="visually-hidden">Documents</caption>
        <thead>
          <tr>
            <th scope="col">Document</th>
            <th scope="col">Status</th>
            <th scope="col" className="num">
              Pages
            </th>
            <th scope="col" className="num">
              Passages
            </th>
            <th scope="col" className="num">
              Size
            </th>
            <th scope="col" className="num">
              Version
            </th>
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {docs.map((d) => {
            const progress = progressText(d);
            return (
              <tr key={d.id} aria-label={d.title}>
                <td className="doc-title-cell">
                  <button type="button" className="doc-title" onClick={() => void open(d)} title={`Open ${d.title}`}>
                    {d.title}
                  </button>
                  <div className="muted small" title={`Added ${dateTime(d.createdAt)}`}>
                    {kindLabel(d.mime)} · {date(d.createdAt)}
                  </div>
                </td>
                <td className="doc-status-cell">
                  <span className={`status-badge status-${d.status}`}>{STATUS_LABELS[d.status] ?? d.status}</span>
                  {isIngesting(d) && (
                    <>
                      <ProgressBar fraction={progressFraction(d)} label={`${d.title}: ${progress ?? 'in progress'}`} />
                      {progress && <div className="muted small">{progress}</div>}
                    </>
                  )}
                  {d.status === 'failed' && d.error && <div className="doc-error">{d.error}</div>}
                </td>
                <td className="num">{d.pages ?? '–'}</td>
                <td className="num">{d.status === 'ready' ? (d.chunks ?? 0).toLocaleString() : d.chunksDone ? d.chunksDone.toLocaleString() : '–'}</td>
                <td className="num">{formatSize(d.bytes)}</td>
                <td className="num">v{d.version}</td>
                <td className="doc-actions">
                  {writable && isIngesting(d) && (
                    <button type="button" className="btn btn-small" onClick={() => void cancel(d)} aria-label={`Cancel ${d.title}`}>
                      Cancel
                    </button>
                  )}
                  {writable && (
                    <button type="button" className="btn-ghost btn-small btn-danger-ghost" onClick={() => void remove(d)} aria-label={`Delete ${d.title}`}>
                      Delete
                    </button>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
