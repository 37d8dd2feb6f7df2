import { useState, type FormEvent } from 'react';
import type { TenantView } from '../../api/admin';
import { ApiProblem } from '../../api/problem';
import { useMe } from '../../auth/AuthContext';
import { useToast } from '../../ui/toast';
import { admin } from '../api';
import { formatBytes, formatDate, formatNumber } from '../format';
import { Badge, DialogFooter, Empty, Field, fieldErrors, Modal, PageHeader, ResourceState, Table, useAction, useConfirm, useLoad } from '../ui';

export function Tenants() {
  const me = useMe();
  const run = useAction();
  const confirm = useConfirm();
  const tenants = useLoad(() => admin.tenants(), [], 'tenants');
  const [creating, setCreating] = useState(false);
  const [limitFor, setLimitFor] = useState<TenantView | null>(null);
  const replace = (t: TenantView) => tenants.setData((l) => l?.map((x) => (x.id === t.id ? { ...x, ...t, users: t.users ?? x.users, storageBytes: t.storageBytes ?? x.storageBytes } : x)) ?? null);

  const setStatus = async (t: TenantView, status: 'active' | 'suspended') => {
    const ok = await confirm(
      status === 'suspended'
        ? {
            title: 'Suspend tenant',
            body: (
              <>
                Suspend <strong>{t.name}</strong>? Its {t.users ?? ''} users are refused at once (their data is kept) until it is reactivated.
              </>
            ),
            confirmLabel: 'Suspend tenant',
            danger: true,
          }
        : { title: 'Reactivate tenant', body: <>Let the users of <strong>{t.name}</strong> sign in and work again?</>, confirmLabel: 'Reactivate' },
    );
    if (!ok) return;
    await run(async () => replace(await admin.updateTenant(t.id, { status })), {
      done: `${t.name} ${status === 'suspended' ? 'suspended' : 'reactivated'}`,
      failed: 'Could not change the tenant',
    });
  };

  return (
    <div className="admin-page">
      <PageHeader
        title="Tenants"
        description="Every workspace on this PENNY installation (super-admins only)."
        actions={
          <button type="button" className="btn btn-primary" onClick={() => setCreating(true)}>
            Create tenant
          </button>
        }
      />
      <ResourceState resource={tenants} what="tenants" empty={<Empty title="No tenants" />}>
        {(list) => (
          <Table
            caption="Tenants"
            columns={[
              'Tenant',
              'Status',
              { label: 'Users', num: true },
              { label: 'Storage', num: true },
              { label: 'Rate limit', num: true },
              'Created',
              { label: 'Actions', hidden: true },
            ]}
          >
            {list.map((t) => {
              const own = t.id === me.tenant.id;
              return (
                <tr key={t.id}>
                  <th scope="row">
                    {t.name} <span className="mono muted small">{t.slug}</span>
                    {own && <span className="muted small"> (yours)</span>}
                  </th>
                  <td>{t.status === 'active' ? <Badge tone="ok">active</Badge> : <Badge tone="bad">{t.status}</Badge>}</td>
                  <td className="num">{formatNumber(t.users)}</td>
                  <td className="num">{formatBytes(t.storageBytes)}</td>
                  <td className="num">{t.rateLimitPerMinute === null ? <span className="muted">default</span> : `${formatNumber(t.rateLimitPerMinute)}/min`}</td>
                  <td>{formatDate(t.createdAt)}</td>
                  <td>
                    <div className="row-actions">
                      <button type="button" className="btn btn-small" onClick={() => setLimitFor(t)} aria-label={`Edit the rate limit of ${t.name}`}>
                        Rate limit
                      </button>
                      {t.status === 'suspended' ? (
                        <button type="button" className="btn btn-small" onClick={() => void setStatus(t, 'active')} aria-label={`Reactivate ${t.name}`}>
                          Reactivate
                        </button>
                      ) : (
                        <button
                          type="button"
                          className="btn btn-small btn-danger-ghost"
                          disabled={own}
                          title={own ? 'You cannot suspend your own tenant' : undefined}
                          onClick={() => void setStatus(t, 'suspended')}
                          aria-label={`Suspend ${t.name}`}
                        >
                          Suspend
                        </button>
                      )}
                    </div>
                  </td>
                </tr>
              );
            })}
          </Table>
        )}
      </ResourceState>
      <CreateTenantDialog open={creating} onClose={() => setCreating(false)} onCreated={tenants.reload} />
      {limitFor && (
        <RateLimitDialog
          tenant={limitFor}
          onClose={() => setLimitFor(null)}
          onSaved={(t) => {
            replace(t);
            setLimitFor(null);
          }}
        />
      )}
    </div>
  );
}

