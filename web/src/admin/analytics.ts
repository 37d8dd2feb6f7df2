// Analytics and health answers shaped for the dashboard: KPI tiles, chart rows and the
// Vega-Lite specs drawn from them. Pure functions (tested in analytics.test.ts).
import type { AdminHealth, AnalyticsRow } from '../api/admin';
import { formatMs, formatNumber, formatPercent, formatUsd } from './format';

/** A Vega-Lite spec (kept loose here: vega-embed checks it when drawing). */
export type Spec = Record<string, unknown>;

const n = (v: number | null | undefined): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const nameOf = (r: AnalyticsRow): string => r.label || r.key;

export interface Kpi {
  label: string;
  value: number;
  text: string;
}

export function kpis(totals: AnalyticsRow | null | undefined): Kpi[] {
  const t = totals;
  const tokens = n(t?.inputTokens) + n(t?.outputTokens);
  return [
    { label: 'Active users', value: n(t?.activeUsers), text: formatNumber(n(t?.activeUsers)) },
    { label: 'Conversations', value: n(t?.conversations), text: formatNumber(n(t?.conversations)) },
    { label: 'Messages', value: n(t?.messages), text: formatNumber(n(t?.messages)) },
    { label: 'Tokens', value: tokens, text: formatNumber(tokens) },
    { label: 'Cost', value: n(t?.costUsd), text: formatUsd(n(t?.costUsd)) },
  ];
}

export interface DayPoint {
  date: string;
  series: 'Conversations' | 'Messages';
  value: number;
}

/** Conversations and messages per day (long form: one point per day and series). */
export function perDay(rows: AnalyticsRow[]): DayPoint[] {
  const sorted = [...rows].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return sorted.flatMap((r) => [
    { date: r.key, series: 'Conversations' as const, value: n(r.conversations) },
    { date: r.key, series: 'Messages' as const, value: n(r.messages) },
  ]);
}

export interface TokenPoint {
  model: string;
  kind: 'Input' | 'Output';
  tokens: number;
}

/** Input and output tokens per model, the busiest model first. */
export function tokensByModel(rows: AnalyticsRow[]): TokenPoint[] {
  return [...rows]
    .filter((r) => n(r.inputTokens) + n(r.outputTokens) > 0)
    .sort((a, b) => n(b.inputTokens) + n(b.outputTokens) - (n(a.inputTokens) + n(a.outputTokens)))
    .flatMap((r) => [
      { model: nameOf(r), kind: 'Input' as const, tokens: n(r.inputTokens) },
      { model: nameOf(r), kind: 'Output' as const, tokens: n(r.outputTokens) },
    ]);
}

export interface CostPoint {
  name: string;
  costUsd: number;
  tokens: number;
}

/** Cost per row (model or user), highest first, at most `limit` rows with any usage. */
export function costRanking(rows: AnalyticsRow[], limit = Infinity): CostPoint[] {
  return rows
    .map((r) => ({ name: nameOf(r), costUsd: n(r.costUsd), tokens: n(r.inputTokens) + n(r.outputTokens) }))
    .filter((p) => p.costUsd > 0 || p.tokens > 0)
    .sort((a, b) => b.costUsd - a.costUsd || b.tokens - a.tokens || a.name.localeCompare(b.name))
    .slice(0, limit);
}

export interface TtftPoint {
  model: string;
  stat: 'p50' | 'p95';
  ms: number;
}

/** Time to first token per model, p50 and p95 side by side (models without a figure left out). */
export function ttftByModel(rows: AnalyticsRow[]): TtftPoint[] {
  return rows.flatMap((r) => {
    const out: TtftPoint[] = [];
    if (typeof r.ttftP50Ms === 'number') out.push({ model: nameOf(r), stat: 'p50', ms: r.ttftP50Ms });
    if (typeof r.ttftP95Ms === 'number') out.push({ model: nameOf(r), stat: 'p95', ms: r.ttftP95Ms });
    return out;
  });
}

export interface ToolStat {
  tool: string;
  runs: number;
  failures: number;
  /** failures / runs, null without runs. */
  failureRate: number | null;
  p50Ms: number | null;
  p95Ms: number | null;
}

