import { useCallback, useRef, useState } from 'react';
import { api } from '../api';
import type { KnowledgeDocument } from '../api/types';
import { problemText } from '../ui/toast';

/** One file on its way into a collection: uploaded (or fetched from a URL), then added as a document. */
export interface Upload {
  key: number;
  collectionId: string;
  name: string;
  size: number;
  /** Added from this URL (fetched by the server; no upload progress). */
  url?: string;
  phase: 'waiting' | 'uploading' | 'adding' | 'added' | 'failed';
  /** Of the upload, 0 to 1. */
  progress: number;
  error?: string;
  /** The document it became (then its status tells the rest). */
  documentId?: string;
  /** It replaced an earlier document of the same name (a new version). */
  newVersion?: boolean;
}

/** Files uploaded at once. */
const PARALLEL = 3;

/**
 * Uploads files into collections, a few at a time, each with its own progress; `onAdded`
 * is called when one became a document (to reload the list).
 */
export function useUploads(onAdded: (d: KnowledgeDocument) => void) {
  const [uploads, setUploads] = useState<Upload[]>([]);
  const next = useRef(1);
  const queue = useRef<{ key: number; file: File; collectionId: string }[]>([]);
  const running = useRef(0);
  const added = useRef(onAdded);
  added.current = onAdded;

  const patch = useCallback((key: number, p: Partial<Upload>) => {
    setUploads((us) => us.map((u) => (u.key === key ? { ...u, ...p } : u)));
  }, []);

  const pump = useCallback(() => {
    while (running.current < PARALLEL && queue.current.length > 0) {
      const job = queue.current.shift()!;
      running.current += 1;
      void (async () => {
        try {
          patch(job.key, { phase: 'uploading' });
          const file = await api.upload(job.file, (f) => patch(job.key, { progress: f }));
          patch(job.key, { phase: 'adding', progress: 1 });
          const doc = await api.addDocument(job.collectionId, file.id);
          patch(job.key, { phase: 'added', documentId: doc.id, newVersion: doc.version > 1 });
          added.current(doc);
        } catch (e) {
          const t = problemText(e, 'Upload failed');
          patch(job.key, { phase: 'failed', error: t.detail ? `${t.title}: ${t.detail}` : t.title });
        } finally {
          running.current -= 1;
          pump();
        }
      })();
    }
  }, [patch]);

  const add = useCallback(
    (collectionId: string, files: File[]) => {
      const fresh: Upload[] = files.map((file) => {
        const key = next.current++;
        queue.current.push({ key, file, collectionId });
        return { key, collectionId, name: file.name, size: file.size, phase: 'waiting', progress: 0 };
      });
      setUploads((us) => [...fresh, ...us]);
      pump();
    },
    [pump],
  );

  /** Adds the document at `url`: the server fetches it while the entry reads "Adding…". */
  const addUrl = useCallback(
    (collectionId: string, url: string) => {
      const key = next.current++;
      setUploads((us) => [{ key, collectionId, name: url, size: 0, url, phase: 'adding', progress: 1 }, ...us]);
      void (async () => {
        try {
          const doc = await api.addDocumentFromUrl(collectionId, url);
          patch(key, { phase: 'added', name: doc.title, size: doc.bytes, documentId: doc.id, newVersion: doc.version > 1 });
          added.current(doc);
        } catch (e) {
          const t = problemText(e, 'Could not add the URL');
          patch(key, { phase: 'failed', error: t.detail ? `${t.title}: ${t.detail}` : t.title });
        }
      })();
    },
    [patch],
  );

  /** Forgets the uploads that are over (`done` says which added ones are). */
  const clear = useCallback((done: (u: Upload) => boolean) => {
    setUploads((us) => us.filter((u) => !(u.phase === 'failed' || (u.phase === 'added' && done(u)))));
  }, []);

  return { uploads, add, addUrl, clear };
}
