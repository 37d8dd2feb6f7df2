import { useEffect, useState, type FormEvent } from 'react';
import { ROLES, type AdminModel, type AdminTool, type Policies as PolicyDoc } from '../../api/admin';
import { ApiProblem } from '../../api/problem';
import { useMe } from '../../auth/AuthContext';
import { useToast } from '../../ui/toast';
import { admin } from '../api';
import { isAdmin } from '../guard';
import { errorFor, modelRoles, parseLimit, setModelRole, setToolRole, toolRoles } from '../policies';
import { Field, fieldErrors, PageHeader, ReadOnlyNote, ResourceState, useLoad } from '../ui';

interface Loaded {
  doc: PolicyDoc;
  models: AdminModel[];
  tools: AdminTool[];
}

export function Policies() {
  const loaded = useLoad<Loaded>(
    async () => {
      const [doc, models, tools] = await Promise.all([admin.policies(), admin.models(), admin.tools()]);
      return { doc, models, tools };
    },
    [],
    'policies',
  );
  return (
    <div className="admin-page">
      <PageHeader title="Policies" description="Who may use which model and tool, how long answers may be, how long chats are kept, and what every chat is told first." />
      <ResourceState resource={loaded} what="policies">
        {(data) => <PolicyForm initial={data} />}
      </ResourceState>
    </div>
  );
}

const limitText = (n: number | null) => (n === null ? '' : String(n));

