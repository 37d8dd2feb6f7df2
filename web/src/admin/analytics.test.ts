import { describe, expect, it } from 'vitest';
import type { AnalyticsRow } from '../api/admin';
import {
  allZero,
  costRanking,
  costSpec,
  errorBars,
  kpis,
  perDay,
  perDaySpec,
  queueDepths,
  tokensByModel,
  toolBars,
  toolStats,
  ttftByModel,
  ttftSpec,
} from './analytics';

function row(key: string, r: Partial<AnalyticsRow> = {}): AnalyticsRow {
  return {
    key,
    label: null,
    activeUsers: null,
    conversations: null,
    messages: null,
    runs: null,
    failedRuns: null,
    inputTokens: null,
    outputTokens: null,
    costUsd: null,
    ttftP50Ms: null,
    ttftP95Ms: null,
    toolRuns: null,
    toolFailures: null,
    toolP50Ms: null,
    toolP95Ms: null,
    ...r,
  };
}

describe('KPI tiles', () => {
  it('sum input and output tokens and format cost and counts', () => {
    const t = kpis(row('total', { activeUsers: 3, conversations: 12, messages: 1234, inputTokens: 1000, outputTokens: 2500, costUsd: 0.0042 }));
    expect(t.map((k) => [k.label, k.value, k.text])).toEqual([
      ['Active users', 3, '3'],
      ['Conversations', 12, '12'],
      ['Messages', 1234, '1,234'],
      ['Tokens', 3500, '3,500'],
      ['Cost', 0.0042, '$0.0042'],
    ]);
  });

  it('show zeros when there are no totals', () => {
    expect(kpis(null).map((k) => k.text)).toEqual(['0', '0', '0', '0', '$0.00']);
  });
});

describe('per-day series', () => {
  it('gives one point per day and series, in date order, nulls as zero', () => {
    const pts = perDay([row('2025-03-02', { conversations: 1, messages: 4 }), row('2025-03-01', { conversations: null, messages: 2 })]);
    expect(pts).toEqual([
      { date: '2025-03-01', series: 'Conversations', value: 0 },
      { date: '2025-03-01', series: 'Messages', value: 2 },
      { date: '2025-03-02', series: 'Conversations', value: 1 },
      { date: '2025-03-02', series: 'Messages', value: 4 },
    ]);
    expect(allZero(pts, (p) => p.value)).toBe(false);
    expect(allZero(perDay([row('2025-03-01', { conversations: 0, messages: 0 })]), (p) => p.value)).toBe(true);
  });

  it('draws a line with tooltips that show the day, the series and the number', () => {
    const spec = perDaySpec(perDay([row('2025-03-01', { conversations: 1, messages: 2 })]));
    expect(spec.mark).toMatchObject({ type: 'line', tooltip: true });
    const enc = spec.encoding as Record<string, unknown>;
    expect((enc.tooltip as { field: string }[]).map((t) => t.field)).toEqual(['date', 'series', 'value']);
    expect(enc.x).toMatchObject({ field: 'date', type: 'temporal', timeUnit: 'utcyearmonthdate' });
    expect((spec.data as { values: unknown[] }).values).toHaveLength(2);
  });
});

