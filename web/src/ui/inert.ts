/**
 * Blobs given a URL on PENNY's origin. A `blob:` URL belongs to the page that made it, so
 * an SVG or HTML file from a model or another user, opened on its own from such a URL (a new
 * tab, "open image"), would run its script as PENNY. These helpers make sure it cannot.
 */

/** Content types a browser renders as an active document (HTML, SVG, any XML). */
const ACTIVE = /^\s*(text\/html|application\/xhtml\+xml|image\/svg\+xml|text\/xml|application\/xml|[\w.+-]+\/[\w.+-]+\+xml)\s*(;|$)/i;

export function isActive(type: string): boolean {
  return ACTIVE.test(type);
}

/** The blob itself, or, when its type could run script, the same bytes as a download. */
export function inert(blob: Blob): Blob {
  return isActive(blob.type) ? new Blob([blob], { type: 'application/octet-stream' }) : blob;
}

/**
 * A URL to show an image from: an object URL, except for SVG, which gets a `data:` URL
 * (an opaque origin: opened on its own, its script cannot reach PENNY; inside `<img>` no
 * script runs at all). Free object URLs with `release`.
 */
export async function imageUrl(blob: Blob): Promise<string> {
  if (!isActive(blob.type)) return URL.createObjectURL(blob);
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result));
    r.onerror = () => reject(r.error ?? new Error('could not read the image'));
    r.readAsDataURL(new Blob([blob], { type: 'image/svg+xml' }));
  });
}

export function release(url: string): void {
  if (url.startsWith('blob:')) URL.revokeObjectURL(url);
}
