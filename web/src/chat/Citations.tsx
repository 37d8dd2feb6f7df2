import { useEffect, useId, useLayoutEffect, useRef, useState } from 'react';
import { createPortal } from 'react-dom';
import { openDocument } from '../knowledge/openDocument';
import { WarnIcon } from '../ui/icons';
import { useToast } from '../ui/toast';
import type { Citation } from './citations';

const POPOVER_WIDTH = 380;

/** A citation marker `[n]` as a small button; it opens the passage it names. */
export function CitationChip({ citation: c }: { citation: Citation }) {
  const [open, setOpen] = useState(false);
  const chip = useRef<HTMLButtonElement>(null);
  const id = useId();
  const state = c.verified ? 'verified' : 'unverified';
  return (
    <>
      <button
        ref={chip}
        type="button"
        className={`cite-chip${c.verified ? '' : ' cite-chip-warn'}`}
        aria-label={`Source ${c.n}${c.passage ? `: ${c.passage.title}` : ''} (${state})`}
        aria-haspopup="dialog"
        aria-expanded={open}
        aria-controls={open ? id : undefined}
        title={c.verified ? c.passage?.title : c.reason}
        onClick={() => setOpen((o) => !o)}
      >
        {c.n}
      </button>
      {open && chip.current && (
        <CitationPopover
          id={id}
          citation={c}
          anchor={chip.current}
          onClose={(refocus) => {
            setOpen(false);
            if (refocus) chip.current?.focus();
          }}
        />
      )}
    </>
  );
}

interface PopoverProps {
  id: string;
  citation: Citation;
  anchor: HTMLElement;
  onClose: (refocus: boolean) => void;
}

/** The cited passage, beside its marker: document, page, heading, text and the verdict. */
function CitationPopover({ id, citation: c, anchor, onClose }: PopoverProps) {
  const box = useRef<HTMLDivElement>(null);
  const [pos, setPos] = useState<{ left: number; top: number } | null>(null);
  const toast = useToast();
  const p = c.passage;

  // Below the marker, or above it when there is no room below; kept inside the window.
  useLayoutEffect(() => {
    const r = anchor.getBoundingClientRect();
    const h = box.current?.offsetHeight ?? 0;
    const width = Math.min(POPOVER_WIDTH, window.innerWidth - 16);
    const left = Math.max(8, Math.min(r.left, window.innerWidth - width - 8));
    const below = r.bottom + 6;
    const top = below + h > window.innerHeight - 8 && r.top - h - 6 > 8 ? r.top - h - 6 : below;
    setPos({ left, top });
    box.current?.focus();
  }, [anchor]);

  // Escape, a click elsewhere or scrolling the answer away closes it.
  useEffect(() => {
    const key = (e: KeyboardEvent) => e.key === 'Escape' && onClose(true);
    const down = (e: PointerEvent) => {
      const t = e.target as Node;
      if (!box.current?.contains(t) && !anchor.contains(t)) onClose(false);
    };
    const scroll = (e: Event) => {
      if (!box.current?.contains(e.target as Node)) onClose(false);
    };
    document.addEventListener('keydown', key);
    document.addEventListener('pointerdown', down);
    window.addEventListener('scroll', scroll, true);
    window.addEventListener('resize', scroll);
    return () => {
      document.removeEventListener('keydown', key);
      document.removeEventListener('pointerdown', down);
      window.removeEventListener('scroll', scroll, true);
      window.removeEventListener('resize', scroll);
    };
  }, [anchor, onClose]);

  const open = async () => {
    if (!p) return;
    try {
      await openDocument(p.documentId, p.page);
    } catch (e) {
      toast.error(e, 'Could not open the document');
    }
  };

  return createPortal(
    <div
      ref={box}
      id={id}
      className="cite-popover"
      role="dialog"
      aria-label={`Source ${c.n}`}
      tabIndex={-1}
      style={pos ? { left: pos.left, top: pos.top } : { visibility: 'hidden' }}
    >
      <div className="cite-popover-head">
        <span className="cite-n" aria-hidden="true">
          {c.n}
        </span>
        <div className="grow">
          <div className="cite-title">{p ? p.title : 'No such source'}</div>
          {p && (p.page !== null || p.heading) && (
            <div className="muted small">
              {[p.page !== null ? `Page ${p.page}` : null, p.heading].filter(Boolean).join(' · ')}
            </div>
          )}
        </div>
        <button type="button" className="btn-ghost btn-icon" aria-label="Close" onClick={() => onClose(true)}>
          ×
        </button>
      </div>
      {p && <blockquote className="cite-passage">{p.content}</blockquote>}
      <div className="cite-popover-foot">
        <VerdictBadge citation={c} />
        {p && (
          <button type="button" className="btn btn-small" onClick={() => void open()}>
            {p.page !== null ? `Open page ${p.page}` : 'Open document'}
          </button>
        )}
      </div>
      {!c.verified && <p className="cite-reason small">{c.reason}</p>}
    </div>,
    document.body,
  );
}

export function VerdictBadge({ citation: c }: { citation: Citation }) {
  return c.verified ? (
    <span className="cite-badge cite-badge-ok" title={c.reason}>
      ✓ verified
    </span>
  ) : (
    <span className="cite-badge cite-badge-warn" title={`Check this source yourself: ${c.reason}`}>
      <WarnIcon /> unverified
    </span>
  );
}

/** The sources an answer cites, each once, under the answer. */
export function SourceList({ sources }: { sources: Citation[] }) {
  return (
    <section className="msg-sources" aria-label="Sources">
      <h3 className="msg-sources-title">Sources</h3>
      <ol>
        {sources.map((c) => (
          <li key={c.n}>
            <CitationChip citation={c} />
            <span className="msg-source-title">{c.passage ? c.passage.title : 'Not in the search results'}</span>
            {c.passage?.page != null && <span className="muted small">p. {c.passage.page}</span>}
            {!c.verified && (
              <span className="cite-warn-mark" title={c.reason} role="img" aria-label="unverified">
                <WarnIcon />
              </span>
            )}
          </li>
        ))}
      </ol>
    </section>
  );
}