function RateLimitDialog({ tenant, onClose, onSaved }: { tenant: TenantView; onClose: () => void; onSaved: (t: TenantView) => void }) {
  const toast = useToast();
  const [value, setValue] = useState(tenant.rateLimitPerMinute === null ? '' : String(tenant.rateLimitPerMinute));
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const t = value.trim();
    const n = t === '' ? null : Number(t);
    if (n !== null && (!Number.isInteger(n) || n < 1)) {
      setError('Enter a whole number of requests per minute, or leave empty for the default.');
      return;
    }
    setBusy(true);
    try {
      onSaved(await admin.updateTenant(tenant.id, { rateLimitPerMinute: n }));
      toast.push({ kind: 'info', title: `Rate limit of ${tenant.name} saved` });
    } catch (err) {
      const f = fieldErrors(err);
      setError(f.rateLimitPerMinute ?? Object.values(f)[0] ?? null);
      if (!Object.keys(f).length) toast.error(err, 'Could not save the rate limit');
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal open title={`Rate limit of ${tenant.name}`} onClose={onClose}>
      <form onSubmit={submit}>
        <Field label="Requests per minute" error={error} hint="Per user of the tenant. Empty uses the server's default.">
          {(p) => <input {...p} type="text" inputMode="numeric" value={value} onChange={(e) => setValue(e.target.value)} placeholder="Server default" autoFocus />}
        </Field>
        <DialogFooter busy={busy} submitLabel="Save" busyLabel="Saving…" onCancel={onClose} />
      </form>
    </Modal>
  );
}

function CreateTenantDialog({ open, onClose, onCreated }: { open: boolean; onClose: () => void; onCreated: () => void }) {
  const toast = useToast();
  const [f, setF] = useState({ name: '', slug: '', admin_email: '', admin_password: '' });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const close = () => {
    setF({ name: '', slug: '', admin_email: '', admin_password: '' });
    setErrors({});
    setFormError(null);
    onClose();
  };
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    setFormError(null);
    try {
      const t = await admin.createTenant({
        name: f.name.trim(),
        slug: f.slug.trim() || undefined,
        admin_email: f.admin_email.trim() || undefined,
        admin_password: f.admin_password || undefined,
      });
      toast.push({ kind: 'info', title: `Tenant ${t.name} created`, detail: `Workspace name for signing in: ${t.slug}` });
      onCreated();
      close();
    } catch (err) {
      const fields = fieldErrors(err);
      setErrors(fields);
      if (!Object.keys(fields).length) {
        setFormError(err instanceof ApiProblem ? (err.status === 409 ? 'A tenant with this slug already exists.' : err.detail || err.title) : 'Could not create the tenant.');
      }
    } finally {
      setBusy(false);
    }
  };
  const input = (k: keyof typeof f, label: string, type: string, extra: Record<string, unknown> = {}) => (
    <Field label={label} error={errors[k]}>
      {(p) => <input {...p} type={type} value={f[k]} onChange={(e) => setF((x) => ({ ...x, [k]: e.target.value }))} {...extra} />}
    </Field>
  );
  return (
    <Modal open={open} title="Create a tenant" onClose={close}>
      <form onSubmit={submit}>
        {input('name', 'Name', 'text', { required: true, autoFocus: true })}
        {input('slug', 'Slug (optional)', 'text', { placeholder: 'derived from the name', pattern: '[a-z0-9-]*' })}
        {input('admin_email', 'First admin’s email (optional)', 'email')}
        {input('admin_password', 'First admin’s password (optional)', 'password', { autoComplete: 'new-password', minLength: 8 })}
        <DialogFooter error={formError} busy={busy} submitLabel="Create tenant" busyLabel="Creating…" onCancel={close} />
      </form>
    </Modal>
  );
}
