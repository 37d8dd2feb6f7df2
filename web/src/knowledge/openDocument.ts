import { api } from '../api';
import { inert } from '../ui/inert';

/** Content types shown as plain text in a tab of their own (HTML as its source, never run). */
const TEXTUAL = /^\s*(text\/|application\/(json|xml|csv|x-ndjson|markdown)|[\w.+-]+\/[\w.+-]+\+(json|xml))/i;

export const isPdf = (type: string): boolean => /^\s*application\/pdf\s*(;|$)/i.test(type);

/**
 * A blob a new tab may show: a PDF as it is, text-like files as `text/plain` (so HTML or
 * SVG from a document cannot run on PENNY's origin), anything else as inert bytes.
 */
export function viewable(blob: Blob): Blob {
  if (isPdf(blob.type)) return blob;
  if (TEXTUAL.test(blob.type)) return new Blob([blob], { type: 'text/plain;charset=utf-8' });
  return inert(blob);
}

/** The URL to open a document's object URL at: a PDF at `page` (its viewer reads `#page=N`). */
export function documentUrl(objectUrl: string, type: string, page?: number | null): string {
  return isPdf(type) && page ? `${objectUrl}#page=${page}` : objectUrl;
}

/**
 * Opens a document in a new tab, at `page` for a PDF. The bytes need the bearer token, so
 * they are fetched here and shown from an object URL. The tab is opened first, while the
 * click still counts as the user's (a tab opened after an await may be blocked).
 */
export async function openDocument(documentId: string, page?: number | null): Promise<void> {
  const tab = window.open('', '_blank');
  if (tab) {
    tab.opener = null;
    tab.document.title = 'Opening…';
    tab.document.body.textContent = 'Opening the document…';
  }
  try {
    const blob = viewable(await api.documentContent(documentId));
    const url = URL.createObjectURL(blob);
    const target = documentUrl(url, blob.type, page);
    if (tab) tab.location.href = target;
    else window.open(target, '_blank');
    // The tab has loaded it by then; a reload of that tab would need a new link.
    window.setTimeout(() => URL.revokeObjectURL(url), 10 * 60_000);
  } catch (e) {
    tab?.close();
    throw e;
  }
}
