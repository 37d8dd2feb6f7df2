import { fireEvent, render, screen } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import MermaidArtifact from './MermaidArtifact';

const parseError = "Parse error on line 2:\n...; A-->B; B-->C{oops\n----------------------^\nExpecting 'SQE', got '1'";
vi.mock('mermaid', () => ({
  default: { initialize: vi.fn(), render: vi.fn().mockRejectedValue(new Error(parseError)) },
}));

describe('a diagram that cannot be drawn', () => {
  it("shows a heading, the parser's message as written and the source on request", async () => {
    const source = 'graph TD; A-->B; B-->C{oops';
    render(<MermaidArtifact text={source} dark={false} />);
    const alert = await screen.findByRole('alert');
    expect(screen.getByRole('heading', { name: 'This diagram could not be drawn' })).toBeInTheDocument();
    // The caret line stays under the line it points at.
    const pre = alert.querySelector('pre')!;
    expect(pre.textContent).toBe(parseError);
    fireEvent.click(screen.getByText('Show the source'));
    expect(screen.getByText(source, { selector: 'details pre' })).toBeVisible();
  });
});
