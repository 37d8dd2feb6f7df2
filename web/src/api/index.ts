import { ApiClient, localTokenStore } from './client';

/** The app's one API client. */
export const api = new ApiClient({ store: localTokenStore() });

export { ApiClient } from './client';
export { ApiProblem, isApiProblem } from './problem';
export type * from './types';
