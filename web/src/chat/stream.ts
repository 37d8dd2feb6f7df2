// The chat's state as a pure reducer: the branch shown (from REST, the newest page first and
// older pages put in front as they are loaded) plus what the event stream adds to it. Events
// are applied strictly by seq: anything at or below the last seq seen is ignored (a resume or
// a reconnect may deliver it again), a jump past lastSeq + 1 marks the state stale so the
// branch is refetched over REST. A run's deltas are not stored: read back later, a
// `message.text` stands in for them (the message's whole text up to its seq, covering the
// seqs from its `fromSeq`), so it closes the gap it jumps.

import type { Artifact, UploadedFile, BranchMessage, PickedCollection, StoredToolCall } from '../api/types';

interface EventBase {
  seq: number;
  runId?: string;
  messageId?: string;
}

export type StreamEvent =
  | (EventBase & { type: 'run.started'; runId: string; messageId: string; userMessageId?: string; parentId?: string | null; model?: string })
  | (EventBase & { type: 'message.delta'; messageId: string; text: string })
  | (EventBase & { type: 'message.text'; messageId: string; text: string; fromSeq: number })
  | (EventBase & { type: 'tool.call'; messageId: string; callId: string; name: string; arguments: string })
  | (EventBase & { type: 'tool.result'; messageId: string; callId: string; name: string; ok: boolean; content: string })
  | (EventBase & {
      type: 'artifact.created';
      artifactId: string;
      artifactType: string;
      title: string;
      mime: string;
      version: number;
      messageId?: string;
      jobId?: string;
    })
  | (EventBase & { type: 'run.completed'; runId: string; usage?: { inputTokens?: number; outputTokens?: number }; durationMs?: number })
  | (EventBase & { type: 'run.failed'; runId: string; code?: string; message?: string })
  | (EventBase & { type: 'run.cancelled'; runId: string })
  | (EventBase & { type: 'other'; [k: string]: unknown });

export type RunStatus = 'running' | 'complete' | 'failed' | 'cancelled';

export interface ToolCallState {
  callId: string;
  name: string;
  arguments: string;
  status: 'running' | 'ok' | 'error';
  result?: string;
}

export interface LiveMessage {
  id: string;
  runId: string | null;
  text: string;
  /** Built from the run's first event (so the text is whole), not joined mid-run. */
  fromStart: boolean;
  tools: ToolCallState[];
  status: 'streaming' | 'complete' | 'failed' | 'cancelled';
  error?: { code: string; message: string };
}

export interface ArtifactRef {
  artifactId: string;
  artifactType: string;
  title: string;
  mime: string;
  version: number;
  messageId?: string;
}

/** A message of the branch; `local` = sent from here, not yet acknowledged by the server. */
export type ChatMessage = Pick<
  BranchMessage,
  'id' | 'parent_id' | 'role' | 'content' | 'status' | 'model' | 'tool_calls' | 'error_code' | 'siblings' | 'sibling_index' | 'sibling_ids' | 'attachments' | 'collections'
> & { local?: boolean };

export interface ChatState {
  lastSeq: number;
  branch: ChatMessage[];
  /** Messages older than the branch's first exist (load them with an `older` page). */
  hasOlder: boolean;
  live: Record<string, LiveMessage>;
  runs: Record<string, { messageId: string; status: RunStatus }>;
  activeRunId: string | null;
  artifacts: ArtifactRef[];
  /** The branch must be refetched over REST (a seq gap, or a run this client did not start). */
  stale: boolean;
  /** The leaf to refetch toward when stale. */
  followLeaf: string | null;
  /**
   * Events up to this seq replay history (a resume from before the snapshot): they fill in
   * text for messages on the branch but never switch branches or announce artifacts.
   */
  liveFrom: number;
  /** The newest artifact created live (not replayed): the panel opens on it. */
  announced: ArtifactRef | null;
}

export type ChatAction =
  /**
   * The branch (or its newest page) from REST. A page whose first message's parent is on the
   * branch shown keeps the older messages before it; `hasMore` says whether older ones exist.
   */
  | { kind: 'snapshot'; messages: BranchMessage[] | ChatMessage[]; hasMore?: boolean; lastSeq?: number; liveFrom?: number }
  /** An older page, loaded for the messages above `before` (the branch's first message). */
  | { kind: 'older'; before: string; messages: BranchMessage[]; hasMore: boolean }
  | { kind: 'event'; event: StreamEvent }
  | {
      kind: 'localSend';
      tempId: string;
      content: string;
      parentId: string | null;
      attachments?: UploadedFile[];
      collections?: PickedCollection[];
    }
  | { kind: 'accepted'; tempId: string; messageId: string; assistantMessageId: string; runId: string }
  | { kind: 'sendFailed'; tempId: string }
  | { kind: 'reset' };

