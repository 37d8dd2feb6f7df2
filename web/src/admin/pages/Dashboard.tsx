import { useMemo, useState, type FormEvent } from 'react';
import { Link } from 'react-router-dom';
import type { AdminHealth, Analytics, GroupBy } from '../../api/admin';
import {
  allZero,
  costRanking,
  costSpec,
  errorBars,
  errorSpec,
  kpis,
  perDay,
  perDaySpec,
  queueDepths,
  queueSpec,
  tokensByModel,
  tokensByModelSpec,
  toolBars,
  toolSpec,
  toolStats,
  ttftByModel,
  ttftSpec,
} from '../analytics';
import { admin } from '../api';
import { ChartCard } from '../ChartCard';
import { downloadCsv } from '../csv';
import { presetRange, rangeProblem, type DayRange } from '../dates';
import { formatMs, formatNumber, formatPercent, formatUsd } from '../format';
import { PageHeader, ResourceState, Table, useAction, useLoad } from '../ui';

const PRESETS = [7, 30, 90] as const;
type Preset = (typeof PRESETS)[number] | 'custom';
const GROUPS: GroupBy[] = ['day', 'model', 'user', 'tool'];
const GROUP_LABEL: Record<GroupBy, string> = { day: 'by day', model: 'by model', user: 'by user', tool: 'by tool' };

type ByGroup = Record<GroupBy, Analytics>;

export function Dashboard() {
  const run = useAction();
  const [preset, setPreset] = useState<Preset>(30);
  const [range, setRange] = useState<DayRange>(() => presetRange(30));
  const [draft, setDraft] = useState<DayRange>(range);
  const [draftError, setDraftError] = useState<string | null>(null);
  const [busy, setBusy] = useState<GroupBy | null>(null);

  const analytics = useLoad<ByGroup>(
    async () => {
      const all = await Promise.all(GROUPS.map((groupBy) => admin.analytics({ ...range, groupBy })));
      return Object.fromEntries(GROUPS.map((g, i) => [g, all[i]])) as ByGroup;
    },
    [range.from, range.to],
    'usage analytics',
  );
  const health = useLoad(() => admin.health(), [], 'queue depths');

  const pick = (p: Preset) => {
    setPreset(p);
    if (p !== 'custom') {
      const r = presetRange(p);
      setRange(r);
      setDraft(r);
      setDraftError(null);
    }
  };

  const applyCustom = (e: FormEvent) => {
    e.preventDefault();
    const problem = rangeProblem(draft);
    setDraftError(problem);
    if (!problem) setRange({ ...draft });
  };

  const download = async (groupBy: GroupBy) => {
    setBusy(groupBy);
    await run(() => downloadCsv(() => admin.analyticsCsv({ ...range, groupBy }), `analytics-${groupBy}-${range.from}-${range.to}.csv`), {
      failed: 'Could not download the CSV',
    });
    setBusy(null);
  };

  return (
    <div className="admin-page">
      <PageHeader title="Dashboard" description={`Usage from ${range.from} to ${range.to} (UTC days).`} />

      <div className="toolbar">
        <div className="segmented" role="group" aria-label="Date range">
          {PRESETS.map((p) => (
            <button key={p} type="button" aria-pressed={preset === p} onClick={() => pick(p)}>
              {p} days
            </button>
          ))}
          <button type="button" aria-pressed={preset === 'custom'} onClick={() => pick('custom')}>
            Custom
          </button>
        </div>
        {preset === 'custom' && (
          <form className="row" onSubmit={applyCustom} aria-label="Custom date range">
            <label className="inline-field">
              <span>From</span>
              <input type="date" value={draft.from} max={draft.to} onChange={(e) => setDraft((d) => ({ ...d, from: e.target.value }))} required />
            </label>
            <label className="inline-field">
              <span>To</span>
              <input type="date" value={draft.to} min={draft.from} onChange={(e) => setDraft((d) => ({ ...d, to: e.target.value }))} required />
            </label>
            <button type="submit" className="btn btn-small">
              Apply
            </button>
            {draftError && (
              <span className="field-error" role="alert">
                {draftError}
              </span>
            )}
          </form>
        )}
        <div className="row downloads" role="group" aria-label="Download CSV">
          <span className="muted small">Download CSV:</span>
          {GROUPS.map((g) => (
            <button key={g} type="button" className="btn btn-small" disabled={busy !== null} onClick={() => void download(g)}>
              {busy === g ? 'Preparing…' : GROUP_LABEL[g]}
            </button>
          ))}
        </div>
      </div>

      <ResourceState resource={analytics} what="usage">
        {(data) => <Charts data={data} queues={health.data} stale={analytics.loading} />}
      </ResourceState>
    </div>
  );
}

