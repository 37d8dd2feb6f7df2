import { describe, expect, it } from 'vitest';
import type { Artifact, BranchMessage } from '../api/types';
import { chatReducer, displayMessages, initialChatState, resumeAfter, withStoredArtifacts, type ChatState, type StreamEvent } from './stream';

const msg = (id: string, parent: string | null, role: string, content: string, status = 'complete'): BranchMessage => ({
  id,
  conversation_id: 'c',
  parent_id: parent,
  role,
  content,
  status,
  model: null,
  tool_calls: null,
  error_code: null,
  created_at: '2026-01-01T00:00:00Z',
  siblings: 1,
  sibling_index: 1,
  sibling_ids: [id],
  run_id: null,
  run_started_seq: null,
});

const apply = (s: ChatState, events: StreamEvent[]) => events.reduce((st, event) => chatReducer(st, { kind: 'event', event }), s);

const started = (seq: number): StreamEvent => ({ type: 'run.started', seq, runId: 'r1', messageId: 'a1', userMessageId: 'u1', parentId: null });
const delta = (seq: number, text: string): StreamEvent => ({ type: 'message.delta', seq, runId: 'r1', messageId: 'a1', text });

function sentState(): ChatState {
  let s = chatReducer(initialChatState, { kind: 'snapshot', messages: [], lastSeq: 0, liveFrom: 0 });
  s = chatReducer(s, { kind: 'localSend', tempId: 'local-1', content: 'Hello', parentId: null });
  return s;
}