export const initialChatState: ChatState = {
  lastSeq: 0,
  branch: [],
  hasOlder: false,
  live: {},
  runs: {},
  activeRunId: null,
  artifacts: [],
  stale: false,
  followLeaf: null,
  liveFrom: 0,
  announced: null,
};

const FINAL = new Set(['complete', 'failed', 'cancelled']);
export const isFinalStatus = (s: string) => FINAL.has(s);

function toChat(m: BranchMessage | ChatMessage): ChatMessage {
  return {
    id: m.id,
    parent_id: m.parent_id,
    role: m.role,
    content: m.content,
    status: m.status,
    model: m.model,
    tool_calls: m.tool_calls,
    error_code: m.error_code,
    siblings: m.siblings,
    sibling_index: m.sibling_index,
    sibling_ids: m.sibling_ids,
    attachments: m.attachments,
    collections: m.collections,
  };
}

/** The branch cut after `parentId` (null: cut everything), so a new message can follow it. */
function cutAfter(branch: ChatMessage[], parentId: string | null): ChatMessage[] | null {
  if (parentId === null) return [];
  const i = branch.findIndex((m) => m.id === parentId);
  return i < 0 ? null : branch.slice(0, i + 1);
}

function placeholder(id: string, parentId: string, model?: string | null): ChatMessage {
  return {
    id,
    parent_id: parentId,
    role: 'assistant',
    content: '',
    status: 'streaming',
    model: model ?? null,
    tool_calls: null,
    error_code: null,
    siblings: 1,
    sibling_index: 1,
    sibling_ids: [id],
  };
}

function updateLive(state: ChatState, id: string, f: (m: LiveMessage) => LiveMessage): ChatState {
  const cur = state.live[id] ?? { id, runId: null, text: '', fromStart: false, tools: [], status: 'streaming' as const };
  return { ...state, live: { ...state.live, [id]: f(cur) } };
}

function setBranchStatus(state: ChatState, id: string | undefined, status: string, errorCode?: string): ChatState {
  if (!id) return state;
  return {
    ...state,
    branch: state.branch.map((m) => (m.id === id ? { ...m, status, error_code: errorCode ?? m.error_code } : m)),
  };
}

function finishRun(state: ChatState, runId: string, status: Exclude<RunStatus, "running">, error?: { code: string; message: string }, messageId?: string): ChatState {
  const id = state.runs[runId]?.messageId ?? messageId;
  let s: ChatState = {
    ...state,
    runs: id ? { ...state.runs, [runId]: { messageId: id, status } } : state.runs,
    activeRunId: state.activeRunId === runId ? null : state.activeRunId,
  };
  if (id) {
    s = updateLive(s, id, (m) => ({ ...m, status, error }));
    s = setBranchStatus(s, id, status, error?.code);
  }
  return s;
}

