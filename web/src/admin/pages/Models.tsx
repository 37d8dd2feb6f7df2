import { useState, type FormEvent } from 'react';
import type { AdminModel, ModelBody, ModelKind, ModelTestResult, Provider } from '../../api/admin';
import { ApiProblem } from '../../api/problem';
import { useMe } from '../../auth/AuthContext';
import { useToast } from '../../ui/toast';
import { admin } from '../api';
import { formatMs, formatNumber, formatUsd } from '../format';
import { isAdmin } from '../guard';
import { Badge, DialogFooter, Empty, Field, fieldErrors, Modal, PageHeader, ReadOnlyNote, ResourceState, Table, useAction, useConfirm, useLoad } from '../ui';

export function Models() {
  const me = useMe();
  const run = useAction();
  const confirm = useConfirm();
  const canEdit = isAdmin(me);
  const models = useLoad(() => admin.models(), [], 'models');
  const [editing, setEditing] = useState<AdminModel | 'new' | null>(null);
  const [tests, setTests] = useState<Record<string, ModelTestResult | 'running'>>({});

  const test = async (m: AdminModel) => {
    setTests((t) => ({ ...t, [m.id]: 'running' }));
    const ok = await run(async () => {
      const r = await admin.testModel(m.id);
      setTests((t) => ({ ...t, [m.id]: r }));
    }, { failed: 'Could not test the model' });
    if (!ok) {
      setTests((t) => {
        const { [m.id]: _drop, ...rest } = t;
        return rest;
      });
    }
  };

  const remove = async (m: AdminModel) => {
    const ok = await confirm({
      title: 'Delete model',
      body: (
        <>
          Delete <strong>{m.name}</strong>? Chats set to it fall back to the default model.
        </>
      ),
      confirmLabel: 'Delete model',
      danger: true,
    });
    if (!ok) return;
    await run(async () => {
      await admin.deleteModel(m.id);
      models.reload();
    }, { done: `Model ${m.name} deleted`, failed: 'Could not delete the model' });
  };

  return (
    <div className="admin-page">
      <PageHeader
        title="Models"
        description="The language models this workspace can use, where they run and what they cost."
        actions={
          canEdit && (
            <button type="button" className="btn btn-primary" onClick={() => setEditing('new')}>
              Add model
            </button>
          )
        }
      />
      {!canEdit && <ReadOnlyNote />}
      <ResourceState
        resource={models}
        what="models"
        empty={<Empty title="No models yet">{canEdit ? 'Add one so that people can chat.' : 'An admin has to add one.'}</Empty>}
      >
        {(list) => (
          <Table
            caption="Models"
            columns={[
              'Name',
              'Provider',
              canEdit && 'Upstream',
              { label: 'Context', num: true },
              canEdit && { label: 'Price / 1k in · out', num: true },
              canEdit && 'Fallback',
              canEdit && { label: 'Actions', hidden: true },
            ]}
          >
            {list.map((m) => {
              const t = tests[m.id];
              return (
                <tr key={m.id}>
                  <th scope="row">
                    {m.name} {m.is_default && <Badge tone="neutral">default</Badge>}
                    {m.kind === 'embedding' && <Badge tone="neutral">embedding · {m.dimensions} dims</Badge>}
                  </th>
                  <td>{m.provider}</td>
                  {canEdit && (
                    <td>
                      <div className="mono small">{m.model}</div>
                      <div className="muted small wrap-anywhere">{m.base_url}</div>
                      {!m.has_api_key && <div className="muted small">no API key</div>}
                    </td>
                  )}
                  <td className="num">{formatNumber(m.context_window)}</td>
                  {canEdit && (
                    <td className="num">
                      {formatUsd(m.price_input_per_1k ?? 0)} · {formatUsd(m.price_output_per_1k ?? 0)}
                    </td>
                  )}
                  {canEdit && <td>{m.fallback || <span className="muted">—</span>}</td>}
                  {canEdit && (
                    <td>
                      <div className="row-actions">
                        <button type="button" className="btn btn-small" onClick={() => void test(m)} disabled={t === 'running'} aria-label={`Test ${m.name}`}>
                          {t === 'running' ? 'Testing…' : 'Test'}
                        </button>
                        <button type="button" className="btn btn-small" onClick={() => setEditing(m)} aria-label={`Edit ${m.name}`}>
                          Edit
                        </button>
                        <button type="button" className="btn btn-small btn-danger-ghost" onClick={() => void remove(m)} aria-label={`Delete ${m.name}`}>
                          Delete
                        </button>
                      </div>
                      {t && t !== 'running' && <TestResult result={t} />}
                    </td>
                  )}
                </tr>
              );
            })}
          </Table>
        )}
      </ResourceState>
      {editing !== null && (
        <ModelDialog
          model={editing === 'new' ? null : editing}
          others={(models.data ?? []).filter((m) => m.kind !== 'embedding' && (editing === 'new' || m.id !== editing.id)).map((m) => m.name)}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            models.reload();
          }}
        />
      )}
    </div>
  );
}

