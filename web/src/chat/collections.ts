// The composer's collection picker: the knowledge collections a user picked in a
// conversation, remembered per conversation (a follow-up is answered from the same
// documents until the pick changes).
import type { Collection, Message } from '../api/types';

const KEY = 'penny.collections.';

/** The collections last picked in a conversation; null if none were ever picked there. */
export function loadCollectionChoice(conversationId: string): string[] | null {
  try {
    const v: unknown = JSON.parse(localStorage.getItem(KEY + conversationId) ?? 'null');
    return Array.isArray(v) ? v.filter((n): n is string => typeof n === 'string') : null;
  } catch {
    return null;
  }
}

export function saveCollectionChoice(conversationId: string, ids: string[]): void {
  try {
    localStorage.setItem(KEY + conversationId, JSON.stringify(ids));
  } catch {
    // Storage full or blocked (private mode): the pick lasts only while the chat is open.
  }
}

/** Forgets a deleted conversation's pick. */
export function forgetCollectionChoice(conversationId: string): void {
  try {
    localStorage.removeItem(KEY + conversationId);
  } catch {
    // Storage blocked: nothing was kept.
  }
}

/** The collections the branch's newest question was answered from (a chat opened elsewhere). */
export function lastPicked(messages: Pick<Message, 'role' | 'collections'>[]): string[] {
  const question = [...messages].reverse().find((m) => m.role === 'user');
  return question?.collections?.map((c) => c.id) ?? [];
}

/** The picked ids still readable, in the order picked: a deleted collection, or one whose
 * access ended, would fail the send. */
export function stillReadable(picked: string[], readable: Pick<Collection, 'id'>[]): string[] {
  const ids = new Set(readable.map((c) => c.id));
  return picked.filter((id) => ids.has(id));
}
