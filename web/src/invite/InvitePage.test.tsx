import { fireEvent, render, screen } from '@testing-library/react';
import { MemoryRouter, Route, Routes } from 'react-router-dom';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { api } from '../api';
import { ApiProblem } from '../api/problem';
import InvitePage from './InvitePage';

function open(token = 'tok-1') {
  render(
    <MemoryRouter initialEntries={[`/invite#${token}`]} future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
      <Routes>
        <Route path="/invite" element={<InvitePage />} />
      </Routes>
    </MemoryRouter>,
  );
}

describe('the invitation page', () => {
  beforeEach(() => vi.restoreAllMocks());

  it('shows a clear message and a way to sign in for an unusable link', async () => {
    vi.spyOn(api, 'invitation').mockRejectedValue(new ApiProblem({ title: 'Not found', status: 404, code: 'invite_invalid' }));
    open();
    expect(await screen.findByRole('heading', { name: 'Link not valid' })).toBeInTheDocument();
    expect(screen.getByRole('alert')).toHaveTextContent('invalid, has expired or was already used');
    expect(screen.getByRole('link', { name: 'Go to sign in' })).toHaveAttribute('href', '/login');
  });

  it('shows the workspace and email, and checks the two passwords match before sending', async () => {
    vi.spyOn(api, 'invitation').mockResolvedValue({ email: 'new@x.test', tenantName: 'Acme', tenantSlug: 'acme', purpose: 'invite', expiresAt: '2030-01-01T00:00:00Z' });
    const accept = vi.spyOn(api, 'acceptInvitation').mockResolvedValue();
    open('tok-9');
    expect(await screen.findByRole('heading', { name: 'Join Acme' })).toBeInTheDocument();
    expect(screen.getAllByText('new@x.test').length).toBeGreaterThan(0);
    fireEvent.change(screen.getByLabelText('Password'), { target: { value: 'long-enough-1' } });
    fireEvent.change(screen.getByLabelText('Confirm password'), { target: { value: 'long-enough-2' } });
    fireEvent.click(screen.getByRole('button', { name: 'Set password and join' }));
    expect(screen.getByRole('alert')).toHaveTextContent('The two passwords differ.');
    expect(accept).not.toHaveBeenCalled();
  });
});