function applyEvent(state: ChatState, e: StreamEvent): ChatState {
  switch (e.type) {
    case 'run.started': {
      let s: ChatState = {
        ...state,
        runs: { ...state.runs, [e.runId]: { messageId: e.messageId, status: 'running' } },
        activeRunId: e.runId,
      };
      s = updateLive(s, e.messageId, () => ({
        id: e.messageId,
        runId: e.runId,
        text: '',
        fromStart: true,
        tools: [],
        status: 'streaming',
      }));
      if (s.branch.some((m) => m.id === e.messageId)) return s;
      if (e.seq <= s.liveFrom) return s; // history of another branch
      const userId = e.userMessageId;
      if (!userId) return { ...s, stale: true, followLeaf: e.messageId };
      let at = s.branch.findIndex((m) => m.id === userId);
      let branch = s.branch;
      if (at < 0) {
        // Our own send whose `accepted` has not come yet: the local message under that parent.
        const parent = e.parentId ?? null;
        at = branch.findIndex((m) => m.local && m.role === 'user' && m.parent_id === parent);
        if (at < 0) return { ...s, stale: true, followLeaf: e.messageId };
        branch = branch.map((m, i) => (i === at ? { ...m, id: userId } : m));
      }
      return {
        ...s,
        branch: [...branch.slice(0, at + 1), placeholder(e.messageId, userId, e.model)],
      };
    }
    case 'message.delta':
      return updateLive(state, e.messageId, (m) => ({ ...m, text: m.text + e.text }));
    case 'message.text':
      // The whole text so far, whatever this client had of it.
      return updateLive(state, e.messageId, (m) => ({ ...m, text: e.text, fromStart: true }));
    case 'tool.call':
      return updateLive(state, e.messageId, (m) => ({
        ...m,
        tools: [...m.tools.filter((t) => t.callId !== e.callId), { callId: e.callId, name: e.name, arguments: e.arguments, status: 'running' }],
      }));
    case 'tool.result':
      return updateLive(state, e.messageId, (m) => {
        const known = m.tools.some((t) => t.callId === e.callId);
        const done: ToolCallState = { callId: e.callId, name: e.name, arguments: '', status: e.ok ? 'ok' : 'error', result: e.content };
        return {
          ...m,
          tools: known
            ? m.tools.map((t) => (t.callId === e.callId ? { ...t, status: done.status, result: e.content } : t))
            : [...m.tools, done],
        };
      });
    case 'artifact.created': {
      if (state.artifacts.some((a) => a.artifactId === e.artifactId && a.version === e.version)) return state;
      const ref: ArtifactRef = {
        artifactId: e.artifactId,
        artifactType: e.artifactType,
        title: e.title,
        mime: e.mime,
        version: e.version,
        messageId: e.messageId,
      };
      return {
        ...state,
        artifacts: [...state.artifacts, ref],
        announced: e.seq > state.liveFrom ? ref : state.announced,
      };
    }
    case 'run.completed':
      return finishRun(state, e.runId, 'complete', undefined, e.messageId);
    case 'run.failed':
      return finishRun(state, e.runId, 'failed', { code: e.code ?? 'failed', message: e.message ?? '' }, e.messageId);
    case 'run.cancelled':
      return finishRun(state, e.runId, 'cancelled', undefined, e.messageId);
    default:
      return state;
  }
}

export function chatReducer(state: ChatState, action: ChatAction): ChatState {
  switch (action.kind) {
    case 'reset':
      return initialChatState;
    case 'event': {
      const e = action.event;
      if (typeof e.seq !== 'number' || e.seq <= state.lastSeq) return state; // old or doubled
      const standsIn = e.type === 'message.text' && typeof e.fromSeq === 'number' && e.fromSeq <= state.lastSeq + 1;
      const gap = e.seq !== state.lastSeq + 1 && !standsIn;
      const next = applyEvent(state, e);
      return {
        ...next,
        lastSeq: e.seq,
        stale: next.stale || gap,
        followLeaf: gap && !next.followLeaf ? (next.branch.at(-1)?.id ?? null) : next.followLeaf,
      };
    }
    case 'snapshot': {
      const page = action.messages.map(toChat);
      // A branch is a path from the root: the shown messages up to the page's parent are
      // exactly the page's ancestors, so older pages already loaded stay.
      const parent = page[0]?.parent_id ?? null;
      const at = parent === null ? -1 : state.branch.findIndex((m) => m.id === parent && !m.local);
      const branch = at < 0 ? page : [...state.branch.slice(0, at + 1), ...page];
      const hasOlder = at < 0 ? (action.hasMore ?? false) : state.hasOlder;
      // REST is the truth for finished messages; live text stays for ones still streaming.
      const live: Record<string, LiveMessage> = {};
      for (const m of branch) {
        const l = state.live[m.id];
        if (l && !isFinalStatus(m.status)) live[m.id] = l;
      }
      return {
        ...state,
        branch,
        hasOlder,
        live,
        lastSeq: action.lastSeq ?? state.lastSeq,
        liveFrom: action.liveFrom ?? state.liveFrom,
        stale: false,
        followLeaf: null,
      };
    }
    case 'localSend': {
      const cut = cutAfter(state.branch, action.parentId) ?? state.branch;
      const msg: ChatMessage = {
        id: action.tempId,
        parent_id: action.parentId,
        role: 'user',
        content: action.content,
        status: 'complete',
        model: null,
        tool_calls: null,
        error_code: null,
        siblings: 1,
        sibling_index: 1,
        sibling_ids: [action.tempId],
        attachments: action.attachments,
        collections: action.collections,
        local: true,
      };
      return { ...state, branch: [...cut, msg] };
    }
    case 'accepted': {
      let branch = state.branch.map((m) => (m.id === action.tempId ? { ...m, id: action.messageId, local: false } : m));
      branch = branch.map((m) => (m.id === action.messageId ? { ...m, local: false } : m));
      if (!branch.some((m) => m.id === action.assistantMessageId)) {
        const at = branch.findIndex((m) => m.id === action.messageId);
        if (at >= 0) branch = [...branch.slice(0, at + 1), placeholder(action.assistantMessageId, action.messageId)];
      }
      const run = state.runs[action.runId];
      return {
        ...state,
        branch,
        runs: run ? state.runs : { ...state.runs, [action.runId]: { messageId: action.assistantMessageId, status: 'running' } },
        activeRunId: run && run.status !== 'running' ? state.activeRunId : action.runId,
      };
    }
    case 'older': {
      // Only a page that ends just above the branch's first message (the branch may have
      // been replaced while it loaded).
      const first = state.branch[0];
      const older = action.messages.map(toChat);
      if (!first || first.id !== action.before || older.at(-1)?.id !== first.parent_id) return state;
      return { ...state, branch: [...older, ...state.branch], hasOlder: action.hasMore };
    }
    case 'sendFailed':
      return { ...state, branch: state.branch.filter((m) => m.id !== action.tempId) };
  }
}

