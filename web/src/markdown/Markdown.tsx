import { memo, type ReactNode } from 'react';
import ReactMarkdown, { type Components } from 'react-markdown';
import remarkGfm from 'remark-gfm';
import { CodeBlock } from './CodeBlock';

interface HastNode {
  type: string;
  tagName?: string;
  value?: string;
  properties?: Record<string, unknown>;
  children?: HastNode[];
}

/** Turns raw HTML from the text into plain text nodes, so it shows as written and never runs. */
export function rehypeHtmlAsText() {
  const walk = (node: HastNode) => {
    if (node.type === 'raw') node.type = 'text';
    node.children?.forEach(walk);
  };
  return (tree: HastNode) => walk(tree);
}

/**
 * Turns each `[n]` in the text (not in code or a link) into a `<cite>` element carrying `n`
 * and which use of `[n]` it is (0 for the first), for the `cite` renderer to draw.
 */
export function rehypeCitations() {
  return (tree: HastNode) => {
    const seen = new Map<number, number>();
    const walk = (node: HastNode) => {
      if (node.type === 'element' && (node.tagName === 'code' || node.tagName === 'pre' || node.tagName === 'a')) return;
      if (!node.children) return;
      const out: HastNode[] = [];
      for (const child of node.children) {
        if (child.type !== 'text' || !child.value || !/\[\d{1,3}\]/.test(child.value)) {
          walk(child);
          out.push(child);
          continue;
        }
        let last = 0;
        const re = /\[(\d{1,3})\]/g;
        for (let m = re.exec(child.value); m; m = re.exec(child.value)) {
          if (m.index > last) out.push({ type: 'text', value: child.value.slice(last, m.index) });
          const n = Number(m[1]);
          const k = seen.get(n) ?? 0;
          seen.set(n, k + 1);
          out.push({ type: 'element', tagName: 'cite', properties: { dataN: n, dataK: k }, children: [{ type: 'text', value: m[0] }] });
          last = m.index + m[0].length;
        }
        if (last < child.value.length) out.push({ type: 'text', value: child.value.slice(last) });
      }
      node.children = out;
    };
    walk(tree);
  };
}

const textLength = (node: HastNode | undefined): number =>
  node ? (node.value?.length ?? 0) + (node.children ?? []).reduce((n, c) => n + textLength(c), 0) : 0;

/**
 * Table cells keep words and numbers whole (the table scrolls instead); a cell of prose gets
 * a minimum width so a narrow table does not stack it a word per line.
 */
const cellClass = (node: unknown) => (textLength(node as HastNode) > 30 ? 'cell-prose' : undefined);

interface Props {
  text: string;
  live?: boolean;
  /**
   * Draws a citation marker `[n]` (its `k`-th use in the text, from 0); without it, markers
   * stay text.
   */
  cite?: (n: number, k: number) => ReactNode;
}

/**
 * Markdown from users and models. Raw HTML is never rendered (no rehype-raw: HTML in the text
 * stays text), URLs go through react-markdown's safe transform (no `javascript:`), and links
 * open in a new tab without access to this window.
 */
export const Markdown = memo(function Markdown({ text, live, cite }: Props) {
  const components: Components = {
    a: ({ href, children }) => (
      <a href={href} target="_blank" rel="noopener noreferrer nofollow">
        {children}
      </a>
    ),
    // Block code arrives as <pre><code>; the CodeBlock draws its own <pre>.
    pre: ({ children }) => <>{children}</>,
    code: ({ className, children }) => {
      const text = String(children ?? '');
      const lang = /language-([\w+-]+)/.exec(className ?? '')?.[1];
      const block = lang !== undefined || text.includes('\n');
      if (!block) return <code className="inline-code">{children}</code>;
      return <CodeBlock code={text.replace(/\n$/, '')} language={lang} live={live} />;
    },
    table: ({ children }) => (
      <div className="table-scroll">
        <table>{children}</table>
      </div>
    ),
    th: ({ node, ...props }) => <th {...props} className={cellClass(node)} />,
    td: ({ node, ...props }) => <td {...props} className={cellClass(node)} />,
    img: ({ src, alt }) => (
      // Images from model text could track readers; show them as links instead.
      <a href={src} target="_blank" rel="noopener noreferrer nofollow">
        {alt || src}
      </a>
    ),
  };
  if (cite) {
    components.cite = ({ node, children }) => {
      const p = (node as HastNode | undefined)?.properties;
      const n = Number(p?.dataN);
      return Number.isFinite(n) ? <>{cite(n, Number(p?.dataK) || 0)}</> : <>{children}</>;
    };
  }
  return (
    <div className="markdown">
      <ReactMarkdown
        remarkPlugins={[remarkGfm]}
        rehypePlugins={cite ? [rehypeHtmlAsText, rehypeCitations] : [rehypeHtmlAsText]}
        components={components}
      >
        {text}
      </ReactMarkdown>
    </div>
  );
});
