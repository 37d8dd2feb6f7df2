import { isClosed, schemaRows } from './schema';

/** A tool's parameters as a table (name, type, required, description, constraints). */
export function SchemaTable({ schema, caption }: { schema: unknown; caption: string }) {
  const rows = schemaRows(schema);
  if (rows.length === 0) return <p className="muted small">Takes no parameters.</p>;
  return (
    <div className="table-scroll">
      <table className="data-table schema-table">
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Parameter</th>
            <th scope="col">Type</th>
            <th scope="col">Required</th>
            <th scope="col">Description</th>
            <th scope="col">Constraints</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.name}>
              <th scope="row" className="mono" style={{ paddingLeft: `${10 + r.depth * 16}px` }}>
                {r.name}
              </th>
              <td className="mono">{r.type}</td>
              <td>{r.required ? <span className="badge badge-warn">required</span> : <span className="muted">optional</span>}</td>
              <td>{r.description || <span className="muted">—</span>}</td>
              <td>
                {r.constraints.length ? (
                  <ul className="plain-list">
                    {r.constraints.map((c) => (
                      <li key={c}>{c}</li>
                    ))}
                  </ul>
                ) : (
                  <span className="muted">—</span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {isClosed(schema) && <p className="muted small">Parameters not listed here are refused.</p>}
    </div>
  );
}
