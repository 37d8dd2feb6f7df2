import { fireEvent, render, screen } from '@testing-library/react';
import { MemoryRouter, Route, Routes } from 'react-router-dom';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { api } from '../api';
import { ApiProblem } from '../api/problem';
import { SetupNotice } from './SetupNotice';
import SetupPage, { tokenFromHash } from './SetupPage';

function open(hash = '#setup_tok1') {
  render(
    <MemoryRouter initialEntries={[`/setup${hash}`]} future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
      <Routes>
        <Route path="/setup" element={<SetupPage />} />
      </Routes>
    </MemoryRouter>,
  );
}

function fill(fields: Record<string, string>) {
  for (const [label, value] of Object.entries(fields)) fireEvent.change(screen.getByLabelText(label), { target: { value } });
}

describe('the set-up page', () => {
  beforeEach(() => vi.restoreAllMocks());

  it('reads the token from the fragment', () => {
    expect(tokenFromHash('#setup_abc')).toBe('setup_abc');
    expect(tokenFromHash('#token=setup_abc')).toBe('setup_abc');
    expect(tokenFromHash('')).toBe('');
  });

  it('sends the token with the new admin after checking the passwords match', async () => {
    vi.spyOn(api, 'setupStatus').mockResolvedValue({ needed: true });
    const finish = vi.spyOn(api, 'finishSetup').mockResolvedValue();
    open('#setup_tok9');
    expect(await screen.findByRole('heading', { name: 'Set up PENNY' })).toBeInTheDocument();
    fill({ Email: ' ada@example.com ', Name: 'Ada', Password: 'long-enough-1', 'Confirm password': 'long-enough-2' });
    fireEvent.click(screen.getByRole('button', { name: 'Create administrator' }));
    expect(screen.getByRole('alert')).toHaveTextContent('The two passwords differ.');
    expect(finish).not.toHaveBeenCalled();

    fill({ 'Confirm password': 'long-enough-1' });
    fireEvent.click(screen.getByRole('button', { name: 'Create administrator' }));
    expect(await screen.findByRole('button', { name: 'Setting up…' })).toBeDisabled();
    expect(finish).toHaveBeenCalledWith({ token: 'setup_tok9', email: 'ada@example.com', password: 'long-enough-1', displayName: 'Ada' });
  });

  it('says when the link is stale, and shows the server’s field errors', async () => {
    vi.spyOn(api, 'setupStatus').mockResolvedValue({ needed: true });
    const finish = vi
      .spyOn(api, 'finishSetup')
      .mockRejectedValueOnce(new ApiProblem({ title: 'Not allowed', status: 403, code: 'setup_token_invalid' }))
      .mockRejectedValueOnce(
        new ApiProblem({ title: 'Invalid field', status: 422, code: 'validation_failed', errors: [{ field: 'email', message: 'is not a valid e-mail address' }] }),
      );
    open();
    await screen.findByRole('heading', { name: 'Set up PENNY' });
    fill({ Email: 'a@b.co', Password: 'long-enough-1', 'Confirm password': 'long-enough-1' });
    fireEvent.click(screen.getByRole('button', { name: 'Create administrator' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('not valid');
    fireEvent.click(screen.getByRole('button', { name: 'Create administrator' }));
    expect(await screen.findByText('is not a valid e-mail address')).toBeInTheDocument();
    expect(finish).toHaveBeenCalledTimes(2);
    expect(finish).toHaveBeenNthCalledWith(1, { token: 'setup_tok1', email: 'a@b.co', password: 'long-enough-1', displayName: undefined });
  });

  it('sends to sign in once an admin exists, also when another tab finished first', async () => {
    vi.spyOn(api, 'setupStatus').mockResolvedValueOnce({ needed: false });
    open();
    expect(await screen.findByRole('heading', { name: 'Already set up' })).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'Go to sign in' })).toHaveAttribute('href', '/login');
    expect(screen.queryByLabelText('Password')).toBeNull();
  });

  it('switches to “already set up” when the server says so on submit', async () => {
    vi.spyOn(api, 'setupStatus').mockResolvedValue({ needed: true });
    vi.spyOn(api, 'finishSetup').mockRejectedValue(new ApiProblem({ title: 'Not found', status: 404, code: 'setup_done' }));
    open();
    await screen.findByRole('heading', { name: 'Set up PENNY' });
    fill({ Email: 'a@b.co', Password: 'long-enough-1', 'Confirm password': 'long-enough-1' });
    fireEvent.click(screen.getByRole('button', { name: 'Create administrator' }));
    expect(await screen.findByRole('heading', { name: 'Already set up' })).toBeInTheDocument();
  });

  it('asks for the whole link when the fragment is missing', async () => {
    vi.spyOn(api, 'setupStatus').mockResolvedValue({ needed: true });
    open('');
    expect(await screen.findByRole('heading', { name: 'Set-up link needed' })).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Create administrator' })).toBeNull();
  });
});

describe('the login page notice', () => {
  beforeEach(() => vi.restoreAllMocks());

  it('appears only while the platform has no admin', async () => {
    vi.spyOn(api, 'setupStatus').mockResolvedValueOnce({ needed: true }).mockResolvedValueOnce({ needed: false });
    const { unmount } = render(<SetupNotice />);
    expect(await screen.findByRole('status')).toHaveTextContent('This PENNY has no administrator yet');
    expect(screen.getByRole('status')).toHaveTextContent('penny serve');
    unmount();
    render(<SetupNotice />);
    await vi.waitFor(() => expect(api.setupStatus).toHaveBeenCalledTimes(2));
    expect(screen.queryByRole('status')).toBeNull();
  });
});
