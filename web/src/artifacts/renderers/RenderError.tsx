/**
 * A diagram or chart that failed to draw: a short heading, the renderer's message as written
 * (parser messages point at the error with a caret on the next line, so newlines matter) and
 * the source behind a disclosure.
 */
export function RenderError({ heading, message, source }: { heading: string; message: string; source: string }) {
  return (
    <div className="render-error" role="alert">
      <h3>{heading}</h3>
      <pre>{message}</pre>
      <details>
        <summary>Show the source</summary>
        <pre>{source}</pre>
      </details>
    </div>
  );
}