describe('by model', () => {
  const rows = [
    row('small', { inputTokens: 100, outputTokens: 50, costUsd: 0.01, ttftP50Ms: 120, ttftP95Ms: 300 }),
    row('big', { inputTokens: 1000, outputTokens: 500, costUsd: 0.5, ttftP50Ms: 400, ttftP95Ms: null }),
    row('unused', { inputTokens: 0, outputTokens: 0, costUsd: 0 }),
  ];

  it('stacks input and output tokens per model, busiest first, unused models left out', () => {
    expect(tokensByModel(rows)).toEqual([
      { model: 'big', kind: 'Input', tokens: 1000 },
      { model: 'big', kind: 'Output', tokens: 500 },
      { model: 'small', kind: 'Input', tokens: 100 },
      { model: 'small', kind: 'Output', tokens: 50 },
    ]);
  });

  it('ranks cost highest first', () => {
    expect(costRanking(rows)).toEqual([
      { name: 'big', costUsd: 0.5, tokens: 1500 },
      { name: 'small', costUsd: 0.01, tokens: 150 },
    ]);
  });

  it('puts p50 and p95 side by side and skips missing percentiles', () => {
    expect(ttftByModel(rows)).toEqual([
      { model: 'small', stat: 'p50', ms: 120 },
      { model: 'small', stat: 'p95', ms: 300 },
      { model: 'big', stat: 'p50', ms: 400 },
    ]);
    const spec = ttftSpec(ttftByModel(rows));
    expect((spec.encoding as Record<string, unknown>).xOffset).toMatchObject({ field: 'stat' });
  });
});

describe('cost by user', () => {
  it('keeps the top 10 by cost, labelled by email', () => {
    const users = Array.from({ length: 14 }, (_, i) => row(`u${i}`, { label: `user${i}@x.test`, costUsd: i / 100, inputTokens: 10 }));
    const top = costRanking(users, 10);
    expect(top).toHaveLength(10);
    expect(top[0]).toEqual({ name: 'user13@x.test', costUsd: 0.13, tokens: 10 });
    expect(top[9]?.name).toBe('user4@x.test');
    const spec = costSpec(top, 'User');
    expect((spec.encoding as { y: { sort: string } }).y.sort).toBe('-x');
    expect((spec.encoding as { tooltip: { title: string }[] }).tooltip.map((t) => t.title)).toEqual(['User', 'Cost (USD)', 'Tokens']);
  });
});

describe('tools', () => {
  const rows = [
    row('current_time', { toolRuns: 4, toolFailures: 0, toolP50Ms: 3, toolP95Ms: 9 }),
    row('python_execute', { toolRuns: 10, toolFailures: 3, toolP50Ms: 850, toolP95Ms: 2400 }),
    row('generate_report', { toolRuns: 0, toolFailures: 0 }),
  ];

  it('computes the failure rate and orders by runs, leaving out unused tools', () => {
    expect(toolStats(rows)).toEqual([
      { tool: 'python_execute', runs: 10, failures: 3, failureRate: 0.3, p50Ms: 850, p95Ms: 2400 },
      { tool: 'current_time', runs: 4, failures: 0, failureRate: 0, p50Ms: 3, p95Ms: 9 },
    ]);
  });

  it('splits runs into succeeded and failed bars with readable tooltip figures', () => {
    const bars = toolBars(toolStats(rows));
    expect(bars[0]).toEqual({ tool: 'python_execute', outcome: 'Succeeded', runs: 7, failureRate: '30%', p50: '850 ms', p95: '2.40 s' });
    expect(bars[1]).toMatchObject({ tool: 'python_execute', outcome: 'Failed', runs: 3 });
    expect(bars).toHaveLength(4);
  });
});

describe('errors and queues', () => {
  it('sorts error codes by count and drops zeros', () => {
    expect(
      errorBars([
        { code: 'provider_timeout', count: 2 },
        { code: 'rate_limited', count: 5 },
        { code: 'x', count: 0 },
      ]),
    ).toEqual([
      { code: 'rate_limited', count: 5 },
      { code: 'provider_timeout', count: 2 },
    ]);
  });

  it('turns queue counts into depth points per state (completed left out)', () => {
    const pts = queueDepths({ queues: [{ queue: 'tools', waiting: 2, active: 1, delayed: 0, completed: 99, failed: 4 }] });
    expect(pts).toEqual([
      { queue: 'tools', state: 'waiting', count: 2 },
      { queue: 'tools', state: 'active', count: 1 },
      { queue: 'tools', state: 'delayed', count: 0 },
      { queue: 'tools', state: 'failed', count: 4 },
    ]);
    expect(queueDepths(null)).toEqual([]);
  });
});
