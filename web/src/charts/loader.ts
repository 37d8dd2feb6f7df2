import type { Loader } from 'vega';

type Vega = { loader: () => Loader };

/**
 * A Vega loader that refuses every URL (data files, images, anything a spec names): a chart
 * draws only the values it carries. A spec comes from a model or another user, and must not
 * make the reader's browser fetch from the network (tracking, probing an intranet).
 */
export function inlineOnlyLoader(vega: Vega, onRefused?: (e: Error) => void): Loader {
  const refuse = (uri: string): Promise<never> => {
    const e = new Error(`charts do not load data from addresses (${uri}); put the values in the spec`);
    // Vega reports a failed load only as a console warning: tell the reader here.
    onRefused?.(e);
    return Promise.reject(e);
  };
  const base = vega.loader();
  return Object.assign(base, {
    load: refuse,
    sanitize: refuse,
    http: refuse,
    file: refuse,
  }) as Loader;
}
