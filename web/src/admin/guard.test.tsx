import { render, screen } from '@testing-library/react';
import { MemoryRouter, Route, Routes } from 'react-router-dom';
import { describe, expect, it, vi } from 'vitest';
import type { Me, Role } from '../api/types';
import { ToastProvider } from '../ui/toast';
import { isStaff, RequireStaff } from './guard';

let me: Me;
vi.mock('../auth/AuthContext', () => ({ useMe: () => me }));

function as(role: Role): Me {
  return { id: 'u1', email: `${role}@x.test`, display_name: null, role, tenant: { id: 't1', slug: 'default', name: 'Default' } };
}

function openAdmin(role: Role) {
  me = as(role);
  render(
    <ToastProvider>
      <MemoryRouter initialEntries={['/admin/users']} future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
        <Routes>
          <Route path="/" element={<p>the chat</p>} />
          <Route
            path="/admin/*"
            element={
              <RequireStaff>
                <p>the console</p>
              </RequireStaff>
            }
          />
        </Routes>
      </MemoryRouter>
    </ToastProvider>,
  );
}

describe('the admin role guard', () => {
  it.each(['admin', 'manager'] as const)('lets a %s in', (role) => {
    openAdmin(role);
    expect(screen.getByText('the console')).toBeInTheDocument();
    expect(screen.queryByText('the chat')).toBeNull();
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it.each(['creator', 'viewer'] as const)('sends a %s back to the chat with a notice', async (role) => {
    openAdmin(role);
    expect(await screen.findByText('the chat')).toBeInTheDocument();
    expect(screen.queryByText('the console')).toBeNull();
    const toast = await screen.findByRole('alert');
    expect(toast).toHaveTextContent('Admin console unavailable');
    expect(toast).toHaveTextContent('Only admins and managers');
    expect(screen.getAllByRole('alert')).toHaveLength(1);
  });

  it('counts only admins and managers as staff', () => {
    expect(['viewer', 'creator', 'manager', 'admin', 'owner'].map(isStaff)).toEqual([false, false, true, true, false]);
  });
});
