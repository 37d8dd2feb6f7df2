import { render, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { SchemaTable } from './SchemaTable';
import { constraintsOf, schemaRows, typeOf } from './schema';

// The shapes of two built-in tools (crates/penny-tools/src/registry.rs).
const pythonExecute = {
  type: 'object',
  additionalProperties: false,
  required: ['script'],
  properties: {
    script: { type: 'string', minLength: 1, maxLength: 200000, description: 'The Python source to run.' },
    files: { type: 'array', maxItems: 20, items: { type: 'string', format: 'uuid' }, description: 'Ids of uploaded files.' },
    timeoutSec: { type: 'integer', minimum: 1, maximum: 120, description: 'Wall-clock limit in seconds (default 30).' },
  },
};

const generateReport = {
  type: 'object',
  required: ['title', 'sections'],
  properties: {
    title: { type: 'string', minLength: 1, maxLength: 300 },
    sections: {
      type: 'array',
      minItems: 1,
      maxItems: 50,
      items: {
        type: 'object',
        required: ['heading'],
        properties: {
          heading: { type: 'string', minLength: 1, maxLength: 300 },
          markdown: { type: 'string', maxLength: 100000 },
        },
      },
    },
  },
};

describe('schemaRows', () => {
  it('lists each parameter with type, required flag, description and constraints', () => {
    expect(schemaRows(pythonExecute)).toEqual([
      { name: 'script', depth: 0, type: 'string', required: true, description: 'The Python source to run.', constraints: ['1–200000 characters'] },
      { name: 'files', depth: 0, type: 'array of string', required: false, description: 'Ids of uploaded files.', constraints: ['at most 20 items', 'each: format: uuid'] },
      { name: 'timeoutSec', depth: 0, type: 'integer', required: false, description: 'Wall-clock limit in seconds (default 30).', constraints: ['≥ 1 and ≤ 120'] },
    ]);
  });

  it('puts the fields of array items after their parent, as parent[].field', () => {
    const rows = schemaRows(generateReport);
    expect(rows.map((r) => [r.name, r.depth, r.type, r.required])).toEqual([
      ['title', 0, 'string', true],
      ['sections', 0, 'array of object', true],
      ['sections[].heading', 1, 'string', true],
      ['sections[].markdown', 1, 'string', false],
    ]);
    expect(rows[1]?.constraints).toEqual(['1–50 items']);
    expect(rows[3]?.constraints).toEqual(['at most 100000 characters']);
  });

  it('describes enums, defaults, nullable types and exclusive bounds', () => {
    expect(constraintsOf({ type: 'string', enum: ['rfc3339', 'unix'], default: 'rfc3339' })).toEqual(['one of: rfc3339, unix', 'default: rfc3339']);
    expect(typeOf({ type: ['integer', 'null'] })).toBe('integer | null');
    expect(typeOf({ anyOf: [{ type: 'string' }, { type: 'number' }] })).toBe('string | number');
    expect(constraintsOf({ type: 'number', exclusiveMinimum: 0 })).toEqual(['> 0']);
  });

  it('gives no rows for a schema without properties, or for junk', () => {
    expect(schemaRows({ type: 'object', properties: {} })).toEqual([]);
    expect(schemaRows(null)).toEqual([]);
    expect(schemaRows('nope')).toEqual([]);
  });
});

describe('SchemaTable', () => {
  it('renders a readable table, one row per parameter', () => {
    render(<SchemaTable schema={pythonExecute} caption="Parameters of python_execute" />);
    const table = screen.getByRole('table', { name: 'Parameters of python_execute' });
    const rows = within(table).getAllByRole('row');
    expect(rows).toHaveLength(4); // header + 3 parameters
    const script = within(table).getByRole('rowheader', { name: 'script' }).closest('tr')!;
    expect(within(script).getByText('string')).toBeInTheDocument();
    expect(within(script).getByText('required')).toBeInTheDocument();
    expect(within(script).getByText('The Python source to run.')).toBeInTheDocument();
    expect(within(script).getByText('1–200000 characters')).toBeInTheDocument();
    const timeout = within(table).getByRole('rowheader', { name: 'timeoutSec' }).closest('tr')!;
    expect(within(timeout).getByText('optional')).toBeInTheDocument();
    expect(screen.getByText('Parameters not listed here are refused.')).toBeInTheDocument();
  });

  it('says so when a tool takes no parameters', () => {
    render(<SchemaTable schema={{ type: 'object', properties: {} }} caption="x" />);
    expect(screen.queryByRole('table')).toBeNull();
    expect(screen.getByText('Takes no parameters.')).toBeInTheDocument();
  });
});
