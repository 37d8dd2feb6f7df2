import { afterEach, describe, expect, it } from 'vitest';
import { forgetCollectionChoice, lastPicked, loadCollectionChoice, saveCollectionChoice, stillReadable } from './collections';

afterEach(() => localStorage.clear());

describe('the picked collections', () => {
  it('are remembered per conversation', () => {
    expect(loadCollectionChoice('c1')).toBeNull();
    saveCollectionChoice('c1', ['k1', 'k2']);
    saveCollectionChoice('c2', []);
    expect(loadCollectionChoice('c1')).toEqual(['k1', 'k2']);
    expect(loadCollectionChoice('c2')).toEqual([]);
    forgetCollectionChoice('c1');
    expect(loadCollectionChoice('c1')).toBeNull();
    localStorage.setItem('penny.collections.c3', '{not json');
    expect(loadCollectionChoice('c3')).toBeNull();
  });

  it('follow the newest question when none were picked here', () => {
    expect(lastPicked([])).toEqual([]);
    expect(
      lastPicked([
        { role: 'user', collections: [{ id: 'k1', name: 'Handbook' }] },
        { role: 'assistant' },
        { role: 'user', collections: [{ id: 'k2', name: 'Policies' }] },
        { role: 'assistant' },
      ]),
    ).toEqual(['k2']);
    expect(lastPicked([{ role: 'user', collections: [{ id: 'k1', name: 'Handbook' }] }, { role: 'user' }])).toEqual([]);
  });

  it('drop those no longer readable, keeping the order picked', () => {
    expect(stillReadable(['k3', 'gone', 'k1'], [{ id: 'k1' }, { id: 'k2' }, { id: 'k3' }])).toEqual(['k3', 'k1']);
  });
});
