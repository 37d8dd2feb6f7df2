import { fireEvent, render, screen } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { MAX_URL, UrlForm, urlProblem } from './UrlForm';

describe('a document URL', () => {
  it('must be http(s), without credentials, at most 2048 characters', () => {
    expect(urlProblem('https://example.com/a.pdf')).toBeNull();
    expect(urlProblem('  http://10.0.0.1/x  ')).toBeNull();
    expect(urlProblem('')).toMatch(/Enter a URL/);
    expect(urlProblem('example.com')).toMatch(/not a URL/);
    expect(urlProblem('ftp://example.com/a')).toMatch(/http/);
    expect(urlProblem('https://u:p@example.com/')).toMatch(/password/);
    expect(urlProblem(`https://example.com/${'a'.repeat(MAX_URL)}`)).toMatch(/2048/);
  });
});

describe('the URL form', () => {
  const input = () => screen.getByLabelText('Add from URL');

  it('hands a good URL on and empties itself', () => {
    const onUrl = vi.fn();
    render(<UrlForm onUrl={onUrl} />);
    fireEvent.change(input(), { target: { value: ' https://example.com/guide.html ' } });
    fireEvent.click(screen.getByRole('button', { name: 'Add' }));
    expect(onUrl).toHaveBeenCalledWith('https://example.com/guide.html');
    expect(input()).toHaveValue('');
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
  });

  it('says what is wrong with a bad one and sends nothing', () => {
    const onUrl = vi.fn();
    render(<UrlForm onUrl={onUrl} />);
    fireEvent.change(input(), { target: { value: 'file:///etc/passwd' } });
    fireEvent.click(screen.getByRole('button', { name: 'Add' }));
    expect(onUrl).not.toHaveBeenCalled();
    expect(screen.getByRole('alert')).toHaveTextContent('Only http:// and https:// URLs can be added.');
    expect(input()).toHaveAttribute('aria-invalid', 'true');
    fireEvent.change(input(), { target: { value: 'https://example.com' } });
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
  });
});
