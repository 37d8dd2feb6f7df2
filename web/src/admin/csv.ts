import type { Download } from '../api/admin';
import { saveBlob } from '../ui/download';

/**
 * Fetches a CSV export through the API client (so the bearer header and token refresh apply;
 * a plain link could not send them) and saves it under the server's file name, or
 * `fallbackName` when the server gave none. Resolves to the name used.
 */
export async function downloadCsv(
  fetchFile: () => Promise<Download>,
  fallbackName: string,
  save: (blob: Blob, filename: string) => void = saveBlob,
): Promise<string> {
  const { blob, filename } = await fetchFile();
  const name = filename || fallbackName;
  save(blob, name);
  return name;
}
