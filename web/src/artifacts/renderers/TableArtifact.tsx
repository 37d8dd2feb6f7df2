import { useMemo, useState } from 'react';
import { compareCells, parseCsv } from './csv';

const MAX_ROWS = 5000;

/** A CSV as a table; a click on a column header sorts by it (again: descending). */
export function TableArtifact({ text }: { text: string }) {
  const [header, body] = useMemo(() => {
    const rows = parseCsv(text.replace(/\n+$/, ''));
    return [rows[0] ?? [], rows.slice(1)];
  }, [text]);
  const [sort, setSort] = useState<{ col: number; dir: 1 | -1 } | null>(null);

  const rows = useMemo(() => {
    if (!sort) return body;
    return [...body].sort((a, b) => sort.dir * compareCells(a[sort.col] ?? '', b[sort.col] ?? ''));
  }, [body, sort]);

  const click = (col: number) =>
    setSort((s) => (s && s.col === col ? { col, dir: s.dir === 1 ? -1 : 1 } : { col, dir: 1 }));

  return (
    <div className="table-scroll artifact-table">
      <table>
        <thead>
          <tr>
            {header.map((h, i) => (
              <th key={i} aria-sort={sort?.col === i ? (sort.dir === 1 ? 'ascending' : 'descending') : 'none'}>
                <button type="button" className="th-button" onClick={() => click(i)}>
                  {h}
                  <span aria-hidden="true" className="sort-mark">
                    {sort?.col === i ? (sort.dir === 1 ? ' ▲' : ' ▼') : ''}
                  </span>
                </button>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.slice(0, MAX_ROWS).map((r, i) => (
            <tr key={i}>
              {header.map((_, j) => (
                <td key={j}>{r[j] ?? ''}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length > MAX_ROWS && <p className="muted small">Showing the first {MAX_ROWS} of {rows.length} rows; download for all.</p>}
    </div>
  );
}
