import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from 'react';
import { api } from '../api';
import { ChatSocket, chatSocketUrl, type SocketStatus } from '../api/socket';
import type { PickedCollection, UploadedFile } from '../api/types';
import { useToast } from '../ui/toast';
import { chatReducer, displayMessages, initialChatState, resumeAfter } from './stream';

export interface SendOptions {
  parentId: string | null;
  model?: string;
  toolsAllowed?: string[];
  /** Uploaded files to attach. */
  attachments?: UploadedFile[];
  /** The knowledge collections to answer from. */
  collections?: PickedCollection[];
}

/** Messages loaded at a time: the newest page on open, older ones on scrolling up. */
export const PAGE_SIZE = 100;

/**
 * One conversation's live state: loads the branch's newest messages over REST (older ones on
 * demand), follows the event stream over the WebSocket (resuming from the last seq after a
 * drop), sends, cancels and switches branches.
 */
export function useChat(conversationId: string) {
  const [state, dispatch] = useReducer(chatReducer, initialChatState);
  const [connection, setConnection] = useState<SocketStatus>('connecting');
  const [loaded, setLoaded] = useState(false);
  const socketRef = useRef<ChatSocket | null>(null);
  const stateRef = useRef(state);
  stateRef.current = state;
  const loadedRef = useRef(false);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const loadingOlderRef = useRef(false);
  const toast = useToast();
  const toastRef = useRef(toast);
  toastRef.current = toast;

  useEffect(() => {
    dispatch({ kind: 'reset' });
    loadedRef.current = false;
    setLoaded(false);
    const socket = new ChatSocket({
      url: chatSocketUrl(conversationId),
      getToken: () => api.ensureToken(),
      refreshToken: () => api.refresh(),
      onReady: async (serverLastSeq) => {
        if (loadedRef.current) return stateRef.current.lastSeq; // a reconnect: go on from there
        try {
          const { messages, hasMore } = await api.messagePage(conversationId, { limit: PAGE_SIZE });
          // A run already under way: replay from its run.started so its text is whole.
          const after = resumeAfter(messages, serverLastSeq);
          dispatch({ kind: 'snapshot', messages, hasMore, lastSeq: after, liveFrom: serverLastSeq });
          loadedRef.current = true;
          setLoaded(true);
          return after;
        } catch (e) {
          toastRef.current.error(e, 'Could not load the conversation');
          return serverLastSeq;
        }
      },
      onEvent: (event) => dispatch({ kind: 'event', event }),
      onStatus: setConnection,
      onError: (e) => toastRef.current.error(e, 'Chat connection'),
    });
    socketRef.current = socket;
    socket.start();
    // A handle for end-to-end tests (e.g. `window.pennySocket.drop()` to cut the line mid-answer).
    (window as unknown as { pennySocket?: ChatSocket }).pennySocket = socket;
    return () => {
      socket.stop();
      socketRef.current = null;
    };
  }, [conversationId]);

  // The newest page toward `leaf`; older messages already shown stay when they are on it.
  const refetch = useCallback(
    async (leaf?: string | null) => {
      try {
        const { messages, hasMore } = await api.messagePage(conversationId, { leaf: leaf ?? undefined, limit: PAGE_SIZE });
        dispatch({ kind: 'snapshot', messages, hasMore });
      } catch (e) {
        toastRef.current.error(e, 'Could not load messages');
      }
    },
    [conversationId],
  );

  // A gap in the stream or a run started elsewhere: take the branch from REST.
  useEffect(() => {
    if (state.stale) void refetch(state.followLeaf);
  }, [state.stale, state.followLeaf, refetch]);

  // A run ended: refetch the branch for the stored text, usage and sibling counts.
  const prevActive = useRef<string | null>(null);
  useEffect(() => {
    const was = prevActive.current;
    prevActive.current = state.activeRunId;
    if (was && !state.activeRunId) {
      const leaf = stateRef.current.runs[was]?.messageId ?? stateRef.current.branch.at(-1)?.id;
      void refetch(leaf);
    }
  }, [state.activeRunId, refetch]);

  const send = useCallback(async (content: string, opts: SendOptions): Promise<boolean> => {
    const socket = socketRef.current;
    if (!socket) return false;
    const tempId = `local-${Math.random().toString(36).slice(2)}`;
    dispatch({ kind: 'localSend', tempId, content, parentId: opts.parentId, attachments: opts.attachments, collections: opts.collections });
    try {
      const a = await socket.send({
        content,
        // null asks for a new first message (editing the first message branches it).
        parentId: opts.parentId,
        model: opts.model,
        toolsAllowed: opts.toolsAllowed,
        attachments: opts.attachments?.map((f) => f.id),
        collections: opts.collections?.length ? opts.collections.map((c) => c.id) : undefined,
      });
      dispatch({ kind: 'accepted', tempId, ...a });
      return true;
    } catch (e) {
      dispatch({ kind: 'sendFailed', tempId });
      toastRef.current.error(e, 'The message was not sent');
      return false;
    }
  }, []);

  /** A new answer to `question` (a user message), a sibling of the answers it has. */
  const regenerate = useCallback(async (question: string, opts: Pick<SendOptions, 'model' | 'toolsAllowed'>): Promise<boolean> => {
    const socket = socketRef.current;
    if (!socket) return false;
    try {
      // No local message: run.started puts the new answer under the question.
      await socket.send({ content: '', parentId: question, regenerate: true, model: opts.model, toolsAllowed: opts.toolsAllowed });
      return true;
    } catch (e) {
      toastRef.current.error(e, 'Could not regenerate the answer');
      return false;
    }
  }, []);

  const cancel = useCallback(async () => {
    const runId = stateRef.current.activeRunId;
    if (!runId) return;
    try {
      if (socketRef.current?.state === 'open') await socketRef.current.cancel(runId);
      else await api.cancelRun(runId);
    } catch (e) {
      toastRef.current.error(e, 'Could not stop the answer');
    }
  }, []);

  /** Shows the sibling at 1-based `index` of `message` (and the newest leaf below it). */
  const switchBranch = useCallback(
    async (message: { sibling_ids: string[] }, index: number) => {
      const target = message.sibling_ids[index - 1];
      if (target) await refetch(target);
    },
    [refetch],
  );

  /** Puts the page of messages above the branch's first one in front of it. */
  const loadOlder = useCallback(async () => {
    const { branch, hasOlder } = stateRef.current;
    const first = branch[0];
    const tip = branch.filter((m) => !m.local).at(-1);
    if (!hasOlder || !first || !tip || loadingOlderRef.current) return;
    loadingOlderRef.current = true;
    setLoadingOlder(true);
    try {
      const { messages, hasMore } = await api.messagePage(conversationId, { leaf: tip.id, before: first.id, limit: PAGE_SIZE });
      dispatch({ kind: 'older', before: first.id, messages, hasMore });
    } catch (e) {
      toastRef.current.error(e, 'Could not load older messages');
    } finally {
      loadingOlderRef.current = false;
      setLoadingOlder(false);
    }
  }, [conversationId]);

  const messages = useMemo(() => displayMessages(state), [state]);
  return {
    state,
    messages,
    loaded,
    connection,
    running: state.activeRunId !== null,
    send,
    regenerate,
    cancel,
    switchBranch,
    hasOlder: state.hasOlder,
    loadingOlder,
    loadOlder,
    dropConnection: () => socketRef.current?.drop(),
  };
}