/** A message as shown: REST fields with the live text, tool calls and status merged in. */
export interface DisplayMessage extends ChatMessage {
  tools: ToolCallState[];
  streaming: boolean;
  error?: { code: string; message: string };
  artifacts: ArtifactRef[];
}

function storedTools(calls: StoredToolCall[] | null): ToolCallState[] {
  return (calls ?? []).map((c) => ({
    callId: c.id,
    name: c.name,
    arguments: c.arguments,
    status: c.ok === false ? 'error' : c.ok === true || c.result !== undefined ? 'ok' : 'running',
    result: c.result,
  }));
}

export function displayMessages(state: ChatState): DisplayMessage[] {
  return state.branch.map((m) => {
    const l = state.live[m.id];
    const arts = state.artifacts.filter((a) => a.messageId === m.id);
    if (l && !isFinalStatus(m.status) ) {
      return { ...m, content: l.fromStart ? l.text : m.content + l.text, tools: l.tools, streaming: l.status === 'streaming', error: l.error, artifacts: arts };
    }
    if (l && isFinalStatus(m.status) && l.fromStart && !m.content && l.text) {
      // Finished while this client watched; REST not refetched yet.
      return { ...m, content: l.text, tools: l.tools, streaming: false, error: l.error, artifacts: arts };
    }
    return {
      ...m,
      tools: l && l.tools.length && !m.tool_calls ? l.tools : storedTools(m.tool_calls),
      streaming: false,
      // No message after a reload (only the code is stored): failureText() words the code.
      error: m.status === 'failed' ? { code: m.error_code ?? 'failed', message: l?.error?.message ?? '' } : undefined,
      artifacts: arts,
    };
  });
}

/**
 * The seq to resume the event stream after, for a branch just loaded while the server's log
 * ends at `serverLastSeq`: just before the `run.started` of an answer still being written (so
 * its text is whole), else the log's end. An unfinished answer whose run is not known (its
 * writer died and the reaper has yet to finish it) replays the log from the start.
 */
export function resumeAfter(messages: BranchMessage[], serverLastSeq: number): number {
  const starts = messages.filter((m) => m.role === 'assistant' && !isFinalStatus(m.status)).map((m) => m.run_started_seq);
  if (starts.length === 0) return serverLastSeq;
  if (starts.some((s) => s == null)) return 0;
  return Math.max(0, Math.min(...(starts as number[])) - 1);
}

/**
 * Adds, under each answer, the stored artifacts it made (`stored`: the conversation's
 * artifact list). The stream announces only artifacts made while the chat is open; after a
 * reload an answer would lose its chips. An artifact announced live keeps its own chip.
 */
export function withStoredArtifacts(messages: DisplayMessage[], stored: Artifact[]): DisplayMessage[] {
  if (stored.length === 0) return messages;
  const byMessage = new Map<string, Artifact[]>();
  for (const a of stored) {
    if (a.messageId) byMessage.set(a.messageId, [...(byMessage.get(a.messageId) ?? []), a]);
  }
  return messages.map((m) => {
    const made = byMessage.get(m.id);
    if (!made) return m;
    const shown = new Set(m.artifacts.map((a) => a.artifactId));
    const more: ArtifactRef[] = made
      .filter((a) => !shown.has(a.id))
      .map((a) => ({ artifactId: a.id, artifactType: a.type, title: a.title, mime: '', version: a.latestVersion, messageId: m.id }));
    return more.length ? { ...m, artifacts: [...m.artifacts, ...more] } : m;
  });
}
