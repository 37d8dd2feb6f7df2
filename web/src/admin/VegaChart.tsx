import { useEffect, useRef, useState } from 'react';
import { inlineOnlyLoader } from '../charts/loader';
import type { Spec } from './analytics';
import { useDark } from './useDark';

/** The page's accent colour (the tenant's, when set) for single-colour marks. */
function accent(): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue('--accent').trim();
  return v || '#4f46e5';
}

/**
 * A Vega-Lite chart drawn by vega-embed, which is loaded on first use (its own chunk, shared
 * with the artifact renderer). Follows the light/dark theme; hovering a mark shows its numbers.
 */
export function VegaChart({ spec, label }: { spec: Spec; label: string }) {
  const ref = useRef<HTMLDivElement>(null);
  const dark = useDark();
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let view: { finalize: () => void } | null = null;
    let gone = false;
    (async () => {
      try {
        const { default: embed, vega } = await import('vega-embed');
        if (gone || !ref.current) return;
        const color = accent();
        const result = await embed(ref.current, spec as never, {
          actions: false,
          renderer: 'svg',
          tooltip: true,
          theme: dark ? 'dark' : undefined,
          // Vega's expression interpreter: no code generation from specs (CSP-safe).
          ast: true,
          loader: inlineOnlyLoader(vega, (e) => !gone && setError(e.message)),
          config: {
            background: 'transparent',
            font: 'system-ui, -apple-system, Segoe UI, Roboto, sans-serif',
            mark: { color },
            bar: { color },
            line: { color },
            axis: { labelFontSize: 11, titleFontSize: 11, titleFontWeight: 500 },
            legend: { labelFontSize: 11 },
            view: { stroke: null },
          },
        });
        if (gone) result.finalize();
        else view = result;
        setError(null);
      } catch (e) {
        if (!gone) setError(e instanceof Error ? e.message : String(e));
      }
    })();
    return () => {
      gone = true;
      view?.finalize();
    };
  }, [spec, dark]);
  if (error) return <p className="form-error">Could not draw the chart: {error}</p>;
  return <div ref={ref} className="vega admin-chart" role="img" aria-label={label} />;
}
