import { act, fireEvent, render, screen } from '@testing-library/react';
import { MemoryRouter } from 'react-router-dom';
import { describe, expect, it, vi } from 'vitest';
import { ApiProblem } from '../api/problem';
import { LoginPage } from './LoginPage';

const login = vi.fn();
vi.mock('./AuthContext', () => ({ useAuth: () => ({ state: { status: 'signedOut' }, login }) }));
vi.mock('../setup/SetupNotice', () => ({ SetupNotice: () => null }));

describe('the login page', () => {
  it('clears the error once the user edits a field', async () => {
    login.mockRejectedValue(new ApiProblem({ title: 'Unauthorized', status: 401 }));
    render(
      <MemoryRouter future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
        <LoginPage />
      </MemoryRouter>,
    );
    fireEvent.change(screen.getByLabelText('Email'), { target: { value: 'a@x.test' } });
    fireEvent.change(screen.getByLabelText('Password'), { target: { value: 'wrong' } });
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    });
    expect(screen.getByRole('alert')).toHaveTextContent('not right');

    fireEvent.change(screen.getByLabelText('Password'), { target: { value: 'wrong2' } });
    expect(screen.queryByRole('alert')).toBeNull();
  });
});
