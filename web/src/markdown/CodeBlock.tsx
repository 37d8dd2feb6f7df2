import { useEffect, useState } from 'react';
import { loadHighlighter } from './highlight';

interface Props {
  code: string;
  language?: string;
  /** Skip highlighting while the text still grows (a streaming answer). */
  live?: boolean;
}

/**
 * A fenced code block: plain text first, highlighted once highlight.js has loaded. The
 * highlighter escapes its input, so its HTML is safe to insert.
 */
export function CodeBlock({ code, language, live }: Props) {
  const [html, setHtml] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);

  useEffect(() => {
    if (live) return;
    let gone = false;
    void loadHighlighter().then((hljs) => {
      if (gone) return;
      const lang = language && hljs.getLanguage(language) ? language : undefined;
      if (!lang && code.length > 20_000) return;
      const r = lang ? hljs.highlight(code, { language: lang, ignoreIllegals: true }) : hljs.highlightAuto(code);
      setHtml(r.value);
    });
    return () => {
      gone = true;
    };
  }, [code, language, live]);

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(code);
      setCopied(true);
      setTimeout(() => setCopied(false), 1500);
    } catch {
      setCopied(false);
    }
  };

  return (
    <div className="codeblock">
      <div className="codeblock-bar">
        <span className="codeblock-lang">{language ?? 'text'}</span>
        <button type="button" className="btn-ghost btn-small" onClick={copy} aria-label="Copy code">
          {copied ? 'Copied' : 'Copy'}
        </button>
      </div>
      <pre>
        {html !== null && !live ? (
          <code className="hljs" dangerouslySetInnerHTML={{ __html: html }} />
        ) : (
          <code className="hljs">{code}</code>
        )}
      </pre>
    </div>
  );
}