function Charts({ data, queues, stale }: { data: ByGroup; queues: AdminHealth | null; stale: boolean }) {
  const tiles = kpis(data.day.totals);
  const days = useMemo(() => perDay(data.day.rows), [data.day]);
  const tokens = useMemo(() => tokensByModel(data.model.rows), [data.model]);
  const modelCost = useMemo(() => costRanking(data.model.rows), [data.model]);
  const userCost = useMemo(() => costRanking(data.user.rows, 10), [data.user]);
  const ttft = useMemo(() => ttftByModel(data.model.rows), [data.model]);
  const tools = useMemo(() => toolStats(data.tool.rows), [data.tool]);
  const errors = useMemo(() => errorBars(data.day.errors), [data.day]);
  const depths = useMemo(() => queueDepths(queues), [queues]);

  const specs = useMemo(
    () => ({
      days: allZero(days, (p) => p.value) ? null : perDaySpec(days),
      tokens: tokens.length ? tokensByModelSpec(tokens) : null,
      modelCost: allZero(modelCost, (c) => c.costUsd) ? null : costSpec(modelCost, 'Model'),
      userCost: allZero(userCost, (c) => c.costUsd) ? null : costSpec(userCost, 'User'),
      ttft: ttft.length ? ttftSpec(ttft) : null,
      tools: tools.length ? toolSpec(toolBars(tools)) : null,
      errors: errors.length ? errorSpec(errors) : null,
      queues: depths.length && !allZero(depths, (p) => p.count) ? queueSpec(depths) : null,
    }),
    [days, tokens, modelCost, userCost, ttft, tools, errors, depths],
  );

  return (
    <div className={stale ? 'stale' : undefined} aria-busy={stale}>
      <ul className="kpis" aria-label="Totals">
        {tiles.map((k) => (
          <li key={k.label} className="kpi">
            <span className="kpi-label">{k.label}</span>
            <strong className="kpi-value">{k.text}</strong>
          </li>
        ))}
      </ul>

      <div className="card-grid">
        <ChartCard
          wide
          title="Conversations and messages per day"
          spec={specs.days}
          empty="No conversations in this range."
          table={{ columns: ['Day', 'Series', 'Count'], rows: days.filter((d) => d.value > 0).map((d) => [d.date, d.series, d.value]) }}
        />
        <ChartCard
          title="Tokens by model"
          spec={specs.tokens}
          empty="No tokens used in this range."
          table={{ columns: ['Model', 'Kind', 'Tokens'], rows: tokens.map((t) => [t.model, t.kind, t.tokens]) }}
        />
        <ChartCard
          title="Cost by model"
          spec={specs.modelCost}
          empty={modelCost.length ? 'No cost yet: the models used have no prices (see Models).' : 'No cost in this range.'}
          table={{ columns: ['Model', 'Cost', 'Tokens'], rows: modelCost.map((c) => [c.name, formatUsd(c.costUsd), c.tokens]) }}
        />
        <ChartCard
          title="Cost by user"
          subtitle="top 10"
          spec={specs.userCost}
          empty={userCost.length ? 'No cost yet: the models used have no prices (see Models).' : 'No usage by any user in this range.'}
          table={{ columns: ['User', 'Cost', 'Tokens'], rows: userCost.map((c) => [c.name, formatUsd(c.costUsd), c.tokens]) }}
        />
        <ChartCard
          title="Time to first token"
          subtitle="p50 and p95 per model"
          spec={specs.ttft}
          empty="No answers timed in this range."
          table={{ columns: ['Model', 'Percentile', 'ms'], rows: ttft.map((t) => [t.model, t.stat, Math.round(t.ms)]) }}
        />
        <ChartCard
          wide
          title="Tool runs"
          subtitle="runs, failure rate and duration"
          spec={specs.tools}
          empty="No tool runs in this range."
        >
          {tools.length > 0 && (
            <Table className="compact" columns={['Tool', ...['Runs', 'Failed', 'Failure rate', 'p50', 'p95'].map((label) => ({ label, num: true }))]}>
              {tools.map((t) => (
                <tr key={t.tool}>
                  <th scope="row" className="mono">{t.tool}</th>
                  <td className="num">{formatNumber(t.runs)}</td>
                  <td className="num">{formatNumber(t.failures)}</td>
                  <td className="num">{formatPercent(t.failureRate)}</td>
                  <td className="num">{formatMs(t.p50Ms)}</td>
                  <td className="num">{formatMs(t.p95Ms)}</td>
                </tr>
              ))}
            </Table>
          )}
        </ChartCard>
        <ChartCard
          title="Errors by code"
          spec={specs.errors}
          empty="No errors in this range."
          table={{ columns: ['Code', 'Count'], rows: errors.map((e) => [e.code, e.count]) }}
        />
        <ChartCard
          title="Queue depths"
          subtitle="now"
          spec={specs.queues}
          empty={queues ? 'All queues are empty.' : 'Queue depths are not available.'}
          table={{ columns: ['Queue', 'State', 'Jobs'], rows: depths.map((q) => [q.queue, q.state, q.count]) }}
        >
          <p className="small">
            <Link to="/admin/health">Health and failed jobs →</Link>
          </p>
        </ChartCard>
      </div>
    </div>
  );
}
