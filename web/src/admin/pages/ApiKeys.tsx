import { useMemo, useState, type FormEvent } from 'react';
import type { ApiKeyView, CreatedApiKey } from '../../api/admin';
import { useMe } from '../../auth/AuthContext';
import { useToast } from '../../ui/toast';
import { admin } from '../api';
import { formatDate, formatDateTime } from '../format';
import { isAdmin } from '../guard';
import { Badge, CopyField, DialogFooter, Empty, Field, fieldErrors, Modal, PageHeader, ResourceState, Table, useAction, useConfirm, useLoad } from '../ui';

export function ApiKeys() {
  const me = useMe();
  const run = useAction();
  const confirm = useConfirm();
  const keys = useLoad(() => admin.apiKeys(), [], 'API keys');
  // An admin sees every key of the workspace: show whose each one is.
  const owners = useLoad(() => (isAdmin(me) ? admin.users() : Promise.resolve([])), [], 'users');
  const ownerOf = useMemo(() => new Map((owners.data ?? []).map((u) => [u.id, u.email])), [owners.data]);
  const [creating, setCreating] = useState(false);

  const revoke = async (k: ApiKeyView) => {
    const ok = await confirm({
      title: 'Revoke API key',
      body: (
        <>
          Revoke <strong>{k.name}</strong> (<span className="mono">{k.prefix}…</span>)? Programs using it stop working at once.
        </>
      ),
      confirmLabel: 'Revoke key',
      danger: true,
    });
    if (!ok) return;
    await run(async () => {
      await admin.revokeApiKey(k.id);
      keys.reload();
    }, { done: `Key “${k.name}” revoked`, failed: 'Could not revoke the key' });
  };

  return (
    <div className="admin-page">
      <PageHeader
        title="API keys"
        description={isAdmin(me) ? 'Every key of the workspace. A key acts as its owner, with their role.' : 'Your keys. A key acts as you, with your role.'}
        actions={
          <button type="button" className="btn btn-primary" onClick={() => setCreating(true)}>
            Create key
          </button>
        }
      />
      <ResourceState resource={keys} what="API keys" empty={<Empty title="No API keys">Create one to call the API from scripts and other programs.</Empty>}>
        {(list) => (
          <Table caption="API keys" columns={['Name', 'Prefix', isAdmin(me) && 'Owner', 'Created', 'Last used', 'Status', { label: 'Actions', hidden: true }]}>
            {list.map((k) => (
              <tr key={k.id} className={k.revoked_at ? 'dim' : undefined}>
                <th scope="row">{k.name}</th>
                <td className="mono">{k.prefix}…</td>
                {isAdmin(me) && <td>{ownerOf.get(k.user_id) ?? (k.user_id === me.id ? me.email : <span className="muted">—</span>)}</td>}
                <td title={formatDateTime(k.created_at)}>{formatDate(k.created_at)}</td>
                <td>{k.last_used_at ? formatDateTime(k.last_used_at) : <span className="muted">never</span>}</td>
                <td>{k.revoked_at ? <Badge tone="bad">revoked {formatDate(k.revoked_at)}</Badge> : <Badge tone="ok">active</Badge>}</td>
                <td>
                  {!k.revoked_at && (
                    <button type="button" className="btn btn-small btn-danger-ghost" onClick={() => void revoke(k)} aria-label={`Revoke ${k.name}`}>
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </Table>
        )}
      </ResourceState>
      <CreateKeyDialog open={creating} onClose={() => setCreating(false)} onCreated={keys.reload} />
    </div>
  );
}

function CreateKeyDialog({ open, onClose, onCreated }: { open: boolean; onClose: () => void; onCreated: () => void }) {
  const toast = useToast();
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<CreatedApiKey | null>(null);

  const close = () => {
    setName('');
    setError(null);
    setCreated(null);
    onClose();
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      setCreated(await admin.createApiKey(name.trim()));
      onCreated();
    } catch (err) {
      const f = fieldErrors(err);
      if (f.name) setError(f.name);
      else toast.error(err, 'Could not create the key');
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal open={open} title={created ? 'API key created' : 'Create an API key'} onClose={close}>
      {created ? (
        <>
          <p>
            Copy the key now: it is shown only once. Send it as <span className="mono">Authorization: Bearer &lt;key&gt;</span>.
          </p>
          <CopyField label={`Key “${created.name}”`} value={created.secret} />
          <div className="modal-actions">
            <button type="button" className="btn btn-primary" onClick={close}>
              Done
            </button>
          </div>
        </>
      ) : (
        <form onSubmit={submit}>
          <Field label="Name" error={error} hint="Say where it is used, e.g. CI pipeline.">
            {(p) => <input {...p} type="text" required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} autoFocus />}
          </Field>
          <DialogFooter busy={busy} disabled={!name.trim()} submitLabel="Create key" busyLabel="Creating…" onCancel={close} />
        </form>
      )}
    </Modal>
  );
}
