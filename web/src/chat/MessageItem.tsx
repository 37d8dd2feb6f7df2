import { memo, useState } from 'react';
import { formatSize } from '../artifacts/renderers';
import { Markdown } from '../markdown/Markdown';
import { PaperclipIcon } from '../ui/icons';
import type { DisplayMessage } from './stream';
import { ToolCallView } from './ToolCallView';

interface Props {
  message: DisplayMessage;
  busy: boolean;
  onEdit: (m: DisplayMessage, content: string) => void;
  onRegenerate: (m: DisplayMessage) => void;
  onSwitch: (m: DisplayMessage, index: number) => void;
  onOpenArtifact: (id: string) => void;
}

export const MessageItem = memo(function MessageItem({ message: m, busy, onEdit, onRegenerate, onSwitch, onOpenArtifact }: Props) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(m.content);
  const isUser = m.role === 'user';

  return (
    <article className={`msg msg-${isUser ? 'user' : 'assistant'}${m.streaming ? ' streaming' : ''}`} aria-label={isUser ? 'You said' : 'Assistant said'}>
      <div className="msg-inner">
        {!isUser && m.tools.length > 0 && (
          <div className="toolcalls">
            {m.tools.map((t) => (
              <ToolCallView key={t.callId} call={t} />
            ))}
          </div>
        )}
        {editing ? (
          <form
            className="msg-edit"
            onSubmit={(e) => {
              e.preventDefault();
              setEditing(false);
              if (draft.trim() && draft !== m.content) onEdit(m, draft);
            }}
          >
            <label className="visually-hidden" htmlFor={`edit-${m.id}`}>
              Edit message
            </label>
            <textarea id={`edit-${m.id}`} value={draft} onChange={(e) => setDraft(e.target.value)} rows={Math.min(10, draft.split('\n').length + 1)} autoFocus />
            <div className="row">
              <button type="submit" className="btn btn-primary btn-small" disabled={busy}>
                Send as new branch
              </button>
              <button type="button" className="btn-ghost btn-small" onClick={() => setEditing(false)}>
                Cancel
              </button>
            </div>
          </form>
        ) : isUser ? (
          <div className="msg-user-text">{m.content}</div>
        ) : m.content ? (
          <Markdown text={m.content} live={m.streaming} />
        ) : m.streaming ? (
          <div className="typing" aria-label="The assistant is writing">
            <span />
            <span />
            <span />
          </div>
        ) : null}
        {m.error && (
          <div className="msg-error" role="alert">
            {m.status === 'failed' ? 'The answer failed' : 'Error'}: {m.error.message} <span className="muted">({m.error.code})</span>
          </div>
        )}
        {m.status === 'cancelled' && <div className="muted small">Stopped.</div>}
        {isUser && m.attachments && m.attachments.length > 0 && (
          <ul className="msg-attachments" aria-label="Attached files">
            {m.attachments.map((f) => (
              <li key={f.id} className="attachment-chip" title={`${f.mime}, ${formatSize(f.size)}`}>
                <PaperclipIcon /> {f.filename} <span className="muted">{formatSize(f.size)}</span>
              </li>
            ))}
          </ul>
        )}
        {m.artifacts.length > 0 && (
          <div className="msg-artifacts">
            {m.artifacts.map((a) => (
              <button key={`${a.artifactId}-${a.version}`} type="button" className="artifact-chip" onClick={() => onOpenArtifact(a.artifactId)}>
                <span aria-hidden="true">▦</span> {a.title} <span className="muted">v{a.version}</span>
              </button>
            ))}
          </div>
        )}
        <div className="msg-meta">
          {m.siblings > 1 && (
            <span className="branch-switch" role="group" aria-label="Branches">
              <button
                type="button"
                className="btn-ghost btn-icon"
                aria-label="Previous branch"
                disabled={busy || m.sibling_index <= 1}
                onClick={() => onSwitch(m, m.sibling_index - 1)}
              >
                ‹
              </button>
              <span className="small">
                {m.sibling_index}/{m.siblings}
              </span>
              <button
                type="button"
                className="btn-ghost btn-icon"
                aria-label="Next branch"
                disabled={busy || m.sibling_index >= m.siblings}
                onClick={() => onSwitch(m, m.sibling_index + 1)}
              >
                ›
              </button>
            </span>
          )}
          {!m.local && !m.streaming && (
            <span className="msg-actions">
              {isUser ? (
                <button
                  type="button"
                  className="btn-ghost btn-small"
                  disabled={busy}
                  onClick={() => {
                    setDraft(m.content);
                    setEditing(true);
                  }}
                >
                  Edit
                </button>
              ) : (
                <>
                  <button type="button" className="btn-ghost btn-small" disabled={busy} onClick={() => onRegenerate(m)}>
                    Regenerate
                  </button>
                  <button type="button" className="btn-ghost btn-small" onClick={() => void navigator.clipboard?.writeText(m.content)}>
                    Copy
                  </button>
                </>
              )}
              {!isUser && m.model && <span className="muted small">{m.model}</span>}
            </span>
          )}
        </div>
      </div>
    </article>
  );
});
