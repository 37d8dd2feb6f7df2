import { describe, expect, it } from 'vitest';
import { failureText } from './failure';

describe('failureText', () => {
  it("shows the server's message as one sentence", () => {
    expect(failureText({ code: 'tool_step_limit', message: 'the model kept calling tools after 8 turns' })).toBe(
      'The model kept calling tools after 8 turns.',
    );
    expect(failureText({ code: 'x', message: 'Already a sentence.' })).toBe('Already a sentence.');
  });

  it('words a known code when there is no message (an answer loaded after a reload)', () => {
    expect(failureText({ code: 'provider_error', message: '' })).toBe('The model provider returned an error.');
    expect(failureText({ code: 'provider_auth' })).toMatch(/ask an admin/i);
    expect(failureText({ code: 'instance_lost', message: '  ' })).toMatch(/incomplete/);
  });

  it('has a plain sentence for an unknown code, never the code itself', () => {
    expect(failureText({ code: 'weird_new_code', message: '' })).toBe('The answer could not be finished.');
  });
});
