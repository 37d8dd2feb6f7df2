import { useEffect, useRef, useState } from 'react';
import { inlineOnlyLoader } from '../../charts/loader';
import { RenderError } from './RenderError';

/** A Vega-Lite spec, drawn by vega-embed (its own chunk, loaded only for this renderer). */
export default function VegaArtifact({ text, dark }: { text: string; dark: boolean }) {
  const ref = useRef<HTMLDivElement>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let result: { finalize: () => void } | null = null;
    let gone = false;
    setError(null);
    (async () => {
      try {
        const spec = JSON.parse(text) as Record<string, unknown>;
        // Fill the panel's width unless the spec sets its own.
        if (spec.width === undefined) spec.width = 'container';
        const { default: embed, vega } = await import('vega-embed');
        if (gone || !ref.current) return;
        result = await embed(ref.current, spec as never, {
          actions: false,
          theme: dark ? 'dark' : undefined,
          // Vega's expression interpreter keeps specs from evaluating code (CSP-safe).
          ast: true,
          loader: inlineOnlyLoader(vega, (e) => !gone && setError(e.message)),
          config: { background: 'transparent' },
        });
      } catch (e) {
        if (!gone) setError(e instanceof Error ? e.message : String(e));
      }
    })();
    return () => {
      gone = true;
      result?.finalize();
    };
  }, [text, dark]);
  // The chart's element stays mounted, so a new version of the spec can draw into it.
  return (
    <>
      {error && <RenderError heading="This chart could not be drawn" message={error} source={text} />}
      <div ref={ref} className="vega" hidden={error !== null} />
    </>
  );
}
