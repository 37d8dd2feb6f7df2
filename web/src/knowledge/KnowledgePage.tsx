import { useCallback, useEffect, useState } from 'react';
import { useNavigate, useParams } from 'react-router-dom';
import { api } from '../api';
import type { Collection } from '../api/types';
import { useMe } from '../auth/AuthContext';
import { useToast } from '../ui/toast';
import { CollectionList } from './CollectionList';
import { CollectionView } from './CollectionView';
import { NewCollectionForm } from './NewCollectionForm';
import { useUploads } from './useUploads';
import './knowledge.css';

/**
 * Knowledge: the document collections the user can read, one of them open with its
 * documents. Models search them with the `search_documents` tool.
 */
export default function KnowledgePage() {
  const { id } = useParams();
  const navigate = useNavigate();
  const toast = useToast();
  const me = useMe();
  const [collections, setCollections] = useState<Collection[] | null>(null);
  const [failed, setFailed] = useState(false);
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  const { uploads, add, addUrl, clear } = useUploads(reload);

  useEffect(() => {
    let gone = false;
    api.collections().then(
      (l) => {
        if (gone) return;
        setCollections(l);
        setFailed(false);
      },
      (e) => {
        if (gone) return;
        setFailed(true);
        toast.error(e, 'Could not load the collections');
      },
    );
    return () => {
      gone = true;
    };
  }, [tick, toast]);

  const selected = collections?.find((c) => c.id === id) ?? (id ? undefined : collections?.[0]);

  // A collection that is gone (deleted, or access withdrawn): back to the list.
  useEffect(() => {
    if (collections && id && !collections.some((c) => c.id === id)) navigate('/knowledge', { replace: true });
  }, [collections, id, navigate]);

  return (
    <div className="knowledge">
      <header className="knowledge-header">
        <h1>Knowledge</h1>
        <p className="muted">
          Collections of documents that models can search and cite. Turn on <strong>Documents</strong> in a chat to let the model look
          things up here.
        </p>
      </header>
      <div className="knowledge-body">
        <aside className="knowledge-side" aria-label="Collections">
          <CollectionList collections={collections} failed={failed} selectedId={selected?.id} onRetry={reload} />
          {me.role !== 'viewer' && (
            <NewCollectionForm
              onCreated={(c) => {
                // Listed at once, so the page does not take it for a collection that is gone.
                setCollections((l) => [c, ...(l ?? []).filter((x) => x.id !== c.id)]);
                navigate(`/knowledge/${c.id}`);
                reload();
              }}
            />
          )}
        </aside>
        <section className="knowledge-main" aria-label={selected ? `Collection ${selected.name}` : 'Collection'}>
          {selected ? (
            <CollectionView
              key={selected.id}
              collection={selected}
              uploads={uploads.filter((u) => u.collectionId === selected.id)}
              onUpload={(files) => add(selected.id, files)}
              onAddUrl={(url) => addUrl(selected.id, url)}
              onClearUploads={clear}
              onChanged={reload}
              onDeleted={() => {
                reload();
                navigate('/knowledge', { replace: true });
              }}
            />
          ) : collections && collections.length === 0 ? (
            <div className="knowledge-empty">
              <h2>No collections yet</h2>
              <p className="muted">
                {me.role === 'viewer'
                  ? 'Nobody has shared a collection with you yet. Ask a colleague to add you to one.'
                  : 'Create a collection, then drop PDFs, Word files, web pages, Markdown, CSV or text files into it.'}
              </p>
            </div>
          ) : null}
        </section>
      </div>
    </div>
  );
}
