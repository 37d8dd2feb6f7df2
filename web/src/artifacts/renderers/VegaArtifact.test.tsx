import { render, screen } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import VegaArtifact from './VegaArtifact';

describe('a chart that cannot be drawn', () => {
  it('shows a heading, the error and the spec', async () => {
    render(<VegaArtifact text={'{"mark": "bar",'} dark={false} />);
    const alert = await screen.findByRole('alert');
    expect(screen.getByRole('heading', { name: 'This chart could not be drawn' })).toBeInTheDocument();
    expect(alert.querySelector('pre')!.textContent).toMatch(/JSON/);
    expect(screen.getByText('{"mark": "bar",', { selector: 'details pre' })).toBeInTheDocument();
  });
});

describe('a chart that names an address', () => {
  it('is refused without a request', async () => {
    const fetchSpy = vi.spyOn(globalThis, 'fetch');
    const spec = { mark: 'bar', data: { url: 'http://169.254.169.254/latest/meta-data' }, encoding: {} };
    render(<VegaArtifact text={JSON.stringify(spec)} dark={false} />);
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toMatch(/do not load data from addresses/);
    expect(fetchSpy).not.toHaveBeenCalled();
    fetchSpy.mockRestore();
  });
});