function TestResult({ result }: { result: ModelTestResult }) {
  return (
    <div className={`test-result ${result.ok ? 'ok' : 'bad'}`} role="status">
      {result.ok ? (
        <>
          <Badge tone="ok">answered</Badge> <span className="muted small">in {formatMs(result.latencyMs)}</span>
          <div className="small wrap-anywhere">“{result.reply}”</div>
        </>
      ) : (
        <>
          <Badge tone="bad">failed</Badge> <span className="muted small">after {formatMs(result.latencyMs)}</span>
          <div className="small wrap-anywhere">
            <span className="mono">{result.error.code}</span>: {result.error.message}
          </div>
        </>
      )}
    </div>
  );
}

interface Form {
  name: string;
  kind: ModelKind;
  dimensions: string;
  provider: Provider;
  base_url: string;
  api_key: string;
  remove_key: boolean;
  model: string;
  context_window: string;
  max_output_tokens: string;
  price_input_per_1k: string;
  price_output_per_1k: string;
  is_default: boolean;
  fallback: string;
}

const BASE_URLS: Record<Provider, string> = { openai: 'https://api.openai.com/v1', anthropic: 'https://api.anthropic.com' };

function toForm(m: AdminModel | null): Form {
  return {
    name: m?.name ?? '',
    kind: m?.kind === 'embedding' ? 'embedding' : 'chat',
    dimensions: String(m?.dimensions ?? 1536),
    provider: m?.provider === 'anthropic' ? 'anthropic' : 'openai',
    base_url: m?.base_url ?? BASE_URLS.openai,
    api_key: '',
    remove_key: false,
    model: m?.model ?? '',
    context_window: String(m?.context_window ?? 8192),
    max_output_tokens: String(m?.max_output_tokens ?? 1024),
    price_input_per_1k: String(m?.price_input_per_1k ?? 0),
    price_output_per_1k: String(m?.price_output_per_1k ?? 0),
    is_default: m?.is_default ?? false,
    fallback: m?.fallback ?? '',
  };
}

/** The form as a request body (numbers parsed; the key only when typed or removed). */
function modelBody(f: Form): ModelBody {
  const body: ModelBody = {
    name: f.name.trim(),
    provider: f.provider,
    base_url: f.base_url.trim(),
    model: f.model.trim() || f.name.trim(),
    context_window: Number(f.context_window),
    max_output_tokens: Number(f.max_output_tokens),
    price_input_per_1k: Number(f.price_input_per_1k),
    price_output_per_1k: Number(f.price_output_per_1k),
    is_default: f.is_default,
    fallback: f.fallback,
  };
  if (f.kind === 'embedding') {
    // An embedding model has a size, and no default, fallback or chat limits.
    body.kind = 'embedding';
    body.provider = 'openai';
    body.dimensions = Number(f.dimensions);
    body.is_default = false;
    delete body.fallback;
  }
  if (f.remove_key) body.api_key = '';
  else if (f.api_key) body.api_key = f.api_key;
  return body;
}