describe('chat stream reducer', () => {
  it('builds the assistant text from deltas in order', () => {
    let s = sentState();
    s = chatReducer(s, { kind: 'accepted', tempId: 'local-1', messageId: 'u1', assistantMessageId: 'a1', runId: 'r1' });
    s = apply(s, [started(1), delta(2, 'Hel'), delta(3, 'lo'), delta(4, ' world')]);
    const view = displayMessages(s);
    expect(view.map((m) => m.role)).toEqual(['user', 'assistant']);
    expect(view[1]!.content).toBe('Hello world');
    expect(view[1]!.streaming).toBe(true);
    expect(s.activeRunId).toBe('r1');
    s = apply(s, [{ type: 'run.completed', seq: 5, runId: 'r1', messageId: 'a1' }]);
    expect(s.activeRunId).toBeNull();
    expect(displayMessages(s)[1]).toMatchObject({ content: 'Hello world', streaming: false, status: 'complete' });
    expect(s.lastSeq).toBe(5);
  });

  it('adopts the local message when run.started comes before accepted', () => {
    let s = apply(sentState(), [started(1), delta(2, 'Hi')]);
    expect(s.branch.map((m) => m.id)).toEqual(['u1', 'a1']);
    s = chatReducer(s, { kind: 'accepted', tempId: 'local-1', messageId: 'u1', assistantMessageId: 'a1', runId: 'r1' });
    expect(s.branch.map((m) => m.id)).toEqual(['u1', 'a1']);
    expect(displayMessages(s)[1]!.content).toBe('Hi');
    expect(s.stale).toBe(false);
  });

  it('ignores duplicate and old seqs (a resume that overlaps)', () => {
    let s = apply(sentState(), [started(1), delta(2, 'a'), delta(3, 'b')]);
    const before = s;
    s = apply(s, [delta(2, 'a'), delta(3, 'b'), delta(1, 'x')]);
    expect(s).toBe(before);
    s = apply(s, [delta(3, 'b'), delta(4, 'c')]);
    expect(displayMessages(s)[1]!.content).toBe('abc');
    expect(s.stale).toBe(false);
  });

  it('takes a message.text as the whole text and as closing the gap it stands in for', () => {
    let s = sentState();
    s = chatReducer(s, { kind: 'accepted', tempId: 'local-1', messageId: 'u1', assistantMessageId: 'a1', runId: 'r1' });
    s = apply(s, [started(1), delta(2, 'Hel'), delta(3, 'lo')]);
    // Read back from the stored log: deltas 2..6 stand as one text at 6.
    const text: StreamEvent = { type: 'message.text', seq: 6, runId: 'r1', messageId: 'a1', text: 'Hello world', fromSeq: 2 };
    s = apply(s, [text, delta(7, '!')]);
    expect(s.stale).toBe(false);
    expect(s.lastSeq).toBe(7);
    expect(displayMessages(s)[1]?.content).toBe('Hello world!');
    // One that starts past what this client has is a gap like any other.
    const far: StreamEvent = { type: 'message.text', seq: 20, runId: 'r1', messageId: 'a1', text: 'x', fromSeq: 12 };
    expect(apply(s, [far]).stale).toBe(true);
  });

  it('marks a gap stale and takes the branch from REST on refetch', () => {
    let s = apply(sentState(), [started(1), delta(2, 'one ')]);
    // seq 3 and 4 were never seen: the stream jumped.
    s = apply(s, [delta(5, 'four')]);
    expect(s.stale).toBe(true);
    expect(s.lastSeq).toBe(5);
    // The refetch: REST has the whole text of the finished message.
    s = chatReducer(s, {
      kind: 'snapshot',
      messages: [msg('u1', null, 'user', 'Hello'), msg('a1', 'u1', 'assistant', 'one two three four')],
    });
    expect(s.stale).toBe(false);
    expect(displayMessages(s)[1]!.content).toBe('one two three four');
    // Later events still apply by seq; older ones are still ignored.
    const same = apply(s, [delta(5, 'four')]);
    expect(same).toBe(s);
  });

  it('keeps the live text of a message still streaming across a snapshot', () => {
    let s = apply(sentState(), [started(1), delta(2, 'partial')]);
    s = chatReducer(s, { kind: 'snapshot', messages: [msg('u1', null, 'user', 'Hello'), msg('a1', 'u1', 'assistant', '', 'streaming')] });
    s = apply(s, [delta(3, ' more')]);
    expect(displayMessages(s)[1]!.content).toBe('partial more');
  });

  it('records run.failed with its code and message', () => {
    let s = apply(sentState(), [started(1), delta(2, 'so')]);
    s = apply(s, [{ type: 'run.failed', seq: 3, runId: 'r1', messageId: 'a1', code: 'provider_unavailable', message: 'The model is down' }]);
    const a = displayMessages(s)[1]!;
    expect(a.status).toBe('failed');
    expect(a.error).toEqual({ code: 'provider_unavailable', message: 'The model is down' });
    expect(a.streaming).toBe(false);
    expect(s.activeRunId).toBeNull();
  });

  it('keeps only the code of a failed answer loaded over REST (no made-up message)', () => {
    const failed = { ...msg('a1', 'u1', 'assistant', '', 'failed'), error_code: 'provider_error' };
    const s = chatReducer(initialChatState, { kind: 'snapshot', messages: [msg('u1', null, 'user', 'Hi'), failed] });
    expect(displayMessages(s)[1]!.error).toEqual({ code: 'provider_error', message: '' });
  });

  it('tracks tool calls, their results and artifacts', () => {
    let s = apply(sentState(), [
      started(1),
      { type: 'tool.call', seq: 2, runId: 'r1', messageId: 'a1', callId: 'c1', name: 'python_execute', arguments: '{"script":"1"}' },
      { type: 'artifact.created', seq: 3, artifactId: 'art1', artifactType: 'chart', title: 'chart.png', mime: 'image/png', version: 1, messageId: 'a1' },
      { type: 'tool.result', seq: 4, runId: 'r1', messageId: 'a1', callId: 'c1', name: 'python_execute', ok: true, content: '{"exitCode":0}' },
    ]);
    const a = displayMessages(s)[1]!;
    expect(a.tools).toEqual([{ callId: 'c1', name: 'python_execute', arguments: '{"script":"1"}', status: 'ok', result: '{"exitCode":0}' }]);
    expect(a.artifacts.map((x) => x.artifactId)).toEqual(['art1']);
    expect(s.announced?.artifactId).toBe('art1');
    s = apply(s, [{ type: 'run.cancelled', seq: 5, runId: 'r1', messageId: 'a1' }]);
    expect(displayMessages(s)[1]!.status).toBe('cancelled');
  });

  it('replayed history neither switches branches nor announces artifacts', () => {
    let s = chatReducer(initialChatState, {
      kind: 'snapshot',
      messages: [msg('u1', null, 'user', 'Hello'), msg('a1', 'u1', 'assistant', 'Hi')],
      lastSeq: 0,
      liveFrom: 10,
    });
    s = apply(s, [
      { type: 'run.started', seq: 1, runId: 'r0', messageId: 'other', userMessageId: 'u0', parentId: null },
      { type: 'artifact.created', seq: 2, artifactId: 'old', artifactType: 'chart', title: 't', mime: 'image/png', version: 1, messageId: 'other' },
    ]);
    expect(s.branch.map((m) => m.id)).toEqual(['u1', 'a1']);
    expect(s.stale).toBe(false);
    expect(s.announced).toBeNull();
  });

  it('an edit branches from the parent: the branch is cut there', () => {
    let s = chatReducer(initialChatState, {
      kind: 'snapshot',
      messages: [msg('u1', null, 'user', 'A'), msg('a1', 'u1', 'assistant', 'B'), msg('u2', 'a1', 'user', 'C'), msg('a2', 'u2', 'assistant', 'D')],
    });
    s = chatReducer(s, { kind: 'localSend', tempId: 'local-x', content: 'C edited', parentId: 'a1' });
    expect(s.branch.map((m) => m.id)).toEqual(['u1', 'a1', 'local-x']);
    s = chatReducer(s, { kind: 'sendFailed', tempId: 'local-x' });
    expect(s.branch.map((m) => m.id)).toEqual(['u1', 'a1']);
  });

  it('resumes a run under way from just before its run.started, not from the start of the log', () => {
    const streaming = { ...msg('a1', 'u1', 'assistant', '', 'streaming'), run_id: 'r1', run_started_seq: 41 };
    const branch = [msg('u1', null, 'user', 'Hello'), streaming];
    expect(resumeAfter(branch, 57)).toBe(40);
    expect(resumeAfter([msg('u1', null, 'user', 'Hello'), msg('a1', 'u1', 'assistant', 'Hi')], 57)).toBe(57);
    // A streaming answer whose run is not known: the whole log, as before.
    expect(resumeAfter([msg('u1', null, 'user', 'Hello'), msg('a1', 'u1', 'assistant', '', 'streaming')], 57)).toBe(0);

    // Opened mid-run: the stream starts at run.started (41); the log went on to 43 meanwhile.
    let s = chatReducer(initialChatState, { kind: 'snapshot', messages: branch, lastSeq: resumeAfter(branch, 43), liveFrom: 43 });
    s = apply(s, [
      { type: 'run.started', seq: 41, runId: 'r1', messageId: 'a1', userMessageId: 'u1', parentId: null },
      { type: 'message.delta', seq: 42, runId: 'r1', messageId: 'a1', text: 'Whole ' },
      { type: 'message.delta', seq: 43, runId: 'r1', messageId: 'a1', text: 'text' },
      { type: 'message.delta', seq: 44, runId: 'r1', messageId: 'a1', text: ', live' },
    ]);
    expect(s.stale).toBe(false);
    expect(s.activeRunId).toBe('r1');
    expect(s.branch.map((m) => m.id)).toEqual(['u1', 'a1']);
    expect(displayMessages(s)[1]).toMatchObject({ content: 'Whole text, live', streaming: true });
  });

  it('puts older pages in front and keeps them across a refetch of the newest page', () => {
    const chain = Array.from({ length: 9 }, (_, i) => msg(`m${i}`, i === 0 ? null : `m${i - 1}`, i % 2 ? 'assistant' : 'user', `text ${i}`));
    let s = chatReducer(initialChatState, { kind: 'snapshot', messages: chain.slice(6), hasMore: true });
    expect(s.hasOlder).toBe(true);
    // A page that does not end just above the first message shown is not used.
    expect(chatReducer(s, { kind: 'older', before: 'm7', messages: chain.slice(3, 6), hasMore: true })).toBe(s);
    expect(chatReducer(s, { kind: 'older', before: 'm6', messages: chain.slice(2, 5), hasMore: true })).toBe(s);
    s = chatReducer(s, { kind: 'older', before: 'm6', messages: chain.slice(3, 6), hasMore: true });
    expect(s.branch.map((m) => m.id)).toEqual(['m3', 'm4', 'm5', 'm6', 'm7', 'm8']);
    expect(s.hasOlder).toBe(true);
    // The newest page again (a run ended): the older messages stay in front of it.
    const next = [...chain.slice(7), msg('m9', 'm8', 'user', 'more')];
    s = chatReducer(s, { kind: 'snapshot', messages: next, hasMore: true });
    expect(s.branch.map((m) => m.id)).toEqual(['m3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9']);
    expect(s.hasOlder).toBe(true);
    s = chatReducer(s, { kind: 'older', before: 'm3', messages: chain.slice(0, 3), hasMore: false });
    expect(s.branch).toHaveLength(10);
    expect(s.hasOlder).toBe(false);
    // Another branch whose page shares nothing shown: it replaces the branch.
    s = chatReducer(s, { kind: 'snapshot', messages: [msg('x1', 'elsewhere', 'user', 'x')], hasMore: true });
    expect(s.branch.map((m) => m.id)).toEqual(['x1']);
    expect(s.hasOlder).toBe(true);
  });

  it('keeps the sibling ids of each message for the branch switcher', () => {
    const edited = { ...msg('u2b', 'a1', 'user', 'C edited'), siblings: 2, sibling_index: 2, sibling_ids: ['u2', 'u2b'] };
    const s = chatReducer(initialChatState, { kind: 'snapshot', messages: [msg('u1', null, 'user', 'A'), msg('a1', 'u1', 'assistant', 'B'), edited] });
    expect(displayMessages(s)[2]).toMatchObject({ sibling_ids: ['u2', 'u2b'], sibling_index: 2, siblings: 2 });
  });

  it('after a reload, each answer shows the chips of the artifacts it made, once', () => {
    const s = chatReducer(initialChatState, { kind: 'snapshot', messages: [msg('u1', null, 'user', 'A'), msg('a1', 'u1', 'assistant', 'B')] });
    const art = (id: string, messageId: string | null): Artifact => ({
      id,
      conversationId: 'c',
      messageId,
      type: 'chart',
      title: `Chart ${id}`,
      latestVersion: 2,
      createdAt: '2026-01-01T00:00:00Z',
      updatedAt: '2026-01-01T00:00:00Z',
    });
    const view = withStoredArtifacts(displayMessages(s), [art('x', 'a1'), art('y', null), art('z', 'other')]);
    expect(view[0]!.artifacts).toEqual([]);
    expect(view[1]!.artifacts).toEqual([{ artifactId: 'x', artifactType: 'chart', title: 'Chart x', mime: '', version: 2, messageId: 'a1' }]);
    // One announced live keeps its own chip, not a second one.
    const live = withStoredArtifacts(view, [art('x', 'a1')]);
    expect(live[1]!.artifacts).toHaveLength(1);
  });
});
