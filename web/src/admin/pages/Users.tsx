import { useState, type FormEvent } from 'react';
import { ROLES, type OneTimeLink, type UserView } from '../../api/admin';
import { ApiProblem } from '../../api/problem';
import type { Role } from '../../api/types';
import { useMe } from '../../auth/AuthContext';
import { useToast } from '../../ui/toast';
import { admin } from '../api';
import { formatDate, formatDateTime } from '../format';
import { isAdmin } from '../guard';
import { Badge, CopyField, DialogFooter, Empty, Field, fieldErrors, Modal, PageHeader, ResourceState, Table, useAction, useConfirm, useLoad } from '../ui';

/** The absolute address of a one-time link the API returns as a path. */
export function absoluteLink(path: string, origin: string = window.location.origin): string {
  return new URL(path, origin).toString();
}

export function Users() {
  const me = useMe();
  const run = useAction();
  const confirm = useConfirm();
  const users = useLoad(() => admin.users(), [], 'users');
  const [inviting, setInviting] = useState(false);
  const [link, setLink] = useState<{ title: string; intro: string; link: OneTimeLink } | null>(null);
  const [pending, setPending] = useState<string | null>(null);
  const amAdmin = isAdmin(me);
  /** Managers may not act on admins nor hand out the admin role. */
  const mayTouch = (u: UserView) => amAdmin || u.role !== 'admin';
  const grantable: readonly Role[] = amAdmin ? ROLES : ROLES.filter((r) => r !== 'admin');

  const replace = (u: UserView) => users.setData((list) => list?.map((x) => (x.id === u.id ? u : x)) ?? null);

  /** Runs `task` with the user's row locked. */
  const act = async (id: string, task: () => Promise<unknown>) => {
    setPending(id);
    try {
      await task();
    } finally {
      setPending(null);
    }
  };

  const changeRole = (u: UserView, role: Role) =>
    act(u.id, async () => {
      replace({ ...u, role }); // at once; the server's answer follows
      const ok = await run(async () => replace(await admin.updateUser(u.id, { role })), {
        done: `${u.email} is now ${role === 'admin' ? 'an' : 'a'} ${role}`,
        failed: 'Could not change the role',
      });
      if (!ok) replace(u);
    });

  const setStatus = async (u: UserView, status: 'active' | 'deactivated') => {
    if (status === 'deactivated') {
      const ok = await confirm({
        title: 'Deactivate user',
        body: (
          <>
            <strong>{u.email}</strong> will be signed out everywhere and cannot sign in until reactivated. Their chats and keys are kept.
          </>
        ),
        confirmLabel: 'Deactivate',
        danger: true,
      });
      if (!ok) return;
    }
    await act(u.id, () =>
      run(async () => replace(await admin.updateUser(u.id, { status })), {
        done: status === 'active' ? `${u.email} reactivated` : `${u.email} deactivated`,
        failed: status === 'active' ? 'Could not reactivate' : 'Could not deactivate',
      }),
    );
  };

  const resetLink = (u: UserView) =>
    act(u.id, () =>
      run(async () => {
        const l = await admin.resetLink(u.id);
        setLink({
          title: 'Password reset link',
          intro: `Send this link to ${u.email}. It lets them choose a new password once; their other sessions end when they do.`,
          link: l,
        });
      }, { failed: 'Could not make a reset link' }),
    );

  const remove = async (u: UserView) => {
    const ok = await confirm({
      title: 'Delete user',
      body: (
        <>
          Delete <strong>{u.email}</strong>? Their sessions and API keys are removed. This cannot be undone.
        </>
      ),
      confirmLabel: 'Delete user',
      danger: true,
    });
    if (!ok) return;
    await act(u.id, () =>
      run(async () => {
        await admin.deleteUser(u.id);
        users.setData((list) => list?.filter((x) => x.id !== u.id) ?? null);
      }, { done: `${u.email} deleted`, failed: 'Could not delete the user' }),
    );
  };

  return (
    <div className="admin-page">
      <PageHeader
        title="Users"
        description="People in this workspace, their roles and access."
        actions={
          <button type="button" className="btn btn-primary" onClick={() => setInviting(true)}>
            Invite user
          </button>
        }
      />
      <ResourceState resource={users} what="users" empty={<Empty title="No users yet">Invite someone to get started.</Empty>}>
        {(list) => (
          <Table caption="Users" columns={['Email', 'Name', 'Role', 'Status', 'Created', { label: 'Actions', hidden: true }]}>
            {list.map((u) => {
              const self = u.id === me.id;
              const locked = !mayTouch(u) || pending === u.id;
              return (
                <tr key={u.id} data-user={u.email}>
                  <th scope="row">
                    {u.email}
                    {self && <span className="muted small"> (you)</span>}
                    {u.is_super_admin && (
                      <>
                        {' '}
                        <Badge tone="neutral">super-admin</Badge>
                      </>
                    )}
                  </th>
                  <td>{u.display_name || <span className="muted">—</span>}</td>
                  <td>
                    <label className="visually-hidden" htmlFor={`role-${u.id}`}>
                      Role of {u.email}
                    </label>
                    <select
                      id={`role-${u.id}`}
                      value={u.role}
                      disabled={locked || self}
                      onChange={(e) => void changeRole(u, e.target.value as Role)}
                    >
                      {(mayTouch(u) ? grantable : ROLES).map((r) => (
                        <option key={r} value={r}>
                          {r}
                        </option>
                      ))}
                    </select>
                  </td>
                  <td>
                    <UserStatus user={u} />
                  </td>
                  <td title={formatDateTime(u.created_at)}>{formatDate(u.created_at)}</td>
                  <td>
                    <div className="row-actions">
                      <button type="button" className="btn btn-small" disabled={locked} onClick={() => void resetLink(u)} aria-label={`Reset password link for ${u.email}`}>
                        Reset link
                      </button>
                      {u.status === 'deactivated' ? (
                        <button type="button" className="btn btn-small" disabled={locked} onClick={() => void setStatus(u, 'active')} aria-label={`Reactivate ${u.email}`}>
                          Reactivate
                        </button>
                      ) : (
                        <button type="button" className="btn btn-small" disabled={locked || self} onClick={() => void setStatus(u, 'deactivated')} aria-label={`Deactivate ${u.email}`}>
                          Deactivate
                        </button>
                      )}
                      <button type="button" className="btn btn-small btn-danger-ghost" disabled={locked || self} onClick={() => void remove(u)} aria-label={`Delete ${u.email}`}>
                        Delete
                      </button>
                    </div>
                  </td>
                </tr>
              );
            })}
          </Table>
        )}
      </ResourceState>

      <InviteDialog
        open={inviting}
        roles={grantable}
        onClose={() => setInviting(false)}
        onInvited={(u) => users.setData((list) => (list ? [...list.filter((x) => x.id !== u.id), u] : [u]))}
      />
      <Modal open={link !== null} title={link?.title ?? ''} onClose={() => setLink(null)}>
        {link && <LinkResult intro={link.intro} link={link.link} onDone={() => setLink(null)} />}
      </Modal>
    </div>
  );
}

