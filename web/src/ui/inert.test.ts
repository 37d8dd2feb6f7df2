import { describe, expect, it } from 'vitest';
import { imageUrl, inert, isActive } from './inert';

describe('blobs that could run script', () => {
  it('are recognised by type', () => {
    for (const t of ['image/svg+xml', 'text/html; charset=utf-8', 'application/xhtml+xml', 'text/xml', 'application/rss+xml', 'IMAGE/SVG+XML']) {
      expect(isActive(t), t).toBe(true);
    }
    for (const t of ['image/png', 'text/plain', 'text/csv', 'application/json', 'application/pdf', '']) {
      expect(isActive(t), t).toBe(false);
    }
  });

  it('become downloads; other blobs stay as they are', () => {
    const svg = new Blob(['<svg onload="alert(1)"/>'], { type: 'image/svg+xml' });
    expect(inert(svg).type).toBe('application/octet-stream');
    const png = new Blob(['x'], { type: 'image/png' });
    expect(inert(png)).toBe(png);
  });

  it('an SVG image is shown from a data: URL, never a blob: URL of this origin', async () => {
    const svg = new Blob(['<svg xmlns="http://www.w3.org/2000/svg"/>'], { type: 'image/svg+xml' });
    const url = await imageUrl(svg);
    expect(url.startsWith('data:image/svg+xml')).toBe(true);
  });
});
