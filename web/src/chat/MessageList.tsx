import { useVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useLayoutEffect, useRef } from 'react';
import { MessageItem } from './MessageItem';
import type { DisplayMessage } from './stream';

interface Props {
  messages: DisplayMessage[];
  /** Older messages exist above the first one: scrolling near the top loads them. */
  hasOlder?: boolean;
  loadingOlder?: boolean;
  onLoadOlder?: () => void;
  busy: boolean;
  onEdit: (m: DisplayMessage, content: string) => void;
  onRegenerate: (m: DisplayMessage) => void;
  onSwitch: (m: DisplayMessage, index: number) => void;
  onOpenArtifact: (id: string) => void;
}

/** Height of the row above the first message that offers (or shows the loading of) older ones. */
const OLDER_ROW = 48;
/** How near the top (px) scrolling starts loading older messages. */
const LOAD_OLDER_WITHIN = 400;

/**
 * The branch's messages, virtualized: only the ones in (or near) view are in the DOM, so a
 * thousand-message chat scrolls like a short one. Sticks to the bottom while at the bottom.
 * Scrolling near the top loads older messages; they go in above without moving what is in
 * view (the virtualizer keeps the message at the top of the view where it was).
 */
export function MessageList({ messages, hasOlder = false, loadingOlder = false, onLoadOlder, ...rest }: Props) {
  const scrollRef = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const showOlderRow = hasOlder || loadingOlder;
  const v = useVirtualizer({
    count: messages.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => 140,
    overscan: 6,
    getItemKey: (i) => messages[i]?.id ?? i,
    paddingStart: showOlderRow ? OLDER_ROW : 0,
    anchorTo: 'end',
  });
  const older = useRef({ hasOlder, loadingOlder, onLoadOlder });
  older.current = { hasOlder, loadingOlder, onLoadOlder };

  useEffect(() => {
    const el = scrollRef.current;
    if (!el) return;
    const onScroll = () => {
      atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
      const o = older.current;
      if (!atBottom.current && el.scrollTop < LOAD_OLDER_WITHIN && o.hasOlder && !o.loadingOlder) o.onLoadOlder?.();
    };
    el.addEventListener('scroll', onScroll, { passive: true });
    return () => el.removeEventListener('scroll', onScroll);
  }, []);

  const last = messages.at(-1);
  const tailKey = `${messages.length}:${last?.id}:${last?.content.length}:${last?.tools.length}`;
  useLayoutEffect(() => {
    if (!atBottom.current || messages.length === 0) return;
    v.scrollToIndex(messages.length - 1, { align: 'end' });
    const el = scrollRef.current;
    const id = requestAnimationFrame(() => {
      if (el) el.scrollTop = el.scrollHeight;
    });
    return () => cancelAnimationFrame(id);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [tailKey]);

  return (
    <div className="messages" ref={scrollRef} role="log" aria-live="polite" aria-relevant="additions">
      <div className="messages-inner" style={{ height: v.getTotalSize(), position: 'relative' }}>
        {showOlderRow && (
          <div className="older-row" style={{ position: 'absolute', top: 0, left: 0, right: 0, height: OLDER_ROW, display: 'flex', alignItems: 'center', justifyContent: 'center' }}>
            {loadingOlder ? (
              <span className="muted small" role="status">
                Loading older messages…
              </span>
            ) : (
              <button type="button" className="btn-ghost btn-small" onClick={() => onLoadOlder?.()}>
                Load older messages
              </button>
            )}
          </div>
        )}
        {v.getVirtualItems().map((item) => {
          const m = messages[item.index]!;
          return (
            <div key={item.key} data-index={item.index} ref={v.measureElement} className="msg-row" style={{ position: 'absolute', top: 0, left: 0, right: 0, transform: `translateY(${item.start}px)` }}>
              <MessageItem message={m} {...rest} />
            </div>
          );
        })}
      </div>
    </div>
  );
}
