import { afterEach, describe, expect, it } from 'vitest';
import { forgetToolChoice, loadToolChoice, saveToolChoice, toolLabel } from './tools';

afterEach(() => localStorage.clear());

describe('tool chips', () => {
  it('labels the built-in tools and keeps an unknown name', () => {
    expect(toolLabel('python_execute')).toBe('Python');
    expect(toolLabel('generate_report')).toBe('Report');
    expect(toolLabel('web_search')).toBe('web_search');
  });

  it('remembers the chosen tools per conversation', () => {
    expect(loadToolChoice('c1')).toBeNull();
    saveToolChoice('c1', ['python_execute']);
    saveToolChoice('c2', []);
    expect(loadToolChoice('c1')).toEqual(['python_execute']);
    expect(loadToolChoice('c2')).toEqual([]);
    expect(loadToolChoice('c3')).toBeNull();
    forgetToolChoice('c1');
    expect(loadToolChoice('c1')).toBeNull();
    expect(loadToolChoice('c2')).toEqual([]);
  });

  it('ignores a stored value it cannot read', () => {
    localStorage.setItem('penny.tools.c1', '{not json');
    expect(loadToolChoice('c1')).toBeNull();
    localStorage.setItem('penny.tools.c1', '{"a":1}');
    expect(loadToolChoice('c1')).toBeNull();
  });
});
