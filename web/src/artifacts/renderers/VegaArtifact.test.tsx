import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
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
