import { describe, expect, it } from 'vitest';
import { check, citedSources, findCitations, parseSearchResult, quotedSpans, searchPassages, sentenceBefore } from './citations';

const passage = (n: number, content: string, over: Record<string, unknown> = {}) => ({
  n,
  passageId: 100 + n,
  documentId: `doc-${n}`,
  title: `Report ${n}`,
  page: n + 1,
  heading: 'History',
  content,
  ...over,
});

const search = (...passages: ReturnType<typeof passage>[]) => ({
  name: 'search_documents',
  result: JSON.stringify({ query: 'q', passages, instructions: 'Cite as [n].' }),
});

const ZANZIBAR = 'The Zanzibar accord was signed in 1891 by both parties. It ended the dispute.';

describe('the passages of search results', () => {
  it('reads the numbered passages of a search_documents result', () => {
    const [p] = parseSearchResult(search(passage(1, ZANZIBAR)).result);
    expect(p).toEqual({ n: 1, passageId: 101, documentId: 'doc-1', title: 'Report 1', page: 2, heading: 'History', content: ZANZIBAR });
  });

  it('ignores other tools, failed searches and results that are not JSON', () => {
    const tools = [
      { name: 'python_execute', result: JSON.stringify({ passages: [passage(1, 'x')] }) },
      { name: 'search_documents', result: 'knowledge is unavailable' },
      { name: 'search_documents' },
      { name: 'search_documents', result: JSON.stringify({ passages: [{ n: 'one' }, { n: 2 }] }) },
    ];
    expect(searchPassages(tools).size).toBe(0);
  });

  it('keeps every passage of a number when several searches ran', () => {
    const byN = searchPassages([search(passage(1, 'first')), search(passage(1, 'second'))]);
    expect(byN.get(1)?.map((p) => p.content)).toEqual(['first', 'second']);
  });
});

describe('the sentence a marker ends', () => {
  it('is the one before the marker, past a sentence end inside it', () => {
    const s = 'Some context. The documents say: "It was signed in 1891." [1] More text.';
    expect(sentenceBefore(s, s.indexOf('[1]'))).toBe('The documents say: "It was signed in 1891."');
  });

  it('skips markers right before it and does not cut a quotation at its inner full stop', () => {
    const s = 'First. He wrote: "It rained. Then it stopped." [2][3]';
    expect(sentenceBefore(s, s.indexOf('[3]'))).toBe('He wrote: "It rained. Then it stopped."');
  });

  it('starts after the previous sentence with its marker, and at a line break', () => {
    const s = 'A is true [1]. B is true [2].\nC [3]';
    expect(sentenceBefore(s, s.indexOf('[2]'))).toBe('B is true');
    expect(sentenceBefore(s, s.indexOf('[3]'))).toBe('C');
  });

  it('finds straight, curly and angle quotes', () => {
    expect(quotedSpans('He said "one", then “two” and «three».')).toEqual(['one', 'two', 'three']);
  });
});

describe('checking a citation', () => {
  it('is verified when the passage holds every quote, ignoring case and whitespace', () => {
    expect(check('It says "the ZANZIBAR   accord\nwas signed" and “both parties”', ZANZIBAR).verified).toBe(true);
  });

  it('is unverified when one quote is missing, and says which', () => {
    const r = check('It says "signed in 1891" and "by one party"', ZANZIBAR);
    expect(r.verified).toBe(false);
    expect(r.reason).toContain('by one party');
  });

  it('does not hold a quote’s closing comma against it', () => {
    expect(check('"signed in 1891," it reads', ZANZIBAR).verified).toBe(true);
  });

  it('without quotes, needs at least half of the words of 4+ letters', () => {
    // accord, signed, 1891 (no letters), both, parties: 4 words, all in the passage
    expect(check('The accord was signed by both parties', ZANZIBAR).verified).toBe(true);
    // treaty, collapsed, after, years, between, parties: 1 of 6
    const r = check('The treaty collapsed after ten years between the parties', ZANZIBAR);
    expect(r).toEqual({ verified: false, reason: 'Only 1 of the sentence’s 6 words appear in the passage.' });
    // exactly half: accord, treaty
    expect(check('accord treaty', ZANZIBAR).verified).toBe(true);
  });

  it('matches whole words, not parts of them', () => {
    expect(check('sign part', ZANZIBAR).verified).toBe(false);
  });

  it('is unverified when the sentence has nothing to compare', () => {
    expect(check('See it.', ZANZIBAR).verified).toBe(false);
  });
});

describe('the citations of an answer', () => {
  const tools = [search(passage(1, ZANZIBAR), passage(2, 'Tea is grown in the hills of Darjeeling.'))];

  it('finds each marker with its passage and verdict', () => {
    const text = 'The documents say: "The Zanzibar accord was signed in 1891 by both parties." [1] Tea comes from Darjeeling hills [2][3].';
    const cs = findCitations(text, tools);
    expect(cs.map((c) => [c.n, c.verified, c.passage?.title ?? null])).toEqual([
      [1, true, 'Report 1'],
      [2, true, 'Report 2'],
      [3, false, null],
    ]);
    expect(text.slice(cs[0]!.start, cs[0]!.end)).toBe('[1]');
    expect(cs[2]!.reason).toBe('No search in this answer returned a passage [3].');
  });

  it('flags a quote the passage does not hold', () => {
    const [c] = findCitations('It says "signed in 1895" [1].', tools);
    expect(c?.verified).toBe(false);
    expect(c?.passage?.n).toBe(1);
  });

  it('takes, of several passages with one number, the one that supports the sentence', () => {
    const two = [search(passage(1, 'Nothing relevant here.')), search(passage(1, ZANZIBAR, { title: 'Second search' }))];
    const [c] = findCitations('"signed in 1891" [1]', two);
    expect(c?.verified).toBe(true);
    expect(c?.passage?.title).toBe('Second search');
  });

  it('skips markers in code and Markdown links', () => {
    const text = 'Use `a[1]` or\n```\nx = b[2]\n```\nsee [the page](https://x) and [3](https://y) [1]';
    expect(findCitations(text, tools).map((c) => c.n)).toEqual([1]);
  });

  it('lists each source once, unverified if any use of it is', () => {
    const text = 'The accord was signed by both parties [1]. The treaty collapsed after many bitter years [1].';
    const cs = findCitations(text, tools);
    expect(cs.map((c) => c.verified)).toEqual([true, false]);
    const sources = citedSources(cs);
    expect(sources).toHaveLength(1);
    expect(sources[0]?.verified).toBe(false);
    expect(sources[0]?.start).toBe(cs[0]?.start);
  });

  it('has none without markers', () => {
    expect(findCitations('No citations here.', tools)).toEqual([]);
  });
});
