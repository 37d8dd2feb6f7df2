// Citations in an answer: the `[n]` markers a model writes after a `search_documents` call,
// each matched to the numbered passage it names and checked against that passage's text.
// Pure: no React, no API.

/** A passage as the `search_documents` tool numbered it for the model. */
export interface CitedPassage {
  n: number;
  passageId: number | string;
  documentId: string;
  title: string;
  page: number | null;
  heading: string | null;
  content: string;
}

export interface Citation {
  /** The number in the marker. */
  n: number;
  /** Where the marker `[n]` stands in the text. */
  start: number;
  end: number;
  /** The sentence the marker ends (what it vouches for). */
  sentence: string;
  /** The passage it names; null when no search of this answer returned a passage `n`. */
  passage: CitedPassage | null;
  verified: boolean;
  /** Why it is (or is not) verified, in one sentence. */
  reason: string;
}

/** A tool call as a message holds it (stored or live). */
export interface ToolCallLike {
  name: string;
  result?: string;
}

export const SEARCH_TOOL = 'search_documents';

const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** The passages of one `search_documents` result (its JSON), or none when it is not one. */
export function parseSearchResult(result: string | undefined): CitedPassage[] {
  if (!result) return [];
  let value: unknown;
  try {
    value = JSON.parse(result);
  } catch {
    return [];
  }
  const passages = (value as { passages?: unknown } | null)?.passages;
  if (!Array.isArray(passages)) return [];
  const out: CitedPassage[] = [];
  for (const p of passages as Record<string, unknown>[]) {
    if (!p || typeof p !== 'object' || typeof p.n !== 'number') continue;
    const content = text(p.content);
    const documentId = text(p.documentId);
    if (content === null || documentId === null) continue;
    out.push({
      n: p.n,
      passageId: typeof p.passageId === 'number' || typeof p.passageId === 'string' ? p.passageId : '',
      documentId,
      title: text(p.title) ?? 'Untitled document',
      page: typeof p.page === 'number' ? p.page : null,
      heading: text(p.heading),
      content,
    });
  }
  return out;
}

/**
 * Every passage the answer's searches returned, by number. Each search numbers from 1, so
 * with several searches a number may name more than one passage (all are kept, in order).
 */
export function searchPassages(tools: readonly ToolCallLike[]): Map<number, CitedPassage[]> {
  const byN = new Map<number, CitedPassage[]>();
  for (const t of tools) {
    if (t.name !== SEARCH_TOOL) continue;
    for (const p of parseSearchResult(t.result)) {
      const list = byN.get(p.n);
      if (list) list.push(p);
      else byN.set(p.n, [p]);
    }
  }
  return byN;
}

/** Lower case, runs of whitespace as one space, typographic apostrophes as `'`. */
export function normalize(s: string): string {
  return s.toLowerCase().replace(/[\u2018\u2019]/g, "'").replace(/\s+/g, ' ').trim();
}

