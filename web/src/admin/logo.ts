// Checks on a tenant logo before it is sent: the API takes an https:// address or a data: URL
// of a PNG, JPEG or SVG image of at most 256 KiB.

export const MAX_LOGO_BYTES = 256 * 1024;
export const LOGO_TYPES = ['image/png', 'image/jpeg', 'image/svg+xml'];

const kib = (n: number) => `${Math.ceil(n / 1024)} KiB`;

/** Why a chosen file cannot be a logo, or null. */
export function logoFileProblem(file: { type: string; size: number }): string | null {
  if (!LOGO_TYPES.includes(file.type)) return 'Choose a PNG, JPEG or SVG image.';
  if (file.size > MAX_LOGO_BYTES) return `The logo must be at most ${kib(MAX_LOGO_BYTES)}; this image has ${kib(file.size)}.`;
  return null;
}

/** Why a logo value (a data: URL or an address) would be refused, or null. */
export function logoUrlProblem(url: string): string | null {
  const m = /^data:image\/(?:png|jpeg|svg\+xml);base64,(.*)$/s.exec(url);
  if (m) {
    const data = m[1] ?? '';
    const bytes = (data.length / 4) * 3 - (data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0);
    return bytes > MAX_LOGO_BYTES ? `The logo must be at most ${kib(MAX_LOGO_BYTES)}.` : null;
  }
  if (url.startsWith('data:')) return 'Only PNG, JPEG or SVG images can be used.';
  return /^https:\/\/\S+$/.test(url) && url.length <= 2048 ? null : 'Enter an https:// address of an image.';
}

export function readAsDataUrl(file: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result));
    r.onerror = () => reject(r.error ?? new Error('could not read the file'));
    r.readAsDataURL(file);
  });
}
