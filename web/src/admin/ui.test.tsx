import { act, render, screen } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { ApiProblem } from '../api/problem';
import { ToastProvider } from '../ui/toast';
import { DialogFooter, Empty, ResourceState, Table, useAction, type ActionText, type Loaded } from './ui';

function resource<T>(over: Partial<Loaded<T>>): Loaded<T> {
  return { data: null, loading: false, error: null, reload: vi.fn(), setData: vi.fn(), ...over };
}

function show<T>(r: Loaded<T>) {
  return render(
    <ResourceState resource={r} what="users" empty={<Empty title="No users yet" />}>
      {(d) => <p>{`data: ${JSON.stringify(d)}`}</p>}
    </ResourceState>,
  );
}

describe('ResourceState', () => {
  it('says it is loading until there is data', () => {
    show(resource({ loading: true }));
    expect(screen.getByRole('status')).toHaveTextContent('Loading users…');
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('shows a failed load with Try again, and both while retrying', () => {
    const r = resource<string[]>({ error: new ApiProblem({ title: 'Boom', status: 500, code: 'internal' }) });
    const { rerender } = show(r);
    expect(screen.getByRole('alert')).toHaveTextContent('Could not load this page');
    screen.getByRole('button', { name: 'Try again' }).click();
    expect(r.reload).toHaveBeenCalledOnce();
    rerender(
      <ResourceState resource={{ ...r, loading: true }} what="users">
        {() => null}
      </ResourceState>,
    );
    expect(screen.getByRole('status')).toBeInTheDocument();
    expect(screen.getByRole('alert')).toBeInTheDocument();
  });

  it('shows the empty state for an empty list, else the data (also while reloading)', () => {
    const { unmount } = show(resource<string[]>({ data: [] }));
    expect(screen.getByText('No users yet')).toBeInTheDocument();
    unmount();
    show(resource({ data: ['a'], loading: true }));
    expect(screen.getByText('data: ["a"]')).toBeInTheDocument();
    expect(screen.queryByRole('status')).toBeNull();
  });
});

describe('Table', () => {
  it('renders headings: numeric, hidden and left-out columns', () => {
    render(
      <Table caption="Things" className="compact" columns={['Name', { label: 'Count', num: true }, false, { label: 'Actions', hidden: true }]}>
        <tr>
          <td>x</td>
        </tr>
      </Table>,
    );
    const table = screen.getByRole('table', { name: 'Things' });
    expect(table).toHaveClass('data-table', 'compact');
    const heads = screen.getAllByRole('columnheader');
    expect(heads.map((h) => h.textContent)).toEqual(['Name', 'Count', 'Actions']);
    expect(heads[1]).toHaveClass('num');
    expect(heads[0]).not.toHaveAttribute('class');
    expect(heads[2]?.querySelector('.visually-hidden')).toHaveTextContent('Actions');
  });
});

describe('DialogFooter', () => {
  const footer = (over: Partial<Parameters<typeof DialogFooter>[0]> = {}) => (
    <form>
      <DialogFooter busy={false} submitLabel="Create key" busyLabel="Creating…" onCancel={() => undefined} {...over} />
    </form>
  );

  it('shows Cancel and submit, with no alert when there is no error', () => {
    const onCancel = vi.fn();
    render(footer({ onCancel }));
    expect(screen.queryByRole('alert')).toBeNull();
    const submit = screen.getByRole('button', { name: 'Create key' });
    expect(submit).toHaveAttribute('type', 'submit');
    expect(submit).toBeEnabled();
    screen.getByRole('button', { name: 'Cancel' }).click();
    expect(onCancel).toHaveBeenCalledOnce();
  });

  it('shows the error as an alert and the busy label on a disabled submit', () => {
    const { rerender } = render(footer({ error: 'A tenant with this slug already exists.', busy: true }));
    expect(screen.getByRole('alert')).toHaveTextContent('A tenant with this slug already exists.');
    expect(screen.getByRole('button', { name: 'Creating…' })).toBeDisabled();
    expect(screen.queryByRole('button', { name: 'Create key' })).toBeNull();
    rerender(footer({ disabled: true }));
    expect(screen.getByRole('button', { name: 'Create key' })).toBeDisabled();
  });

  it('spans both columns of a wide form', () => {
    render(footer({ error: 'Boom', wide: true }));
    expect(screen.getByRole('alert')).toHaveClass('form-error', 'span-2');
    expect(screen.getByRole('button', { name: 'Cancel' }).parentElement).toHaveClass('modal-actions', 'span-2');
  });
});

describe('useAction', () => {
  let run: (fn: () => Promise<unknown>, text: ActionText) => Promise<boolean>;
  function Probe() {
    run = useAction();
    return null;
  }

  it('reports success as a notice and failure as an error toast', async () => {
    render(
      <ToastProvider>
        <Probe />
      </ToastProvider>,
    );
    let ok: boolean | undefined;
    await act(async () => {
      ok = await run(async () => undefined, { done: 'Model deleted', failed: 'Could not delete the model' });
    });
    expect(ok).toBe(true);
    expect(screen.getByRole('status')).toHaveTextContent('Model deleted');
    await act(async () => {
      ok = await run(() => Promise.reject(new Error('nope')), { failed: 'Could not delete the model' });
    });
    expect(ok).toBe(false);
    expect(screen.getByRole('alert')).toHaveTextContent('Could not delete the model');
    expect(screen.getByRole('alert')).toHaveTextContent('nope');
  });
});
