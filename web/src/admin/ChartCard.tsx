import type { ReactNode } from 'react';
import type { Spec } from './analytics';
import { Empty, Table } from './ui';
import { VegaChart } from './VegaChart';

export interface DataTable {
  columns: string[];
  rows: (string | number)[][];
}

interface Props {
  title: string;
  subtitle?: string;
  spec: Spec | null;
  /** The same numbers as a table, for keyboard and screen-reader users (and a quick look). */
  table?: DataTable;
  empty: string;
  children?: ReactNode;
  wide?: boolean;
}

/** A dashboard card: a chart (or an empty state) and its numbers behind "Show data". */
export function ChartCard({ title, subtitle, spec, table, empty, children, wide }: Props) {
  return (
    <section className={`card chart-card ${wide ? 'card-wide' : ''}`} aria-label={title}>
      <div className="card-head">
        <h2>{title}</h2>
        {subtitle && <span className="muted small">{subtitle}</span>}
      </div>
      {spec ? <VegaChart spec={spec} label={`${title} chart`} /> : <Empty title={empty} />}
      {children}
      {spec && table && table.rows.length > 0 && (
        <details className="chart-data">
          <summary>Show data</summary>
          <Table className="compact" columns={table.columns}>
            {table.rows.map((r, i) => (
              <tr key={i}>
                {r.map((v, j) => (
                  <td key={j} className={typeof v === 'number' ? 'num' : undefined}>
                    {v}
                  </td>
                ))}
              </tr>
            ))}
          </Table>
        </details>
      )}
    </section>
  );
}
