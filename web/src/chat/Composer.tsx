import { useLayoutEffect, useRef, useState, type KeyboardEvent } from 'react';
import { api } from '../api';
import type { Collection, ModelInfo, ToolInfo, UploadedFile } from '../api/types';
import { PaperclipIcon } from '../ui/icons';
import { useToast } from '../ui/toast';
import { CollectionPicker } from './CollectionPicker';
import { fitHeight } from './textRows';
import { toolLabel } from './tools';

interface Props {
  disabled: boolean;
  running: boolean;
  models: ModelInfo[];
  model: string;
  onModel: (name: string) => void;
  tools: ToolInfo[];
  toolsAllowed: string[];
  onToolsAllowed: (names: string[]) => void;
  /** The knowledge collections the user can read, and those picked for the next messages. */
  collections: Collection[];
  collectionsPicked: string[];
  onCollectionsPicked: (ids: string[]) => void;
  onCollectionsOpen?: () => void;
  onSend: (content: string, attachments: UploadedFile[]) => Promise<boolean>;
  onStop: () => void;
}

interface Attachment {
  key: string;
  name: string;
  progress: number;
  file?: UploadedFile;
}

export function Composer(p: Props) {
  const [text, setText] = useState('');
  const [attachments, setAttachments] = useState<Attachment[]>([]);
  // The box grows with its text, wrapped lines included (up to its CSS max-height).
  const input = useRef<HTMLTextAreaElement>(null);
  useLayoutEffect(() => {
    if (input.current) fitHeight(input.current);
  }, [text]);
  const fileInput = useRef<HTMLInputElement>(null);
  const toast = useToast();
  const usable = p.tools.filter((t) => t.usable);
  const uploading = attachments.some((a) => !a.file);

  const submit = async () => {
    const body = text.trim();
    if (!body || p.disabled || p.running || uploading) return;
    const files = attachments.filter((a) => a.file).map((a) => a.file!);
    setText('');
    const ok = await p.onSend(body, files);
    if (ok) setAttachments([]);
    else setText(body);
  };

  const onKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      void submit();
    }
  };

  const attach = (files: FileList | null) => {
    for (const f of Array.from(files ?? [])) {
      const key = `${f.name}-${Math.random()}`;
      setAttachments((as) => [...as, { key, name: f.name, progress: 0 }]);
      api
        .upload(f, (progress) => setAttachments((as) => as.map((a) => (a.key === key ? { ...a, progress } : a))))
        .then(
          (file) => setAttachments((as) => as.map((a) => (a.key === key ? { ...a, file, progress: 1 } : a))),
          (e) => {
            setAttachments((as) => as.filter((a) => a.key !== key));
            toast.error(e, `Could not upload ${f.name}`);
          },
        );
    }
    if (fileInput.current) fileInput.current.value = '';
  };

  const toggleTool = (name: string, on: boolean) =>
    p.onToolsAllowed(on ? [...p.toolsAllowed, name] : p.toolsAllowed.filter((n) => n !== name));

  return (
    <div className="composer">
      {attachments.length > 0 && (
        <ul className="attachments" aria-label="Attached files">
          {attachments.map((a) => (
            <li key={a.key} className="attachment">
              <span className="attachment-name">{a.name}</span>
              {a.file ? (
                <span className="muted small">uploaded</span>
              ) : (
                <progress max={1} value={a.progress} aria-label={`Uploading ${a.name}`} />
              )}
              <button type="button" className="btn-ghost btn-icon" aria-label={`Remove ${a.name}`} onClick={() => setAttachments((as) => as.filter((x) => x.key !== a.key))}>
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
      <div className="composer-box">
        <label htmlFor="composer-input" className="visually-hidden">
          Message
        </label>
        <textarea
          id="composer-input"
          ref={input}
          value={text}
          onChange={(e) => setText(e.target.value)}
          onKeyDown={onKey}
          placeholder={p.disabled ? 'Connecting…' : 'Message PENNY…'}
          aria-describedby="composer-hint"
          rows={1}
        />
        <div className="composer-row">
          <div className="composer-controls">
            <button type="button" className="btn-ghost btn-small" onClick={() => fileInput.current?.click()} aria-label="Attach files">
              <PaperclipIcon /> Attach
            </button>
            <input ref={fileInput} type="file" multiple hidden onChange={(e) => attach(e.target.files)} />
            {p.collections.length > 0 && (
              <CollectionPicker
                collections={p.collections}
                picked={p.collectionsPicked}
                onPicked={p.onCollectionsPicked}
                onOpen={p.onCollectionsOpen}
              />
            )}
            {p.models.length > 0 && (
              <label className="inline-field">
                <span className="visually-hidden">Model</span>
                <select value={p.model} onChange={(e) => p.onModel(e.target.value)} aria-label="Model">
                  {p.models.map((m) => (
                    <option key={m.id} value={m.name}>
                      {m.name}
                      {m.is_default ? ' (default)' : ''}
                    </option>
                  ))}
                </select>
              </label>
            )}
            {usable.length > 0 && (
              <fieldset className="tool-toggles">
                <legend className="visually-hidden">Tools the model may use</legend>
                {usable.map((t) => {
                  const label = toolLabel(t.name);
                  // The accessible name keeps the tool's own name (what the chat and the admin show).
                  return (
                    <label key={t.name} className="tool-toggle" title={t.description ? `${t.name}: ${t.description}` : t.name}>
                      <input
                        type="checkbox"
                        aria-label={label === t.name ? label : `${label} (${t.name})`}
                        checked={p.toolsAllowed.includes(t.name)}
                        onChange={(e) => toggleTool(t.name, e.target.checked)}
                      />
                      <span>{label}</span>
                    </label>
                  );
                })}
              </fieldset>
            )}
          </div>
          {p.running ? (
            <button type="button" className="btn btn-stop" onClick={p.onStop}>
              ■ Stop
            </button>
          ) : (
            <button type="button" className="btn btn-primary" onClick={() => void submit()} disabled={p.disabled || !text.trim() || uploading}>
              Send
            </button>
          )}
        </div>
      </div>
      <p id="composer-hint" className="composer-hint muted small">
        Enter sends · Shift+Enter adds a line
      </p>
    </div>
  );
}
