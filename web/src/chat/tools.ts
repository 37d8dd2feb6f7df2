// The composer's tool chips: readable labels for the built-in tools, and the tools a user
// turned on, remembered per conversation (so a follow-up keeps the same tool access).

const LABELS: Record<string, string> = {
  python_execute: 'Python',
  create_artifact: 'Artifact',
  generate_report: 'Report',
  current_time: 'Time',
  search_documents: 'Documents',
};

/** A short label for a tool; an unknown tool keeps its own name. */
export function toolLabel(name: string): string {
  return LABELS[name] ?? name;
}

const KEY = 'penny.tools.';

/** The tools last chosen in a conversation; null if none were ever chosen there. */
export function loadToolChoice(conversationId: string): string[] | null {
  try {
    const v: unknown = JSON.parse(localStorage.getItem(KEY + conversationId) ?? 'null');
    return Array.isArray(v) ? v.filter((n): n is string => typeof n === 'string') : null;
  } catch {
    return null;
  }
}

/** Forgets a deleted conversation's choice. */
export function forgetToolChoice(conversationId: string): void {
  try {
    localStorage.removeItem(KEY + conversationId);
  } catch {
    // Storage blocked: nothing was kept.
  }
}

export function saveToolChoice(conversationId: string, names: string[]): void {
  try {
    localStorage.setItem(KEY + conversationId, JSON.stringify(names));
  } catch {
    // Storage full or blocked (private mode): the choice lasts only while the chat is open.
  }
}