function ModelDialog({ model, others, onClose, onSaved }: { model: AdminModel | null; others: string[]; onClose: () => void; onSaved: () => void }) {
  const toast = useToast();
  const [f, setF] = useState<Form>(() => toForm(model));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const set = <K extends keyof Form>(k: K, v: Form[K]) => setF((x) => ({ ...x, [k]: v }));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    setFormError(null);
    try {
      const body = modelBody(f);
      if (model) await admin.updateModel(model.id, body);
      else await admin.createModel(body);
      toast.push({ kind: 'info', title: model ? `Model ${body.name} saved` : `Model ${body.name} added` });
      onSaved();
    } catch (err) {
      const fields = fieldErrors(err);
      setErrors(fields);
      if (Object.keys(fields).length === 0) {
        setFormError(err instanceof ApiProblem ? (err.status === 409 ? 'A model with this name already exists.' : err.detail || err.title) : 'Could not save.');
      }
    } finally {
      setBusy(false);
    }
  };

  const num = (k: keyof Form, label: string, step: string, min: string) => (
    <Field label={label} error={errors[k]}>
      {(p) => <input {...p} type="number" inputMode="decimal" step={step} min={min} required value={f[k] as string} onChange={(e) => set(k, e.target.value as never)} />}
    </Field>
  );

  return (
    <Modal open title={model ? `Edit ${model.name}` : 'Add a model'} onClose={onClose} wide>
      <form onSubmit={submit} className="form-grid">
        <Field label="Name" error={errors.name} hint="What people pick in the chat.">
          {(p) => <input {...p} type="text" required value={f.name} onChange={(e) => set('name', e.target.value)} autoFocus placeholder="gpt-4o-mini" />}
        </Field>
        <Field label="Kind" error={errors.kind} hint={model ? 'Fixed once the model exists.' : 'Embedding models embed knowledge collections.'}>
          {(p) => (
            <select {...p} value={f.kind} disabled={model !== null} onChange={(e) => set('kind', e.target.value as ModelKind)}>
              <option value="chat">chat</option>
              <option value="embedding">embedding (OpenAI /embeddings)</option>
            </select>
          )}
        </Field>
        {f.kind === 'embedding' && num('dimensions', 'Dimensions', '1', '1')}
        <Field label="Provider" error={errors.provider}>
          {(p) => (
            <select
              {...p}
              value={f.provider}
              disabled={f.kind === 'embedding'}
              onChange={(e) => {
                const prov = e.target.value as Provider;
                // Follow the provider's address unless a custom one was typed.
                setF((x) => ({ ...x, provider: prov, base_url: Object.values(BASE_URLS).includes(x.base_url) || !x.base_url ? BASE_URLS[prov] : x.base_url }));
              }}
            >
              <option value="openai">openai (OpenAI-compatible)</option>
              <option value="anthropic">anthropic</option>
            </select>
          )}
        </Field>
        <Field label="Base URL" error={errors.base_url} className="span-2">
          {(p) => <input {...p} type="url" required value={f.base_url} onChange={(e) => set('base_url', e.target.value)} />}
        </Field>
        <Field
          label="API key"
          error={errors.api_key}
          className="span-2"
          hint={model?.has_api_key ? 'Stored; enter a new key to replace it. The key is never shown.' : 'Write-only: sealed when saved and never shown again.'}
        >
          {(p) => (
            <input
              {...p}
              type="password"
              autoComplete="new-password"
              value={f.api_key}
              disabled={f.remove_key}
              onChange={(e) => set('api_key', e.target.value)}
              placeholder={model?.has_api_key ? 'Stored; enter a new key to replace' : 'Not set'}
            />
          )}
        </Field>
        {model?.has_api_key && (
          <span className="check span-2 field-inline">
            <input id="model-remove-key" type="checkbox" checked={f.remove_key} onChange={(e) => set('remove_key', e.target.checked)} />
            <label htmlFor="model-remove-key">Remove the stored key</label>
          </span>
        )}
        <Field label="Upstream model id" error={errors.model} hint="Defaults to the name.">
          {(p) => <input {...p} type="text" value={f.model} onChange={(e) => set('model', e.target.value)} placeholder={f.name || 'same as the name'} />}
        </Field>
        {num('context_window', 'Context window (tokens)', '1', '1')}
        {num('max_output_tokens', 'Max output tokens', '1', '1')}
        <span />
        {num('price_input_per_1k', 'Price per 1k input tokens (USD)', 'any', '0')}
        {num('price_output_per_1k', 'Price per 1k output tokens (USD)', 'any', '0')}
        {f.kind === 'chat' && (
          <>
            <Field label="Fallback model" error={errors.fallback} hint="Used when this one fails before its first token.">
              {(p) => (
                <select {...p} value={f.fallback} onChange={(e) => set('fallback', e.target.value)}>
                  <option value="">None</option>
                  {others.map((o) => (
                    <option key={o} value={o}>
                      {o}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <span className="check field-check">
              <input id="model-default" type="checkbox" checked={f.is_default} onChange={(e) => set('is_default', e.target.checked)} />
              <label htmlFor="model-default">Default model for new chats</label>
            </span>
          </>
        )}
        <DialogFooter error={formError} busy={busy} submitLabel={model ? 'Save' : 'Add model'} busyLabel="Saving…" onCancel={onClose} wide />
      </form>
    </Modal>
  );
}
