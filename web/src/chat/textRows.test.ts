import { describe, expect, it } from 'vitest';
import { textRows } from './textRows';

describe('textRows', () => {
  it('counts wrapped lines, not only line breaks', () => {
    expect(textRows('x'.repeat(400))).toBe(5);
    expect(textRows('a\nb\nc\nd')).toBe(4);
    expect(textRows('short')).toBe(3);
    expect(textRows('x'.repeat(5000))).toBe(12);
  });
});
