import { useEffect, type ReactNode } from 'react';
import { admin } from '../api';
import { formatDateTime, formatMs, formatNumber } from '../format';
import { Badge, Empty, PageHeader, ResourceState, Table, useLoad } from '../ui';

const REFRESH_MS = 15_000;

export function Health() {
  const health = useLoad(() => admin.health(), [], 'health');
  const { reload } = health;
  useEffect(() => {
    const t = setInterval(() => {
      if (document.visibilityState === 'visible') reload();
    }, REFRESH_MS);
    return () => clearInterval(t);
  }, [reload]);
  const h = health.data;
  return (
    <div className="admin-page">
      <PageHeader
        title="Health"
        description="Dependencies, running instances and job queues. Refreshes every 15 seconds."
        actions={
          <>
            {h && <Badge tone={h.status === 'ok' ? 'ok' : 'bad'}>{h.status === 'ok' ? 'all systems ok' : h.status}</Badge>}
            <button type="button" className="btn" onClick={reload} disabled={health.loading}>
              {health.loading ? 'Refreshing…' : 'Refresh'}
            </button>
          </>
        }
      />
      <ResourceState resource={health} what="health">
        {(h) => (
          <div className="card-grid">
            <Section id="h-checks" title="Checks" items={h.checks} empty="No checks reported">
              <ul className="check-list">
                {h.checks.map((c) => (
                  <li key={c.name}>
                    <Badge tone={c.ok ? 'ok' : 'bad'}>{c.ok ? 'ok' : 'failed'}</Badge>
                    <strong>{c.name}</strong>
                    <span className="muted small">{formatMs(c.latencyMs)}</span>
                    {c.detail && <span className="small wrap-anywhere check-detail">{c.detail}</span>}
                  </li>
                ))}
              </ul>
            </Section>

            <Section id="h-queues" title="Queues" items={h.queues} empty="No queues">
              <Table className="compact" columns={['Queue', ...['Waiting', 'Active', 'Delayed', 'Completed', 'Failed'].map((label) => ({ label, num: true }))]}>
                {h.queues.map((q) => (
                  <tr key={q.queue}>
                    <th scope="row" className="mono">{q.queue}</th>
                    <td className="num">{formatNumber(q.waiting)}</td>
                    <td className="num">{formatNumber(q.active)}</td>
                    <td className="num">{formatNumber(q.delayed)}</td>
                    <td className="num">{formatNumber(q.completed)}</td>
                    <td className="num">{q.failed > 0 ? <Badge tone="bad">{formatNumber(q.failed)}</Badge> : '0'}</td>
                  </tr>
                ))}
              </Table>
            </Section>

            <Section id="h-instances" title="Instances" items={h.instances} empty="No instances reported">
              <Table className="compact" columns={['Host', 'State', 'Roles', 'Version', 'Started', 'Last seen']}>
                {h.instances.map((i) => (
                  <tr key={i.id}>
                    <th scope="row">
                      {i.host ?? 'Instance'} <span className="mono muted small">{i.id.slice(0, 8)}</span>
                    </th>
                    <td>{i.alive ? <Badge tone="ok">alive</Badge> : <Badge tone="warn">stale</Badge>}</td>
                    <td>{i.roles.join(', ')}</td>
                    <td className="mono small">{i.version}</td>
                    <td>{formatDateTime(i.startedAt)}</td>
                    <td>{formatDateTime(i.lastSeenAt)}</td>
                  </tr>
                ))}
              </Table>
            </Section>

            <Section id="h-failed" title="Recent failed jobs" items={h.recentFailedJobs} empty="No failed jobs">
              <Table className="compact" columns={['When', 'Queue', 'Tool', { label: 'Attempts', num: true }, 'Error']}>
                {h.recentFailedJobs.map((j) => (
                  <tr key={j.id}>
                    <td className="nowrap">{formatDateTime(j.finishedAt)}</td>
                    <td className="mono">{j.queue}</td>
                    <td className="mono">{j.tool}</td>
                    <td className="num">{j.attempts}</td>
                    <td className="wrap-anywhere error-text">{j.error ?? '—'}</td>
                  </tr>
                ))}
              </Table>
            </Section>
          </div>
        )}
      </ResourceState>
    </div>
  );
}

/** A card of the page: its contents, or `empty` when `items` is an empty list. */
function Section({ id, title, items, empty, children }: { id: string; title: string; items: readonly unknown[]; empty: string; children: ReactNode }) {
  return (
    <section className="card card-wide" aria-labelledby={id}>
      <div className="card-head">
        <h2 id={id}>{title}</h2>
      </div>
      {items.length === 0 ? <Empty title={empty} /> : children}
    </section>
  );
}
