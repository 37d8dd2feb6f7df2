import { useState } from 'react';
import { ROLES, type AdminTool } from '../../api/admin';
import type { Role } from '../../api/types';
import { useMe } from '../../auth/AuthContext';
import { admin } from '../api';
import { isAdmin } from '../guard';
import { SchemaTable } from '../SchemaTable';
import { Badge, Empty, PageHeader, ReadOnlyNote, ResourceState, useAction, useLoad } from '../ui';

export function Tools() {
  const me = useMe();
  const canEdit = isAdmin(me);
  const tools = useLoad(() => admin.tools(), [], 'tools');
  return (
    <div className="admin-page">
      <PageHeader title="Tools" description="What models may call on behalf of people in this workspace, and who may use each tool." />
      {!canEdit && <ReadOnlyNote />}
      <ResourceState resource={tools} what="tools" empty={<Empty title="No tools" />}>
        {(list) => (
          <div className="stack">
            {list.map((t) => (
              <ToolCard key={t.name} tool={t} canEdit={canEdit} onChange={(nt) => tools.setData((l) => l?.map((x) => (x.name === nt.name ? nt : x)) ?? null)} />
            ))}
          </div>
        )}
      </ResourceState>
    </div>
  );
}

function ToolCard({ tool, canEdit, onChange }: { tool: AdminTool; canEdit: boolean; onChange: (t: AdminTool) => void }) {
  const run = useAction();
  const [busy, setBusy] = useState(false);
  const save = async (body: { enabled?: boolean; roles?: Role[] | null }, what: string) => {
    setBusy(true);
    // Show the change at once; the server's answer (or the old state, on failure) follows.
    onChange({ ...tool, ...(body.enabled !== undefined ? { enabled: body.enabled } : {}), ...(body.roles ? { roles: body.roles, customRoles: true } : {}) });
    const ok = await run(async () => onChange(await admin.updateTool(tool.name, body)), { done: `${tool.name}: ${what}`, failed: `Could not change ${tool.name}` });
    if (!ok) onChange(tool);
    setBusy(false);
  };
  const toggleRole = (r: Role, on: boolean) => {
    const roles = ROLES.filter((x) => (x === r ? on : tool.roles.includes(x)));
    void save({ roles }, on ? `${r} may use it` : `${r} may no longer use it`);
  };
  const id = `tool-${tool.name}`;
  return (
    <section className="card" aria-labelledby={`${id}-title`}>
      <div className="card-head">
        <h2 id={`${id}-title`} className="mono">
          {tool.name}
        </h2>
        {tool.enabled ? <Badge tone="ok">enabled</Badge> : <Badge tone="bad">disabled</Badge>}
        <span className="muted small">
          timeout {tool.timeoutSec} s · default from {tool.minRole}
        </span>
      </div>
      <p className="tool-description">{tool.description}</p>
      <div className="tool-controls">
        <span className="switch">
          <input
            id={`${id}-enabled`}
            type="checkbox"
            role="switch"
            checked={tool.enabled}
            disabled={!canEdit || busy}
            onChange={(e) => void save({ enabled: e.target.checked }, e.target.checked ? 'enabled' : 'disabled')}
          />
          <label htmlFor={`${id}-enabled`}>Enabled</label>
        </span>
        <fieldset className="role-grants" disabled={!canEdit || busy}>
          <legend>
            Roles that may use it {!tool.customRoles && <span className="muted small">(default)</span>}
          </legend>
          {ROLES.map((r) => (
            <span className="check" key={r}>
              <input id={`${id}-role-${r}`} type="checkbox" checked={tool.roles.includes(r)} onChange={(e) => toggleRole(r, e.target.checked)} />
              <label htmlFor={`${id}-role-${r}`}>{r}</label>
            </span>
          ))}
          {tool.customRoles && canEdit && (
            <button type="button" className="btn-ghost btn-small" onClick={() => void save({ roles: null }, 'roles back to the default')}>
              Reset to default
            </button>
          )}
        </fieldset>
      </div>
      <h3 className="subhead">Parameters</h3>
      <SchemaTable schema={tool.parameters} caption={`Parameters of ${tool.name}`} />
      <details className="raw-json">
        <summary>JSON Schema</summary>
        <pre className="mono">{JSON.stringify(tool.parameters, null, 2)}</pre>
      </details>
    </section>
  );
}