/** Spans of code (fenced blocks and inline), where a `[1]` is code, not a citation. */
function codeSpans(s: string): [number, number][] {
  const spans: [number, number][] = [];
  const re = /```[\s\S]*?(?:```|$)|~~~[\s\S]*?(?:~~~|$)|`[^`\n]*`/g;
  for (let m = re.exec(s); m; m = re.exec(s)) spans.push([m.index, m.index + m[0].length]);
  return spans;
}

/** `[n]` not followed by `(` or `:` (a Markdown link or a link definition). */
const MARKER = /\[(\d{1,3})\](?![(:])/g;

const QUOTES: [string, string][] = [
  ['"', '"'],
  ['\u201c', '\u201d'],
  ['\u00ab', '\u00bb'],
];

function balanced(s: string): boolean {
  for (const [open, close] of QUOTES) {
    if (open === close) {
      if (s.split(open).length % 2 === 0) return false;
    } else if (s.split(open).length !== s.split(close).length) return false;
  }
  return true;
}

/**
 * The sentence a marker at `at` ends: back from the marker (past other markers right before
 * it, as in `[2][3]`) to the previous sentence end (`.`, `!` or `?` and a space, or a line
 * break) that is not inside a quotation.
 */
export function sentenceBefore(s: string, at: number): string {
  let end = at;
  // Skip markers and spaces just before this one (`… [1][2]`, `… [1] [2]`).
  for (;;) {
    const head = s.slice(0, end);
    const m = /\[\d{1,3}\]\s*$/.exec(head);
    if (m && m.index > 0) end = m.index;
    else break;
  }
  const head = s.slice(0, end).trimEnd();
  // The sentence's own closing punctuation (and quote) is part of it, not its start.
  const body = head.replace(/[.!?"'\u201d\u00bb)\]]+$/, '');
  const boundaries: number[] = [];
  const re = /[.!?]["'\u201d\u00bb)\]]*\s+|\n+/g;
  for (let m = re.exec(body); m; m = re.exec(body)) boundaries.push(m.index + m[0].length);
  for (let i = boundaries.length - 1; i >= 0; i--) {
    const candidate = head.slice(boundaries[i]);
    if (balanced(candidate)) return candidate.trim();
  }
  return head.trim();
}

/** The quoted spans of a sentence: text in "…", “…” or «…». */
export function quotedSpans(sentence: string): string[] {
  const out: string[] = [];
  const re = /"([^"]+)"|\u201c([^\u201d]+)\u201d|\u00ab([^\u00bb]+)\u00bb/g;
  for (let m = re.exec(sentence); m; m = re.exec(sentence)) {
    const q = (m[1] ?? m[2] ?? m[3] ?? '').trim();
    if (q) out.push(q);
  }
  return out;
}

const words = (s: string, min: number): string[] => (normalize(s).match(/[\p{L}']+/gu) ?? []).filter((w) => [...w].length >= min);

/** Whether `passage` supports `sentence`; and why, in one sentence. */
export function check(sentence: string, passage: string): { verified: boolean; reason: string } {
  const hay = normalize(passage);
  const quotes = quotedSpans(sentence);
  if (quotes.length > 0) {
    // A quote's own closing comma or period ("…1891," she wrote) is not held against it.
    const missing = quotes.find((q) => !hay.includes(normalize(q).replace(/[.,;:!?]+$/, '')));
    return missing === undefined
      ? { verified: true, reason: quotes.length === 1 ? 'The passage contains the quoted text.' : 'The passage contains every quoted text.' }
      : { verified: false, reason: `The passage does not contain the quoted text “${missing}”.` };
  }
  const wanted = [...new Set(words(sentence, 4))];
  if (wanted.length === 0) return { verified: false, reason: 'The sentence has no words to compare with the passage.' };
  const have = new Set(words(passage, 1));
  const found = wanted.filter((w) => have.has(w)).length;
  return found * 2 >= wanted.length
    ? { verified: true, reason: `${found} of the sentence’s ${wanted.length} words appear in the passage.` }
    : { verified: false, reason: `Only ${found} of the sentence’s ${wanted.length} words appear in the passage.` };
}

/**
 * The citations of an assistant message: every `[n]` marker outside code, each with the
 * passage it names and whether that passage supports the sentence the marker ends. When
 * several searches returned a passage `n`, the first that supports the sentence is taken,
 * else the latest.
 */
export function findCitations(answer: string, tools: readonly ToolCallLike[]): Citation[] {
  const passages = searchPassages(tools);
  if (passages.size === 0 && !MARKER.test(answer)) return [];
  const code = codeSpans(answer);
  const out: Citation[] = [];
  MARKER.lastIndex = 0;
  for (let m = MARKER.exec(answer); m; m = MARKER.exec(answer)) {
    const start = m.index;
    if (code.some(([a, b]) => start >= a && start < b)) continue;
    const n = Number(m[1]);
    const sentence = sentenceBefore(answer, start);
    const candidates = passages.get(n) ?? [];
    let chosen: CitedPassage | null = null;
    let result = { verified: false, reason: `No search in this answer returned a passage [${n}].` };
    for (const p of candidates) {
      const r = check(sentence, p.content);
      chosen = p;
      result = r;
      if (r.verified) break;
    }
    out.push({ n, start, end: start + m[0].length, sentence, passage: chosen, ...result });
  }
  return out;
}

/** One entry per cited number, in order of first citation; verified only if every use is. */
export function citedSources(citations: readonly Citation[]): Citation[] {
  const byN = new Map<number, Citation>();
  for (const c of citations) {
    const seen = byN.get(c.n);
    if (!seen) byN.set(c.n, c);
    else if (seen.verified && !c.verified) byN.set(c.n, { ...c, start: seen.start, end: seen.end });
  }
  return [...byN.values()];
}
