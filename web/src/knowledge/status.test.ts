import { describe, expect, it } from 'vitest';
import type { KnowledgeDocument } from '../api/types';
import { canWrite, isIngesting, kindLabel, progressFraction, progressText } from './status';

const doc = (over: Partial<KnowledgeDocument>): KnowledgeDocument => ({
  id: 'd1',
  collectionId: 'c1',
  fileId: 'f1',
  sourceUrl: null,
  title: 'report.pdf',
  mime: 'application/pdf',
  bytes: 1000,
  status: 'processing',
  error: null,
  pages: null,
  chunks: 0,
  pagesDone: 0,
  chunksDone: 0,
  version: 1,
  jobId: null,
  createdBy: null,
  createdAt: '2025-01-01T00:00:00Z',
  updatedAt: '2025-01-01T00:00:00Z',
  readyAt: null,
  ...over,
});

describe('ingest progress', () => {
  it('tells pages and passages while processing', () => {
    expect(progressText(doc({ pages: 10, pagesDone: 3, chunksDone: 42 }))).toBe('Page 3 of 10 · 42 passages');
    expect(progressText(doc({ pages: 2, pagesDone: 2, chunks: 12, chunksDone: 5 }))).toBe('Page 2 of 2 · 5 of 12 passages');
    expect(progressText(doc({}))).toBe('Reading the file…');
    expect(progressText(doc({ status: 'queued' }))).toBe('Waiting for a worker…');
    expect(progressText(doc({ status: 'ready' }))).toBeNull();
  });

  it('measures by passages when their total is known, else by pages', () => {
    expect(progressFraction(doc({ pages: 4, pagesDone: 1 }))).toBe(0.25);
    expect(progressFraction(doc({ pages: 4, pagesDone: 4, chunks: 10, chunksDone: 5 }))).toBe(0.5);
    expect(progressFraction(doc({}))).toBeNull();
    expect(progressFraction(doc({ status: 'ready' }))).toBe(1);
  });

  it('polls only for queued and processing documents', () => {
    expect(['queued', 'processing', 'ready', 'failed', 'cancelled'].map((status) => isIngesting({ status } as KnowledgeDocument))).toEqual([
      true,
      true,
      false,
      false,
      false,
    ]);
  });
});

describe('labels', () => {
  it('names common kinds and keeps others', () => {
    expect(kindLabel('application/pdf')).toBe('PDF');
    expect(kindLabel('text/markdown; charset=utf-8')).toBe('Markdown');
    expect(kindLabel('application/x-thing')).toBe('application/x-thing');
  });

  it('lets writers and managers add documents', () => {
    expect([canWrite('read'), canWrite('write'), canWrite('manage')]).toEqual([false, true, true]);
  });
});