/** Deactivated, invited (the invite link not used yet), or active. */
function UserStatus({ user }: { user: UserView }) {
  if (user.status === 'deactivated') return <Badge tone="bad">deactivated</Badge>;
  if (user.invited)
    return (
      <span title="The invite link has not been used yet; a new one comes from Reset link.">
        <Badge tone="warn">invited</Badge>
      </span>
    );
  return <Badge tone={user.status === 'active' ? 'ok' : 'warn'}>{user.status}</Badge>;
}

function LinkResult({ intro, link, onDone }: { intro: string; link: OneTimeLink; onDone: () => void }) {
  return (
    <>
      <p>{intro}</p>
      <CopyField label="One-time link" value={absoluteLink(link.inviteUrl)} />
      <p className="muted small">
        Shown only now. It expires {formatDateTime(link.expiresAt)}.
      </p>
      <div className="modal-actions">
        <button type="button" className="btn btn-primary" onClick={onDone}>
          Done
        </button>
      </div>
    </>
  );
}

function InviteDialog({
  open,
  roles,
  onClose,
  onInvited,
}: {
  open: boolean;
  roles: readonly Role[];
  onClose: () => void;
  onInvited: (u: UserView) => void;
}) {
  const toast = useToast();
  const [email, setEmail] = useState('');
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('creator');
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [result, setResult] = useState<{ email: string; link: OneTimeLink } | null>(null);

  const close = () => {
    setEmail('');
    setName('');
    setRole('creator');
    setErrors({});
    setFormError(null);
    setResult(null);
    onClose();
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    setFormError(null);
    try {
      const r = await admin.invite({ email: email.trim(), role, displayName: name.trim() || undefined });
      onInvited(r.user);
      setResult({ email: r.user.email, link: r });
    } catch (err) {
      const fields = fieldErrors(err);
      setErrors(fields);
      if (err instanceof ApiProblem && err.status === 409) setFormError('Someone with this email is already in the workspace.');
      else if (Object.keys(fields).length === 0) {
        setFormError(err instanceof ApiProblem ? err.detail || err.title : 'Could not send the invitation.');
        toast.error(err, 'Could not invite');
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal open={open} title={result ? 'Invitation created' : 'Invite a user'} onClose={close}>
      {result ? (
        <LinkResult
          intro={`Send this link to ${result.email}. They open it, choose a password and are signed in.`}
          link={result.link}
          onDone={close}
        />
      ) : (
        <form onSubmit={submit}>
          <Field label="Email" error={errors.email}>
            {(p) => <input {...p} type="email" required value={email} onChange={(e) => setEmail(e.target.value)} autoFocus />}
          </Field>
          <Field label="Name (optional)" error={errors.displayName}>
            {(p) => <input {...p} type="text" value={name} onChange={(e) => setName(e.target.value)} />}
          </Field>
          <Field label="Role" error={errors.role} hint={roles.includes('admin') ? undefined : 'Only an admin can invite an admin.'}>
            {(p) => (
              <select {...p} value={role} onChange={(e) => setRole(e.target.value as Role)}>
                {roles.map((r) => (
                  <option key={r} value={r}>
                    {r}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <DialogFooter error={formError} busy={busy} submitLabel="Create invitation" busyLabel="Inviting…" onCancel={close} />
        </form>
      )}
    </Modal>
  );
}
