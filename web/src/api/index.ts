import { ApiClient, localSessionStore } from './client';

/** The app's one API client. */
export const api = new ApiClient({ store: localSessionStore() });

export { ApiClient } from './client';
export { ApiProblem, isApiProblem } from './problem';
export type * from './types';
