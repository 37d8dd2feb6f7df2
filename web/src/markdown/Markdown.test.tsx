import { act, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { CodeBlock } from './CodeBlock';
import { Markdown } from './Markdown';

describe('Markdown', () => {
  it('never renders raw HTML from model text', () => {
    const evil = 'Hi <script>window.__pwned = 1</script> and <img src=x onerror="window.__pwned=2"> <b>bold?</b>';
    const { container } = render(<Markdown text={evil} />);
    expect(container.querySelector('script')).toBeNull();
    expect(container.querySelector('img')).toBeNull();
    expect(container.querySelector('b')).toBeNull();
    expect(container.querySelector('[onerror]')).toBeNull();
    // The HTML shows as the text it is.
    expect(container.textContent).toContain('<script>');
    expect((window as unknown as { __pwned?: number }).__pwned).toBeUndefined();
  });

  it('makes links safe and drops javascript: URLs', () => {
    const { container } = render(<Markdown text={'[site](https://example.com) [bad](javascript:alert(1))'} />);
    const links = Array.from(container.querySelectorAll('a'));
    const site = links.find((a) => a.textContent === 'site')!;
    expect(site.getAttribute('rel')).toContain('noopener');
    expect(site.getAttribute('target')).toBe('_blank');
    const bad = links.find((a) => a.textContent === 'bad');
    expect(bad?.getAttribute('href') ?? '').not.toMatch(/javascript/i);
  });

  it('renders GFM tables and fenced code as a code block', () => {
    const { container } = render(<Markdown text={'| a | b |\n|---|---|\n| 1 | 2 |\n\n```python\nprint(1)\n```'} />);
    expect(container.querySelectorAll('table td')).toHaveLength(2);
    expect(screen.getByText('python')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Copy code' })).toBeInTheDocument();
  });

  it('gives table cells of prose a minimum width, not cells of numbers', () => {
    const { container } = render(<Markdown text={'| Q1 | Notes |\n|---:|---|\n| 120 | Strong finish driven by the new distribution centre |'} />);
    const cells = Array.from(container.querySelectorAll('td'));
    expect(cells.map((c) => c.className)).toEqual(['', 'cell-prose']);
    expect(cells[0]!.style.textAlign).toBe('right');
  });
});

describe('CodeBlock', () => {
  it('copies the code with its button', async () => {
    const writeText = vi.fn().mockResolvedValue(undefined);
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true });
    render(<CodeBlock code={'x = 1\nprint(x)'} language="python" />);
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Copy code' }));
    });
    expect(writeText).toHaveBeenCalledWith('x = 1\nprint(x)');
    expect(screen.getByRole('button', { name: 'Copy code' })).toHaveTextContent('Copied');
  });

  it('highlights once highlight.js has loaded (escaping the code)', async () => {
    const { container } = render(<CodeBlock code={'def f():\n    return "<b>"'} language="python" />);
    await waitFor(() => expect(container.querySelector('.hljs-keyword')).not.toBeNull());
    expect(container.querySelector('code b')).toBeNull();
  });
});