function PolicyForm({ initial }: { initial: Loaded }) {
  const me = useMe();
  const toast = useToast();
  const canEdit = isAdmin(me);
  const [saved, setSaved] = useState<PolicyDoc>(initial.doc);
  const [doc, setDoc] = useState<PolicyDoc>(initial.doc);
  const [maxTokens, setMaxTokens] = useState(limitText(initial.doc.maxTokensPerMessage));
  const [retention, setRetention] = useState(limitText(initial.doc.retentionDays));
  const [prompt, setPrompt] = useState(initial.doc.systemPrompt ?? '');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const toolDefaults = new Map(initial.tools.map((t) => [t.name, t.roles]));
  const modelNames = [...new Set([...initial.models.map((m) => m.name), ...Object.keys(doc.modelRoles)])];
  const toolNames = [...new Set([...initial.tools.map((t) => t.name), ...Object.keys(doc.toolRoles)])];
  const known = new Set(initial.models.map((m) => m.name));

  const maxTokensValue = parseLimit(maxTokens);
  const retentionValue = parseLimit(retention);
  const draft: PolicyDoc = {
    ...doc,
    maxTokensPerMessage: maxTokensValue ?? null,
    retentionDays: retentionValue ?? null,
    systemPrompt: prompt.trim() ? prompt.trim() : null,
  };
  const dirty = JSON.stringify(draft) !== JSON.stringify({ ...saved, systemPrompt: saved.systemPrompt ?? null });

  useEffect(() => {
    const warn = (e: BeforeUnloadEvent) => {
      if (dirty) e.preventDefault();
    };
    window.addEventListener('beforeunload', warn);
    return () => window.removeEventListener('beforeunload', warn);
  }, [dirty]);

  const local: Record<string, string> = {};
  if (maxTokensValue === undefined) local.maxTokensPerMessage = 'Enter a whole number of tokens, or leave empty for no limit.';
  if (retentionValue === undefined) local.retentionDays = 'Enter a whole number of days, or leave empty to keep chats forever.';
  const shown = { ...errors, ...local };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (Object.keys(local).length) return;
    setBusy(true);
    setErrors({});
    setFormError(null);
    try {
      const next = await admin.savePolicies(draft);
      setSaved(next);
      setDoc(next);
      setMaxTokens(limitText(next.maxTokensPerMessage));
      setRetention(limitText(next.retentionDays));
      setPrompt(next.systemPrompt ?? '');
      toast.push({ kind: 'info', title: 'Policies saved' });
    } catch (err) {
      const fields = fieldErrors(err);
      setErrors(fields);
      const placed = ['modelRoles', 'toolRoles', 'maxTokensPerMessage', 'retentionDays', 'systemPrompt'];
      const stray = Object.entries(fields).filter(([k]) => !placed.some((p) => k === p || k.startsWith(`${p}.`) || k.startsWith(`${p}[`)));
      if (Object.keys(fields).length === 0) {
        setFormError(err instanceof ApiProblem ? err.detail || err.title : 'Could not save the policies.');
        toast.error(err, 'Could not save the policies');
      } else if (stray.length) {
        setFormError(stray.map(([k, v]) => `${k}: ${v}`).join('; '));
      }
    } finally {
      setBusy(false);
    }
  };

  const reset = () => {
    setDoc(saved);
    setMaxTokens(limitText(saved.maxTokensPerMessage));
    setRetention(limitText(saved.retentionDays));
    setPrompt(saved.systemPrompt ?? '');
    setErrors({});
    setFormError(null);
  };

  return (
    <form onSubmit={submit} noValidate>
      {!canEdit && <ReadOnlyNote />}
      <fieldset disabled={!canEdit || busy} className="plain-fieldset">
        <section className="card" aria-labelledby="pol-models">
          <div className="card-head">
            <h2 id="pol-models">Models by role</h2>
          </div>
          <p className="muted small">A model with every role ticked is open to everyone, including roles added later.</p>
          <Matrix
            label="Model"
            names={modelNames}
            note={(n) => (known.has(n) ? null : 'no longer configured')}
            has={(n, r) => modelRoles(doc, n).includes(r)}
            onToggle={(n, r, on) => setDoc((d) => setModelRole(d, n, r, on))}
          />
          {errorFor(shown, 'modelRoles') && <p className="field-error">{errorFor(shown, 'modelRoles')}</p>}
        </section>

        <section className="card" aria-labelledby="pol-tools">
          <div className="card-head">
            <h2 id="pol-tools">Tools by role</h2>
          </div>
          <p className="muted small">The same grants as on the Tools page.</p>
          <Matrix
            label="Tool"
            mono
            names={toolNames}
            note={() => null}
            has={(n, r) => toolRoles(doc, n, toolDefaults.get(n) ?? []).includes(r)}
            onToggle={(n, r, on) => setDoc((d) => setToolRole(d, n, toolDefaults.get(n) ?? [], r, on))}
          />
          {errorFor(shown, 'toolRoles') && <p className="field-error">{errorFor(shown, 'toolRoles')}</p>}
        </section>

        <section className="card" aria-labelledby="pol-limits">
          <div className="card-head">
            <h2 id="pol-limits">Limits</h2>
          </div>
          <div className="form-grid">
            <Field label="Max tokens per message" error={errorFor(shown, 'maxTokensPerMessage')} hint="Caps each answer's output tokens, whatever the model allows. Empty: no cap.">
              {(p) => <input {...p} type="text" inputMode="numeric" value={maxTokens} onChange={(e) => setMaxTokens(e.target.value)} placeholder="No limit" />}
            </Field>
            <Field label="Retention (days)" error={errorFor(shown, 'retentionDays')} hint="Chats not updated for this many days are deleted. Empty: kept forever.">
              {(p) => <input {...p} type="text" inputMode="numeric" value={retention} onChange={(e) => setRetention(e.target.value)} placeholder="Keep forever" />}
            </Field>
          </div>
        </section>

        <section className="card" aria-labelledby="pol-prompt">
          <div className="card-head">
            <h2 id="pol-prompt">System prompt</h2>
          </div>
          <Field
            label="Instructions for every chat"
            error={errorFor(shown, 'systemPrompt')}
            hint={`Given to the model before each conversation's own system prompt (${prompt.trim().length} / 8000 characters). Empty: none.`}
          >
            {(p) => (
              <textarea
                {...p}
                rows={5}
                maxLength={8000}
                value={prompt}
                onChange={(e) => setPrompt(e.target.value)}
                placeholder="e.g. Answer in British English. Cite the files you were given."
              />
            )}
          </Field>
        </section>
      </fieldset>
      {formError && (
        <div className="form-error" role="alert">
          {formError}
        </div>
      )}
      {canEdit && (
        <div className="sticky-actions">
          {dirty && <span className="muted small">Unsaved changes</span>}
          <button type="button" className="btn" onClick={reset} disabled={!dirty || busy}>
            Discard
          </button>
          <button type="submit" className="btn btn-primary" disabled={!dirty || busy || Object.keys(local).length > 0}>
            {busy ? 'Saving…' : 'Save policies'}
          </button>
        </div>
      )}
    </form>
  );
}

interface MatrixProps {
  label: string;
  names: string[];
  mono?: boolean;
  note: (name: string) => string | null;
  has: (name: string, role: (typeof ROLES)[number]) => boolean;
  onToggle: (name: string, role: (typeof ROLES)[number], on: boolean) => void;
}

function Matrix({ label, names, mono, note, has, onToggle }: MatrixProps) {
  if (names.length === 0) return <p className="muted">Nothing to set yet.</p>;
  return (
    <div className="table-scroll">
      <table className="data-table matrix">
        <thead>
          <tr>
            <th scope="col">{label}</th>
            {ROLES.map((r) => (
              <th key={r} scope="col" className="center">
                {r}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {names.map((n) => (
            <tr key={n}>
              <th scope="row" className={mono ? 'mono' : undefined}>
                {n} {note(n) && <span className="muted small">({note(n)})</span>}
              </th>
              {ROLES.map((r) => (
                <td key={r} className="center">
                  <input type="checkbox" aria-label={`${r} may use ${n}`} checked={has(n, r)} onChange={(e) => onToggle(n, r, e.target.checked)} />
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
