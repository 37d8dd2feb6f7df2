import { memo } from 'react';
import ReactMarkdown, { type Components } from 'react-markdown';
import remarkGfm from 'remark-gfm';
import { CodeBlock } from './CodeBlock';

interface HastNode {
  type: string;
  value?: string;
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
}

/**
 * Markdown from users and models. Raw HTML is never rendered (no rehype-raw: HTML in the text
 * stays text), URLs go through react-markdown's safe transform (no `javascript:`), and links
 * open in a new tab without access to this window.
 */
export const Markdown = memo(function Markdown({ text, live }: Props) {
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
  return (
    <div className="markdown">
      <ReactMarkdown remarkPlugins={[remarkGfm]} rehypePlugins={[rehypeHtmlAsText]} components={components}>
        {text}
      </ReactMarkdown>
    </div>
  );
});
