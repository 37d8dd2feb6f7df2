import { api } from '../api';
import { AdminApi } from '../api/admin';

/** The console's endpoints on the app's one API client. */
export const admin = new AdminApi(api);
