// What a failed answer says: the server's own message when the run reported one, else a
// sentence for its error code (a reloaded answer keeps only the code).

const BY_CODE: Record<string, string> = {
  provider_error: 'The model provider returned an error.',
  provider_auth: 'The model provider rejected its API key. Ask an admin to fix the key for this model.',
  provider_rate_limited: 'The model provider is busy right now. Try again in a moment.',
  provider_timeout: 'The model provider did not answer in time.',
  provider_unreachable: 'The model provider could not be reached.',
  provider_disconnected: 'The model provider stopped in the middle of the answer.',
  provider_protocol: 'The model provider sent a reply that could not be read.',
  instance_lost: 'The server writing this answer stopped, so the answer is incomplete.',
  tool_step_limit: 'The model kept calling tools without finishing, so the answer was stopped.',
  timeout: 'The answer took too long and was stopped.',
  cancelled: 'The answer was stopped.',
  internal: 'Something went wrong on the server.',
};

const GENERIC = 'The answer could not be finished.';

/** One readable sentence for a failed answer (its code is for a tooltip, not the text). */
export function failureText(error: { code: string; message?: string }): string {
  const message = error.message?.trim();
  if (!message) return BY_CODE[error.code] ?? GENERIC;
  // Server messages are written lower-case without a full stop ("the model kept calling …").
  const sentence = message[0]!.toUpperCase() + message.slice(1);
  return /[.!?]$/.test(sentence) ? sentence : `${sentence}.`;
}
