import { Fragment, useCallback, useEffect, useState, type FormEvent } from 'react';
import type { AuditEntry, AuditFilters } from '../../api/admin';
import { admin } from '../api';
import { downloadCsv } from '../csv';
import { utcDay } from '../dates';
import { formatDateTime } from '../format';
import { Empty, PageHeader, ResourceState, Table, useAction } from '../ui';

const ACTIONS = [
  'user.',
  'user.create',
  'user.invite',
  'user.invite_accept',
  'user.update',
  'user.delete',
  'user.reset_link',
  'api_key.',
  'model.',
  'tool.',
  'policies.update',
  'theme.update',
  'tenant.',
];

const EMPTY: AuditFilters = { actor: '', action: '', targetType: '', targetId: '', from: '', to: '' };

/** Only the filters that are set, trimmed. */
function activeFilters(f: AuditFilters): AuditFilters {
  const out: AuditFilters = {};
  for (const [k, v] of Object.entries(f) as [keyof AuditFilters, string | undefined][]) {
    const t = v?.trim();
    if (t) out[k] = t;
  }
  return out;
}

export function Audit() {
  const run = useAction();
  const [draft, setDraft] = useState<AuditFilters>(EMPTY);
  const [filters, setFilters] = useState<AuditFilters>({});
  const [items, setItems] = useState<AuditEntry[]>([]);
  const [next, setNext] = useState<number | string | null>(null);
  const [loading, setLoading] = useState(true);
  const [open, setOpen] = useState<Set<string>>(new Set());
  const [exporting, setExporting] = useState(false);

  const load = useCallback(
    async (f: AuditFilters, before: number | string | null) => {
      setLoading(true);
      await run(async () => {
        const page = await admin.audit(f, before);
        setItems((cur) => (before === null ? page.items : [...cur, ...page.items]));
        setNext(page.nextBefore);
      }, { failed: 'Could not load the audit log' });
      setLoading(false);
    },
    [run],
  );

  useEffect(() => {
    setOpen(new Set());
    void load(filters, null);
  }, [filters, load]);

  const apply = (e: FormEvent) => {
    e.preventDefault();
    setFilters(activeFilters(draft));
  };

  const clear = () => {
    setDraft(EMPTY);
    setFilters({});
  };

  const exportCsv = async () => {
    setExporting(true);
    await run(() => downloadCsv(() => admin.auditCsv(filters), `audit-${utcDay(new Date())}.csv`), { failed: 'Could not export the audit log' });
    setExporting(false);
  };

  const toggle = (id: string) =>
    setOpen((s) => {
      const n = new Set(s);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });

  const field = (k: keyof AuditFilters, label: string, props: Record<string, unknown> = {}) => (
    <label className="inline-field">
      <span>{label}</span>
      <input type="text" value={draft[k] ?? ''} onChange={(e) => setDraft((d) => ({ ...d, [k]: e.target.value }))} {...props} />
    </label>
  );

  return (
    <div className="admin-page">
      <PageHeader
        title="Audit log"
        description="Every change to the workspace, newest first. Records cannot be altered."
        actions={
          <button type="button" className="btn" onClick={() => void exportCsv()} disabled={exporting}>
            {exporting ? 'Exporting…' : 'Export CSV'}
          </button>
        }
      />
      <form className="filters card" onSubmit={apply} aria-label="Filter the audit log">
        {field('actor', 'Actor', { placeholder: 'email or user id' })}
        {field('action', 'Action', { placeholder: 'user.update or user.', list: 'audit-actions' })}
        <datalist id="audit-actions">
          {ACTIONS.map((a) => (
            <option key={a} value={a} />
          ))}
        </datalist>
        {field('targetType', 'Target type', { placeholder: 'user, model…' })}
        {field('targetId', 'Target id')}
        <label className="inline-field">
          <span>From</span>
          <input type="date" value={draft.from ?? ''} onChange={(e) => setDraft((d) => ({ ...d, from: e.target.value }))} />
        </label>
        <label className="inline-field">
          <span>To</span>
          <input type="date" value={draft.to ?? ''} onChange={(e) => setDraft((d) => ({ ...d, to: e.target.value }))} />
        </label>
        <div className="row filters-actions">
          <button type="submit" className="btn btn-primary btn-small">
            Apply filters
          </button>
          <button type="button" className="btn-ghost btn-small" onClick={clear}>
            Clear
          </button>
        </div>
      </form>

      {/* No data yet while a first page loads: a failed load is a toast and an empty list. */}
      <ResourceState
        resource={{ data: loading && items.length === 0 ? null : items, loading }}
        what="the audit log"
        empty={<Empty title="No records">{Object.keys(filters).length ? 'Nothing matches these filters.' : 'Nothing has been recorded yet.'}</Empty>}
      >
        {(list) => (
          <Table className="audit-table" caption="Audit records" columns={[{ label: 'Details', hidden: true }, 'When', 'Actor', 'Action', 'Target', 'IP']}>
            {list.map((a) => {
              const id = String(a.id);
              const expanded = open.has(id);
              return (
                <Fragment key={id}>
                  <tr className={expanded ? 'expanded' : undefined}>
                    <td>
                      <button
                        type="button"
                        className="btn-ghost btn-icon expander"
                        aria-expanded={expanded}
                        aria-controls={`audit-${id}`}
                        aria-label={`${expanded ? 'Hide' : 'Show'} details of ${a.action} at ${formatDateTime(a.at)}`}
                        onClick={() => toggle(id)}
                      >
                        {expanded ? '▾' : '▸'}
                      </button>
                    </td>
                    <td className="nowrap" title={a.at}>
                      {formatDateTime(a.at)}
                    </td>
                    <td>{a.actorEmail ?? a.actorId ?? <span className="muted">system</span>}</td>
                    <td className="mono">{a.action}</td>
                    <td>
                      {a.targetType ? (
                        <>
                          <span>{a.targetType}</span> <span className="mono muted small wrap-anywhere">{a.targetId}</span>
                        </>
                      ) : (
                        <span className="muted">—</span>
                      )}
                    </td>
                    <td className="mono small">{a.ip ?? '—'}</td>
                  </tr>
                  {expanded && (
                    <tr id={`audit-${id}`} className="detail-row">
                      <td />
                      <td colSpan={5}>
                        <dl className="kv">
                          <dt>Record</dt>
                          <dd className="mono">#{id}</dd>
                          {a.actorId && (
                            <>
                              <dt>Actor id</dt>
                              <dd className="mono">{a.actorId}</dd>
                            </>
                          )}
                          <dt>User agent</dt>
                          <dd className="wrap-anywhere">{a.userAgent ?? '—'}</dd>
                          <dt>Request body SHA-256</dt>
                          <dd className="mono wrap-anywhere">{a.payloadSha256 ?? '—'}</dd>
                        </dl>
                        <pre className="json">{JSON.stringify(a.details ?? {}, null, 2)}</pre>
                      </td>
                    </tr>
                  )}
                </Fragment>
              );
            })}
          </Table>
        )}
      </ResourceState>
      {next !== null && items.length > 0 && (
        <div className="center pad">
          <button type="button" className="btn" onClick={() => void load(filters, next)} disabled={loading}>
            {loading ? 'Loading…' : 'Load more'}
          </button>
        </div>
      )}
    </div>
  );
}