/** Tool runs with their failure rate and durations, the most used tool first. */
export function toolStats(rows: AnalyticsRow[]): ToolStat[] {
  return rows
    .map((r) => {
      const runs = n(r.toolRuns);
      const failures = n(r.toolFailures);
      return { tool: nameOf(r), runs, failures, failureRate: runs > 0 ? failures / runs : null, p50Ms: r.toolP50Ms, p95Ms: r.toolP95Ms };
    })
    .filter((t) => t.runs > 0)
    .sort((a, b) => b.runs - a.runs || a.tool.localeCompare(b.tool));
}

export interface ToolBar {
  tool: string;
  outcome: 'Succeeded' | 'Failed';
  runs: number;
  failureRate: string;
  p50: string;
  p95: string;
}

/** Tool runs split into succeeded and failed, stacked per tool; the tooltip carries the rest. */
export function toolBars(stats: ToolStat[]): ToolBar[] {
  return stats.flatMap((t) => {
    const common = { tool: t.tool, failureRate: formatPercent(t.failureRate), p50: formatMs(t.p50Ms), p95: formatMs(t.p95Ms) };
    return [
      { ...common, outcome: 'Succeeded' as const, runs: t.runs - t.failures },
      { ...common, outcome: 'Failed' as const, runs: t.failures },
    ];
  });
}

/** Errors by code, most frequent first. */
export function errorBars(errors: { code: string; count: number }[]): { code: string; count: number }[] {
  return errors.filter((e) => e.count > 0).sort((a, b) => b.count - a.count || a.code.localeCompare(b.code));
}

export interface QueuePoint {
  queue: string;
  state: 'waiting' | 'active' | 'delayed' | 'failed';
  count: number;
}

const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

/** Queue depths per state (completed jobs are history, not depth: left out of the chart). */
export function queueDepths(health: Pick<AdminHealth, 'queues'> | null | undefined): QueuePoint[] {
  return (health?.queues ?? []).flatMap((q) => QUEUE_STATES.map((state) => ({ queue: q.queue, state, count: n(q[state]) })));
}

/** Whether a chart would draw nothing but zeros. */
export function allZero<T>(points: T[], value: (p: T) => number): boolean {
  return points.every((p) => value(p) === 0);
}

// --- Vega-Lite specs ---------------------------------------------------------------------

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';

function base(values: unknown[], height = 220): Spec {
  return {
    $schema: SCHEMA,
    width: 'container',
    height,
    autosize: { type: 'fit', contains: 'padding' },
    data: { values },
  };
}

export function perDaySpec(points: DayPoint[]): Spec {
  const day = { field: 'date', type: 'temporal', timeUnit: 'utcyearmonthdate', title: 'Day' };
  return {
    ...base(points),
    mark: { type: 'line', point: true, tooltip: true },
    encoding: {
      x: { ...day, axis: { format: '%b %d', labelOverlap: true } },
      y: { field: 'value', type: 'quantitative', title: 'Count', axis: { tickMinStep: 1 } },
      color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'top' } },
      tooltip: [
        { ...day, format: '%a %b %d, %Y' },
        { field: 'series', type: 'nominal', title: 'Series' },
        { field: 'value', type: 'quantitative', title: 'Count', format: ',' },
      ],
    },
  };
}

export function tokensByModelSpec(points: TokenPoint[]): Spec {
  return {
    ...base(points),
    mark: { type: 'bar', tooltip: true },
    encoding: {
      y: { field: 'model', type: 'nominal', title: null, sort: null },
      x: { field: 'tokens', type: 'quantitative', title: 'Tokens', stack: 'zero' },
      color: { field: 'kind', type: 'nominal', title: null, legend: { orient: 'top' } },
      tooltip: [
        { field: 'model', type: 'nominal', title: 'Model' },
        { field: 'kind', type: 'nominal', title: 'Tokens' },
        { field: 'tokens', type: 'quantitative', title: 'Count', format: ',' },
      ],
    },
  };
}

