import { fireEvent, render, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { parseCsv } from './csv';
import { TableArtifact } from './TableArtifact';

const csv = 'city,population\nZurich,421878\n"Bern, BE",134794\nGeneva,203856\n';

const column = (i: number) =>
  screen
    .getAllByRole('row')
    .slice(1)
    .map((r) => within(r).getAllByRole('cell')[i]!.textContent);

describe('CSV table', () => {
  it('parses quoted fields', () => {
    expect(parseCsv('a,b\n"x, y","say ""hi"""\r\n1,2')).toEqual([
      ['a', 'b'],
      ['x, y', 'say "hi"'],
      ['1', '2'],
    ]);
  });

  it('sorts by a column: numbers numerically, again for descending', () => {
    render(<TableArtifact text={csv} />);
    expect(column(0)).toEqual(['Zurich', 'Bern, BE', 'Geneva']);
    fireEvent.click(screen.getByRole('button', { name: /population/ }));
    expect(column(1)).toEqual(['134794', '203856', '421878']);
    expect(screen.getByRole('columnheader', { name: /population/ })).toHaveAttribute('aria-sort', 'ascending');
    fireEvent.click(screen.getByRole('button', { name: /population/ }));
    expect(column(1)).toEqual(['421878', '203856', '134794']);
    fireEvent.click(screen.getByRole('button', { name: /city/ }));
    expect(column(0)).toEqual(['Bern, BE', 'Geneva', 'Zurich']);
  });
});
