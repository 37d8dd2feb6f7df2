// How a document's ingest reads on the Knowledge page. Pure.
import type { CollectionAccess, DocumentStatus, KnowledgeDocument } from '../api/types';

/** Still being ingested: the page polls while any document is. */
export const isIngesting = (d: Pick<KnowledgeDocument, 'status'>): boolean => d.status === 'queued' || d.status === 'processing';

export const canWrite = (a: CollectionAccess): boolean => a === 'write' || a === 'manage';

export const STATUS_LABELS: Record<DocumentStatus, string> = {
  queued: 'Queued',
  processing: 'Processing',
  ready: 'Ready',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

export const ACCESS_LABELS: Record<CollectionAccess, { label: string; title: string }> = {
  read: { label: 'Read only', title: 'You can search this collection and read its documents.' },
  write: { label: 'Can add', title: 'You can search this collection and add or remove documents.' },
  manage: { label: 'Manage', title: 'You can add and remove documents, and delete the collection.' },
};

const plural = (n: number, one: string, many: string) => `${n.toLocaleString()} ${n === 1 ? one : many}`;

/** The ingest's progress in words, e.g. "Page 3 of 10 · 42 passages"; null when there is none to tell. */
export function progressText(d: KnowledgeDocument): string | null {
  if (d.status === 'queued') return 'Waiting for a worker…';
  if (d.status !== 'processing') return null;
  const parts: string[] = [];
  if (d.pages) parts.push(`Page ${Math.min(d.pagesDone ?? 0, d.pages)} of ${d.pages}`);
  const done = d.chunksDone ?? 0;
  if (d.chunks) parts.push(`${done.toLocaleString()} of ${plural(d.chunks, 'passage', 'passages')}`);
  else if (done > 0) parts.push(plural(done, 'passage', 'passages'));
  return parts.length > 0 ? parts.join(' · ') : 'Reading the file…';
}

/** How far the ingest is, 0 to 1; null when unknown (a bar then shows no amount). */
export function progressFraction(d: KnowledgeDocument): number | null {
  if (d.status === 'ready') return 1;
  if (d.status !== 'processing') return null;
  if (d.chunks && d.chunks > 0) return Math.min(1, (d.chunksDone ?? 0) / d.chunks);
  if (d.pages && d.pages > 0) return Math.min(1, (d.pagesDone ?? 0) / d.pages);
  return null;
}

/** A short form of a content type for the document list ("PDF", "Markdown", …). */
export function kindLabel(mime: string): string {
  const m = mime.split(';')[0]?.trim().toLowerCase() ?? '';
  const known: Record<string, string> = {
    'application/pdf': 'PDF',
    'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'Word',
    'text/html': 'HTML',
    'text/markdown': 'Markdown',
    'text/csv': 'CSV',
    'text/plain': 'Text',
  };
  return known[m] ?? (m || 'File');
}