/** A horizontal bar per row of a cost ranking (models or users). */
export function costSpec(points: CostPoint[], what: 'Model' | 'User'): Spec {
  return {
    ...base(points, Math.max(120, points.length * 26)),
    mark: { type: 'bar', tooltip: true },
    encoding: {
      y: { field: 'name', type: 'nominal', title: null, sort: '-x' },
      x: { field: 'costUsd', type: 'quantitative', title: 'Cost (USD)', axis: { format: '$,.4~f' } },
      tooltip: [
        { field: 'name', type: 'nominal', title: what },
        { field: 'costUsd', type: 'quantitative', title: 'Cost (USD)', format: '$,.4f' },
        { field: 'tokens', type: 'quantitative', title: 'Tokens', format: ',' },
      ],
    },
  };
}

export function ttftSpec(points: TtftPoint[]): Spec {
  return {
    ...base(points),
    mark: { type: 'bar', tooltip: true },
    encoding: {
      x: { field: 'model', type: 'nominal', title: null, axis: { labelAngle: 0 } },
      xOffset: { field: 'stat', type: 'nominal', sort: ['p50', 'p95'] },
      y: { field: 'ms', type: 'quantitative', title: 'Time to first token (ms)' },
      color: { field: 'stat', type: 'nominal', title: null, sort: ['p50', 'p95'], legend: { orient: 'top' } },
      tooltip: [
        { field: 'model', type: 'nominal', title: 'Model' },
        { field: 'stat', type: 'nominal', title: 'Percentile' },
        { field: 'ms', type: 'quantitative', title: 'ms', format: ',.0f' },
      ],
    },
  };
}

export function toolSpec(points: ToolBar[]): Spec {
  return {
    ...base(points, Math.max(120, (points.length / 2) * 30)),
    mark: { type: 'bar', tooltip: true },
    encoding: {
      y: { field: 'tool', type: 'nominal', title: null, sort: null },
      x: { field: 'runs', type: 'quantitative', title: 'Runs', stack: 'zero', axis: { tickMinStep: 1 } },
      color: {
        field: 'outcome',
        type: 'nominal',
        title: null,
        scale: { domain: ['Succeeded', 'Failed'], range: ['#3b82f6', '#e5484d'] },
        legend: { orient: 'top' },
      },
      tooltip: [
        { field: 'tool', type: 'nominal', title: 'Tool' },
        { field: 'outcome', type: 'nominal', title: 'Outcome' },
        { field: 'runs', type: 'quantitative', title: 'Runs', format: ',' },
        { field: 'failureRate', type: 'nominal', title: 'Failure rate' },
        { field: 'p50', type: 'nominal', title: 'p50' },
        { field: 'p95', type: 'nominal', title: 'p95' },
      ],
    },
  };
}

export function errorSpec(points: { code: string; count: number }[]): Spec {
  return {
    ...base(points, Math.max(100, points.length * 26)),
    mark: { type: 'bar', tooltip: true, color: '#e5484d' },
    encoding: {
      y: { field: 'code', type: 'nominal', title: null, sort: '-x' },
      x: { field: 'count', type: 'quantitative', title: 'Errors', axis: { tickMinStep: 1 } },
      tooltip: [
        { field: 'code', type: 'nominal', title: 'Code' },
        { field: 'count', type: 'quantitative', title: 'Errors', format: ',' },
      ],
    },
  };
}

export function queueSpec(points: QueuePoint[]): Spec {
  return {
    ...base(points, 180),
    mark: { type: 'bar', tooltip: true },
    encoding: {
      x: { field: 'queue', type: 'nominal', title: null, axis: { labelAngle: 0 } },
      xOffset: { field: 'state', type: 'nominal', sort: [...QUEUE_STATES] },
      y: { field: 'count', type: 'quantitative', title: 'Jobs', axis: { tickMinStep: 1 } },
      color: {
        field: 'state',
        type: 'nominal',
        title: null,
        scale: { domain: [...QUEUE_STATES], range: ['#3b82f6', '#f59e0b', '#a855f7', '#e5484d'] },
        legend: { orient: 'top' },
      },
      tooltip: [
        { field: 'queue', type: 'nominal', title: 'Queue' },
        { field: 'state', type: 'nominal', title: 'State' },
        { field: 'count', type: 'quantitative', title: 'Jobs', format: ',' },
      ],
    },
  };
}
