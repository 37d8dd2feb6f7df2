import { useVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useLayoutEffect, useRef } from 'react';
import { MessageItem } from './MessageItem';
import type { DisplayMessage } from './stream';

interface Props {
  messages: DisplayMessage[];
  busy: boolean;
  onEdit: (m: DisplayMessage, content: string) => void;
  onRegenerate: (m: DisplayMessage) => void;
  onSwitch: (m: DisplayMessage, index: number) => void;
  onOpenArtifact: (id: string) => void;
}

/**
 * The branch's messages, virtualized: only the ones in (or near) view are in the DOM, so a
 * thousand-message chat scrolls like a short one. Sticks to the bottom while at the bottom.
 */
export function MessageList({ messages, ...rest }: Props) {
  const scrollRef = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const v = useVirtualizer({
    count: messages.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => 140,
    overscan: 6,
    getItemKey: (i) => messages[i]?.id ?? i,
  });

  useEffect(() => {
    const el = scrollRef.current;
    if (!el) return;
    const onScroll = () => {
      atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
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
