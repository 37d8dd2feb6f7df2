import { useEffect } from 'react';
import { admin } from '../api';
import { formatDateTime, formatMs, formatNumber } from '../format';
import { Badge, Empty, LoadError, Loading, PageHeader, useLoad } from '../ui';

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
      {health.loading && !h && <Loading what="health" />}
      {health.error !== null && !h && <LoadError error={health.error} onRetry={reload} />}
      {h && (
        <div className="card-grid">
          <section className="card card-wide" aria-labelledby="h-checks">
            <div className="card-head">
              <h2 id="h-checks">Checks</h2>
            </div>
            {h.checks.length === 0 ? (
              <Empty title="No checks reported" />
            ) : (
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
            )}
          </section>

          <section className="card card-wide" aria-labelledby="h-queues">
            <div className="card-head">
              <h2 id="h-queues">Queues</h2>
            </div>
            {h.queues.length === 0 ? (
              <Empty title="No queues" />
            ) : (
              <div className="table-scroll">
                <table className="data-table compact">
                  <thead>
                    <tr>
                      <th scope="col">Queue</th>
                      <th scope="col" className="num">Waiting</th>
                      <th scope="col" className="num">Active</th>
                      <th scope="col" className="num">Delayed</th>
                      <th scope="col" className="num">Completed</th>
                      <th scope="col" className="num">Failed</th>
                    </tr>
                  </thead>
                  <tbody>
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
                  </tbody>
                </table>
              </div>
            )}
          </section>

          <section className="card card-wide" aria-labelledby="h-instances">
            <div className="card-head">
              <h2 id="h-instances">Instances</h2>
            </div>
            {h.instances.length === 0 ? (
              <Empty title="No instances reported" />
            ) : (
              <div className="table-scroll">
                <table className="data-table compact">
                  <thead>
                    <tr>
                      <th scope="col">Host</th>
                      <th scope="col">State</th>
                      <th scope="col">Roles</th>
                      <th scope="col">Version</th>
                      <th scope="col">Started</th>
                      <th scope="col">Last seen</th>
                    </tr>
                  </thead>
                  <tbody>
                    {h.instances.map((i) => (
                      <tr key={i.id}>
                        <th scope="row">
                          {i.host} <span className="mono muted small">{i.id.slice(0, 8)}</span>
                        </th>
                        <td>{i.alive ? <Badge tone="ok">alive</Badge> : <Badge tone="warn">stale</Badge>}</td>
                        <td>{i.roles.join(', ')}</td>
                        <td className="mono small">{i.version}</td>
                        <td>{formatDateTime(i.startedAt)}</td>
                        <td>{formatDateTime(i.lastSeenAt)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </section>

          <section className="card card-wide" aria-labelledby="h-failed">
            <div className="card-head">
              <h2 id="h-failed">Recent failed jobs</h2>
            </div>
            {h.recentFailedJobs.length === 0 ? (
              <Empty title="No failed jobs" />
            ) : (
              <div className="table-scroll">
                <table className="data-table compact">
                  <thead>
                    <tr>
                      <th scope="col">When</th>
                      <th scope="col">Queue</th>
                      <th scope="col">Tool</th>
                      <th scope="col" className="num">Attempts</th>
                      <th scope="col">Error</th>
                    </tr>
                  </thead>
                  <tbody>
                    {h.recentFailedJobs.map((j) => (
                      <tr key={j.id}>
                        <td className="nowrap">{formatDateTime(j.finishedAt)}</td>
                        <td className="mono">{j.queue}</td>
                        <td className="mono">{j.tool}</td>
                        <td className="num">{j.attempts}</td>
                        <td className="wrap-anywhere error-text">{j.error ?? '—'}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </section>
        </div>
      )}
    </div>
  );
}
