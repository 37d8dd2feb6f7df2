import { afterEach, describe, expect, it } from 'vitest';
import { accentVars, applyAccent, contrastText } from './brand';
import { formatBytes, formatMs, formatUsd } from './format';
import { addDays, presetRange, rangeDays, rangeProblem } from './dates';
import { logoFileProblem, logoUrlProblem } from './logo';
import { errorFor, modelRoles, parseLimit, setModelRole, setToolRole } from './policies';

afterEach(() => applyAccent(null));

describe('tenant accent', () => {
  it('picks readable text on the accent', () => {
    expect(contrastText('#ffeb3b')).toBe('#111111');
    expect(contrastText('#ffffff')).toBe('#111111');
    expect(contrastText('#1e3a8a')).toBe('#ffffff');
    expect(contrastText('#0b3d2e')).toBe('#ffffff');
  });

  it('leaves the default accent (and junk) to the built-in palettes', () => {
    expect(accentVars('#4f46e5')).toBeNull();
    expect(accentVars('#4F46E5')).toBeNull();
    expect(accentVars('red')).toBeNull();
    expect(accentVars(null)).toBeNull();
  });

  it('sets the variables on the root, and clears them for the default', () => {
    expect(accentVars('#0b3d2e')).toEqual({ '--tenant-accent': '#0b3d2e', '--tenant-accent-contrast': '#ffffff' });
    applyAccent('#0b3d2e');
    const root = document.documentElement;
    expect(root.dataset.tenantAccent).toBe('');
    expect(root.style.getPropertyValue('--tenant-accent')).toBe('#0b3d2e');
    applyAccent('#4f46e5');
    expect(root.dataset.tenantAccent).toBeUndefined();
    expect(root.style.getPropertyValue('--tenant-accent')).toBe('');
  });
});

describe('formats', () => {
  it('bytes are human-readable in binary units', () => {
    expect([0, 512, 1536, 10 * 1024 * 1024, 3.25 * 1024 ** 3, 5 * 1024 ** 4].map(formatBytes)).toEqual(['0 B', '512 B', '1.5 KiB', '10 MiB', '3.25 GiB', '5 TiB']);
    expect(formatBytes(null)).toBe('—');
  });
  it('money keeps sub-cent amounts visible; durations switch to seconds', () => {
    expect([0, 0.0042, 1.5, 1234.567].map(formatUsd)).toEqual(['$0.00', '$0.0042', '$1.50', '$1,234.57']);
    expect([12.4, 999, 2400, 15000].map(formatMs)).toEqual(['12 ms', '999 ms', '2.40 s', '15.0 s']);
  });
});

describe('date ranges', () => {
  const now = new Date('2025-03-10T23:30:00Z');
  it('presets end today (UTC) and include it', () => {
    expect(presetRange(7, now)).toEqual({ from: '2025-03-04', to: '2025-03-10' });
    expect(rangeDays(presetRange(30, now))).toBe(30);
    expect(presetRange(90, now).from).toBe('2024-12-11');
    expect(addDays('2024-02-28', 1)).toBe('2024-02-29');
  });
  it('custom ranges are checked before asking', () => {
    expect(rangeProblem({ from: '2025-03-10', to: '2025-03-01' })).toMatch(/after/);
    expect(rangeProblem({ from: '2024-01-01', to: '2025-03-01' })).toMatch(/at most 366 days/);
    expect(rangeProblem({ from: '2025-02-30', to: '2025-03-01' })).toMatch(/Pick both/);
    expect(rangeProblem({ from: '2024-03-01', to: '2025-03-01' })).toBeNull(); // 366 days
  });
});

describe('logo checks', () => {
  it('refuses other types and images over 256 KiB', () => {
    expect(logoFileProblem({ type: 'image/gif', size: 10 })).toMatch(/PNG, JPEG or SVG/);
    expect(logoFileProblem({ type: 'image/png', size: 256 * 1024 })).toBeNull();
    expect(logoFileProblem({ type: 'image/svg+xml', size: 256 * 1024 + 1 })).toMatch(/at most 256 KiB; this image has 257 KiB/);
    expect(logoUrlProblem('data:image/png;base64,AAAA')).toBeNull();
    expect(logoUrlProblem('data:text/html;base64,AAAA')).toMatch(/Only PNG/);
    expect(logoUrlProblem(`data:image/png;base64,${'A'.repeat(349_524)}`)).toBeNull(); // 262,143 bytes
    expect(logoUrlProblem(`data:image/png;base64,${'A'.repeat(349_524)}AA==`)).toBeNull(); // 262,144 bytes: the limit
    expect(logoUrlProblem(`data:image/png;base64,${'A'.repeat(349_528)}`)).toMatch(/at most 256 KiB/); // 262,146 bytes
    expect(logoUrlProblem('https://cdn.example.com/logo.svg')).toBeNull();
    expect(logoUrlProblem('http://example.com/x.png')).toMatch(/https/);
  });
});

describe('policy matrices', () => {
  const doc = { modelRoles: {}, toolRoles: {}, maxTokensPerMessage: null, retentionDays: null };
  it('an unlisted model is open to all; unticking a role lists the others; ticking all unlists it', () => {
    expect(modelRoles(doc, 'gpt')).toEqual(['viewer', 'creator', 'manager', 'admin']);
    const d1 = setModelRole(doc, 'gpt', 'viewer', false);
    expect(d1.modelRoles).toEqual({ gpt: ['creator', 'manager', 'admin'] });
    expect(setModelRole(d1, 'gpt', 'viewer', true).modelRoles).toEqual({});
  });
  it('a tool starts from its current grants', () => {
    expect(setToolRole(doc, 'python_execute', ['creator', 'manager', 'admin'], 'viewer', true).toolRoles).toEqual({
      python_execute: ['viewer', 'creator', 'manager', 'admin'],
    });
  });
  it('limits: empty is none, whole numbers only', () => {
    expect(['', ' 4096 ', '0', '1.5', 'abc'].map(parseLimit)).toEqual([null, 4096, undefined, undefined, undefined]);
  });
  it('places a server field error under its section', () => {
    expect(errorFor({ 'modelRoles.gpt': 'unknown role' }, 'modelRoles')).toBe('gpt: unknown role');
    expect(errorFor({ retentionDays: 'must be at least 1' }, 'retentionDays')).toBe('must be at least 1');
    expect(errorFor({}, 'retentionDays')).toBeUndefined();
  });
});
