import { useEffect, useId, useState } from 'react';
import { RenderError } from './RenderError';

/** A mermaid diagram (mermaid is its own chunk, loaded only here; strict security level). */
export default function MermaidArtifact({ text, dark }: { text: string; dark: boolean }) {
  const id = `mmd-${useId().replace(/[^a-zA-Z0-9]/g, '')}`;
  const [svg, setSvg] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let gone = false;
    setError(null);
    (async () => {
      try {
        const { default: mermaid } = await import('mermaid');
        mermaid.initialize({ startOnLoad: false, securityLevel: 'strict', theme: dark ? 'dark' : 'default' });
        const r = await mermaid.render(id, text);
        if (!gone) setSvg(r.svg);
      } catch (e) {
        if (!gone) setError(e instanceof Error ? e.message : String(e));
      }
    })();
    return () => {
      gone = true;
    };
  }, [text, dark, id]);
  if (error) return <RenderError heading="This diagram could not be drawn" message={error} source={text} />;
  if (svg === null) return <p className="muted">Drawing…</p>;
  // mermaid's strict mode sanitizes the SVG it produces (DOMPurify).
  return <div className="mermaid" dangerouslySetInnerHTML={{ __html: svg }} />;
}
