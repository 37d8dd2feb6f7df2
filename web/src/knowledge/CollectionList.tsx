import { Link } from 'react-router-dom';
import type { Collection } from '../api/types';
import { formatSize } from '../artifacts/renderers';
import { ACCESS_LABELS } from './status';

interface Props {
  collections: Collection[] | null;
  failed: boolean;
  selectedId?: string;
  onRetry: () => void;
}

/** The collections the user can read: name, documents (how many ready), size, access. */
export function CollectionList({ collections, failed, selectedId, onRetry }: Props) {
  if (!collections) {
    return failed ? (
      <div className="knowledge-note">
        Could not load the collections.{' '}
        <button type="button" className="btn btn-small" onClick={onRetry}>
          Try again
        </button>
      </div>
    ) : (
      <p className="muted small pad" role="status">
        Loading collections…
      </p>
    );
  }
  if (collections.length === 0) return <p className="muted small pad">No collections yet.</p>;
  return (
    <ul className="collection-list">
      {collections.map((c) => {
        const access = ACCESS_LABELS[c.access] ?? { label: c.access, title: '' };
        return (
          <li key={c.id}>
            <Link
              to={`/knowledge/${c.id}`}
              className={`collection-link${c.id === selectedId ? ' active' : ''}`}
              aria-current={c.id === selectedId ? 'page' : undefined}
            >
              <span className="collection-name">{c.name}</span>
              <span className="collection-facts muted small">
                {c.documents === 0 ? 'No documents' : `${c.ready} of ${c.documents} ready`} · {formatSize(c.bytes)}
                <span className={`access-badge access-${c.access}`} title={access.title}>
                  {access.label}
                </span>
              </span>
            </Link>
          </li>
        );
      })}
    </ul>
  );
}
