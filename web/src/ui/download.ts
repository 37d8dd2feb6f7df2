import { inert } from './inert';

/** Saves a blob under a file name (a temporary object URL and a click). */
export function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(inert(blob));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
