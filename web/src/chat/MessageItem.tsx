import { memo, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { formatSize } from '../artifacts/renderers';
import { Markdown } from '../markdown/Markdown';
import { copyText } from '../ui/clipboard';
import { BookIcon, PaperclipIcon } from '../ui/icons';
import { citedSources, findCitations, SEARCH_TOOL, type Citation } from './citations';
import { CitationChip, SourceList } from './Citations';
import { failureText } from './failure';
import type { DisplayMessage } from './stream';
import { fitHeight, textRows } from './textRows';
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
  const editBox = useRef<HTMLTextAreaElement>(null);
  const isUser = m.role === 'user';
  const failed = m.status === 'failed';
  // An answer that searched documents: its `[n]` markers are citations of the passages found.
  const citations = useMemo(
    () => (!isUser && m.tools.some((t) => t.name === SEARCH_TOOL) ? findCitations(m.content, m.tools) : []),
    [isUser, m.content, m.tools],
  );
  const cite = useCallback((n: number, k: number) => {
    const c = nthCitation(citations, n, k);
    return c ? <CitationChip citation={c} /> : `[${n}]`;
  }, [citations]);

  // The edit box grows with its text (up to its CSS max-height).
  useLayoutEffect(() => {
    if (editing && editBox.current) fitHeight(editBox.current);
  }, [editing, draft]);

  return (
    <article
      className={`msg msg-${isUser ? 'user' : 'assistant'}${m.streaming ? ' streaming' : ''}${editing ? ' msg-editing' : ''}`}
      aria-label={isUser ? 'You said' : 'Assistant said'}
    >
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
            <textarea
              id={`edit-${m.id}`}
              ref={editBox}
              value={draft}
              onChange={(e) => setDraft(e.target.value)}
              rows={textRows(draft)}
              autoFocus
            />
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
          <Markdown text={m.content} live={m.streaming} cite={citations.length > 0 ? cite : undefined} />
        ) : m.streaming ? (
          <div className="typing" aria-label="The assistant is writing">
            <span />
            <span />
            <span />
          </div>
        ) : null}
        {!m.streaming && citations.length > 0 && <SourceList sources={citedSources(citations)} />}
        {m.error && (
          <div className="msg-error" role="alert" title={`Error code: ${m.error.code}`}>
            {failureText(m.error)}
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
        {isUser && m.collections && m.collections.length > 0 && (
          <ul className="msg-attachments" aria-label="Answered from">
            {m.collections.map((c) => (
              <li key={c.id} className="attachment-chip">
                <BookIcon /> {c.name}
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
            <span className={`msg-actions${failed ? ' msg-actions-shown' : ''}`}>
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
                  {m.content.trim() && <CopyButton text={m.content} />}
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

/** The `k`-th citation of `[n]` in the text (the first, when the text was read differently). */
function nthCitation(citations: Citation[], n: number, k: number): Citation | undefined {
  const same = citations.filter((c) => c.n === n);
  return same[k] ?? same[0];
}

/** Copy, then "Copied" for a moment, or a short note when this browser allows no copying. */
function CopyButton({ text }: { text: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  const timer = useRef<number>();
  useEffect(() => () => window.clearTimeout(timer.current), []);

  const copy = async () => {
    const ok = await copyText(text);
    setState(ok ? 'copied' : 'failed');
    window.clearTimeout(timer.current);
    timer.current = window.setTimeout(() => setState('idle'), ok ? 1500 : 3000);
  };

  return (
    <button
      type="button"
      className="btn-ghost btn-small"
      onClick={() => void copy()}
      aria-live="polite"
      title={state === 'failed' ? 'This browser does not allow copying here. Select the text and copy it by hand.' : undefined}
    >
      {state === 'copied' ? 'Copied' : state === 'failed' ? 'Could not copy' : 'Copy'}
    </button>
  );
}
