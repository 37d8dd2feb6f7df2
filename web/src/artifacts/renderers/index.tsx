import { lazy, Suspense, useEffect, useState } from 'react';
import { CodeBlock } from '../../markdown/CodeBlock';
import { Markdown } from '../../markdown/Markdown';
import { TableArtifact } from './TableArtifact';
import { imageUrl, inert, release } from '../../ui/inert';

const VegaArtifact = lazy(() => import('./VegaArtifact'));
const MermaidArtifact = lazy(() => import('./MermaidArtifact'));

export interface Content {
  blob: Blob;
  text: string | null;
  mime: string;
}

const EXT_LANG: Record<string, string> = { py: 'python', js: 'javascript', ts: 'typescript', rs: 'rust', sh: 'bash', sql: 'sql', json: 'json', yml: 'yaml', yaml: 'yaml', go: 'go', css: 'css', html: 'xml' };

function languageOf(title: string, mime: string): string | undefined {
  const ext = /\.(\w+)$/.exec(title)?.[1]?.toLowerCase();
  if (ext && EXT_LANG[ext]) return EXT_LANG[ext];
  const sub = /(?:x-)?([\w-]+)$/.exec(mime)?.[1];
  return sub && sub !== 'plain' ? sub : undefined;
}

export function isTextual(type: string, mime: string): boolean {
  return (
    ['markdown', 'table', 'vega-lite', 'mermaid', 'code', 'document'].includes(type) ||
    mime.startsWith('text/') ||
    mime.includes('json')
  );
}

/** An object URL of the blob, made inert first (an SVG or HTML file downloads, never runs). */
function useObjectUrl(blob: Blob): string {
  const [url, setUrl] = useState('');
  useEffect(() => {
    const u = URL.createObjectURL(inert(blob));
    setUrl(u);
    return () => URL.revokeObjectURL(u);
  }, [blob]);
  return url;
}

function useImageUrl(blob: Blob): string {
  const [url, setUrl] = useState('');
  useEffect(() => {
    let made = '';
    let gone = false;
    void imageUrl(blob).then((u) => {
      if (gone) release(u);
      else setUrl((made = u));
    });
    return () => {
      gone = true;
      if (made) release(made);
    };
  }, [blob]);
  return url;
}

function ImageView({ blob, title }: { blob: Blob; title: string }) {
  const url = useImageUrl(blob);
  return url ? <img className="artifact-image" src={url} alt={title} /> : null;
}

export function ArtifactBody({ type, title, content, dark }: { type: string; title: string; content: Content; dark: boolean }) {
  const { text, mime } = content;
  if ((type === 'chart' || type === 'image') && mime.startsWith('image/')) return <ImageView blob={content.blob} title={title} />;
  if (type === 'document' && mime.includes('html') && text !== null) {
    // No scripts, no same-origin access: the page is shown, never run.
    return <iframe className="artifact-doc" title={title} sandbox="" srcDoc={text} />;
  }
  if (text === null) return <FileView content={content} title={title} />;
  switch (type) {
    case 'markdown':
    case 'document':
      return <Markdown text={text} />;
    case 'table':
      return <TableArtifact text={text} />;
    case 'vega-lite':
      return (
        <Suspense fallback={<p className="muted">Loading the chart renderer…</p>}>
          <VegaArtifact text={text} dark={dark} />
        </Suspense>
      );
    case 'mermaid':
      return (
        <Suspense fallback={<p className="muted">Loading the diagram renderer…</p>}>
          <MermaidArtifact text={text} dark={dark} />
        </Suspense>
      );
    case 'code':
      return <CodeBlock code={text} language={languageOf(title, mime)} />;
    default:
      if (mime.startsWith('text/') || mime.includes('json')) return <CodeBlock code={text} language={languageOf(title, mime)} />;
      return <FileView content={content} title={title} />;
  }
}

function FileView({ content, title }: { content: Content; title: string }) {
  const url = useObjectUrl(content.blob);
  return (
    <div className="fileview">
      <p>
        <strong>{title}</strong> <span className="muted">({content.mime}, {formatSize(content.blob.size)})</span>
      </p>
      {url && (
        <a className="btn" href={url} download={title}>
          Download
        </a>
      )}
    </div>
  );
}

export function formatSize(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
