import type { ToolCallState } from './stream';
import { toolLabel } from './tools';

function pretty(s: string | undefined): string {
  if (!s) return '';
  try {
    return JSON.stringify(JSON.parse(s), null, 2);
  } catch {
    return s;
  }
}

/** A tool call, compact: name and status; arguments and result behind a disclosure. */
export function ToolCallView({ call }: { call: ToolCallState }) {
  const label = call.status === 'running' ? 'running…' : call.status === 'ok' ? 'done' : 'failed';
  return (
    <details className={`toolcall toolcall-${call.status}`}>
      <summary>
        <span className="toolcall-icon" aria-hidden="true">
          {call.status === 'running' ? '⋯' : call.status === 'ok' ? '✓' : '!'}
        </span>
        <span className="toolcall-name" title={call.name}>
          {toolLabel(call.name)}
        </span>
        <span className="toolcall-status">{label}</span>
      </summary>
      {call.arguments && (
        <>
          <div className="toolcall-label">Arguments</div>
          <pre className="toolcall-pre">{pretty(call.arguments)}</pre>
        </>
      )}
      {call.result !== undefined && (
        <>
          <div className="toolcall-label">Result</div>
          <pre className="toolcall-pre">{pretty(call.result)}</pre>
        </>
      )}
    </details>
  );
}
