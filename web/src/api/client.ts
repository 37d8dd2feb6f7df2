import { ApiProblem } from './problem';
import type {
  Artifact,
  BranchMessage,
  Collection,
  CollectionMember,
  Conversation,
  ConversationExport,
  Invitation,
  KnowledgeDocument,
  Me,
  MessagePage,
  ModelInfo,
  Passage,
  SearchResult,
  SetupRequest,
  SetupStatus,
  TenantTheme,
  TokenPair,
  ToolInfo,
  UploadedFile,
} from './types';

/**
 * Whether this browser holds a login between page loads. The refresh token itself is an
 * `HttpOnly` cookie script never sees (`X-Penny-Session: cookie`); this only remembers that
 * one was set, so a signed-out visitor is not sent to the server for a refresh on every load.
 * The access token stays in memory.
 */
export interface SessionStore {
  get(): boolean;
  set(signedIn: boolean): void;
}

export const SESSION_KEY = 'penny.session';
/** Where earlier versions kept the refresh token itself; removed on first load. */
const LEGACY_REFRESH_KEY = 'penny.refresh_token';

export function localSessionStore(storage: Storage = window.localStorage): SessionStore {
  storage.removeItem(LEGACY_REFRESH_KEY);
  return {
    get: () => storage.getItem(SESSION_KEY) === '1',
    set: (on) => (on ? storage.setItem(SESSION_KEY, '1') : storage.removeItem(SESSION_KEY)),
  };
}

/** The header that asks the server to keep the refresh token in its cookie. */
const SESSION_MODE = { 'x-penny-session': 'cookie' } as const;

export interface ClientOptions {
  baseUrl?: string;
  fetch?: typeof fetch;
  store: SessionStore;
}

type Json = Record<string, unknown> | unknown[];

export interface RequestOptions {
  method?: string;
  body?: Json | FormData;
  query?: Record<string, string | number | boolean | undefined | null>;
  /** Skip the bearer header and the refresh-on-401 (auth endpoints). */
  anonymous?: boolean;
  /** Send `X-Penny-Session: cookie` (endpoints that hand out or end a refresh token). */
  session?: boolean;
  signal?: AbortSignal;
}

/**
 * The one API client every screen uses: bearer auth, a single-flight token refresh on 401
 * (concurrent requests share it, then retry once), problem+json errors as `ApiProblem`.
 */
export class ApiClient {
  private readonly baseUrl: string;
  private readonly doFetch: typeof fetch;
  private readonly store: SessionStore;
  private accessToken: string | null = null;
  private refreshing: Promise<boolean> | null = null;
  private readonly listeners = new Set<(signedIn: boolean) => void>();

  constructor(opts: ClientOptions) {
    this.baseUrl = opts.baseUrl ?? '';
    this.doFetch = opts.fetch ?? ((...a) => fetch(...a));
    this.store = opts.store;
  }

  /** Called with `false` when the session ends (logout, or a refresh that failed). */
  onSessionChange(fn: (signedIn: boolean) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  get token(): string | null {
    return this.accessToken;
  }

  hasSession(): boolean {
    return this.accessToken !== null || this.store.get();
  }

  private setTokens(pair: TokenPair | null): void {
    this.accessToken = pair?.access_token ?? null;
    this.store.set(pair !== null);
    this.listeners.forEach((l) => l(pair !== null));
  }

  /** A valid access token, refreshing first when none is held (used by the WebSocket). */
  async ensureToken(): Promise<string> {
    if (this.accessToken) return this.accessToken;
    if (await this.refresh()) return this.accessToken!;
    throw new ApiProblem({ title: 'Signed out', status: 401, code: 'unauthenticated' });
  }

  /**
   * Exchanges the refresh cookie for a new access token (and cookie). Single-flight:
   * callers that arrive while a refresh is running wait for that one (the old cookie is
   * invalid after rotation). Resolves `false` (and ends the session) when it fails.
   */
  refresh(): Promise<boolean> {
    if (this.refreshing) return this.refreshing;
    if (!this.store.get()) {
      if (this.accessToken) this.setTokens(null);
      return Promise.resolve(false);
    }
    this.refreshing = (async () => {
      try {
        const res = await this.doFetch(this.url('/api/v1/auth/refresh'), {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json', ...SESSION_MODE },
          credentials: 'same-origin',
          body: '{}',
        });
        if (!res.ok) {
          this.setTokens(null);
          return false;
        }
        this.setTokens((await res.json()) as TokenPair);
        return true;
      } catch {
        // Network failure: keep the session for a later try, but no access token.
        this.accessToken = null;
        return false;
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  private url(path: string, query?: RequestOptions['query']): string {
    let u = this.baseUrl + path;
    if (query) {
      const qs = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) {
        if (v !== undefined && v !== null && v !== '') qs.set(k, String(v));
      }
      const s = qs.toString();
      if (s) u += `?${s}`;
    }
    return u;
  }

  /** A raw authenticated request (refresh + one retry on 401); throws `ApiProblem` on failure. */
  async raw(path: string, opts: RequestOptions = {}): Promise<Response> {
    let usedToken: string | null = null;
    const send = async (): Promise<Response> => {
      usedToken = this.accessToken;
      const headers: Record<string, string> = { accept: 'application/json, */*' };
      let body: BodyInit | undefined;
      if (opts.body instanceof FormData) body = opts.body;
      else if (opts.body !== undefined) {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(opts.body);
      }
      if (!opts.anonymous && this.accessToken) {
        headers.authorization = `Bearer ${this.accessToken}`;
      }
      if (opts.session) Object.assign(headers, SESSION_MODE);
      try {
        return await this.doFetch(this.url(path, opts.query), {
          method: opts.method ?? (body ? 'POST' : 'GET'),
          headers,
          body,
          signal: opts.signal,
        });
      } catch (e) {
        if (e instanceof DOMException && e.name === 'AbortError') throw e;
        throw ApiProblem.network(e);
      }
    };

    if (!opts.anonymous && !this.accessToken && this.store.get()) {
      await this.refresh();
    }
    let res = await send();
    if (res.status === 401 && !opts.anonymous) {
      // Another request may already have refreshed while this one was in flight.
      const ok =
        this.accessToken !== null && this.accessToken !== usedToken ? true : await this.refresh();
      if (ok) res = await send();
    }
    if (!res.ok) throw await ApiProblem.fromResponse(res);
    return res;
  }

  async json<T>(path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.raw(path, opts);
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  // --- auth -----------------------------------------------------------------------------

  async login(email: string, password: string, tenant: string): Promise<void> {
    const pair = await this.json<TokenPair>('/api/v1/auth/login', {
      body: { email, password, tenant },
      anonymous: true,
      session: true,
    });
    this.setTokens(pair);
  }

  /** Ends the login on the server (its refresh cookie is cleared), then here. */
  async logout(): Promise<void> {
    try {
      if (this.hasSession()) await this.raw('/api/v1/auth/logout', { method: 'POST', session: true });
    } catch {
      // the session ends locally either way
    } finally {
      this.setTokens(null);
    }
  }

  me(): Promise<Me> {
    return this.json('/api/v1/me');
  }

  /** An invitation or reset link's details (no login needed); 404 `invite_invalid` when unusable. */
  invitation(token: string): Promise<Invitation> {
    return this.json('/api/v1/invitations/inspect', { body: { token }, anonymous: true });
  }

  /** Sets the password of an invitation or reset link; the user is then logged in, as by `login`. */
  async acceptInvitation(token: string, password: string): Promise<void> {
    const pair = await this.json<TokenPair>('/api/v1/invitations/accept', {
      body: { token, password },
      anonymous: true,
      session: true,
    });
    this.setTokens(pair);
  }

  /** Whether the platform has no admin yet (then only the set-up link `penny serve` printed helps). */
  setupStatus(): Promise<SetupStatus> {
    return this.json('/api/v1/setup', { anonymous: true });
  }

  /** Creates the first admin with the set-up token; they are then logged in, as by `login`. */
  async finishSetup(body: SetupRequest): Promise<void> {
    const pair = await this.json<TokenPair>('/api/v1/setup', { body: { ...body }, anonymous: true, session: true });
    this.setTokens(pair);
  }

  /** The tenant's name, logo and accent colour. */
  theme(): Promise<TenantTheme> {
    return this.json('/api/v1/themes');
  }

  // --- conversations --------------------------------------------------------------------

  listConversations(q?: string, limit = 100): Promise<Conversation[]> {
    return this.json('/api/v1/conversations', { query: { q, limit } });
  }
  createConversation(body: { title?: string; model?: string; system_prompt?: string } = {}): Promise<Conversation> {
    return this.json('/api/v1/conversations', { body });
  }
  getConversation(id: string): Promise<Conversation> {
    return this.json(`/api/v1/conversations/${id}`);
  }
  updateConversation(id: string, body: { title?: string; archived?: boolean; model?: string | null }): Promise<Conversation> {
    return this.json(`/api/v1/conversations/${id}`, { method: 'PATCH', body });
  }
  async deleteConversation(id: string): Promise<void> {
    await this.raw(`/api/v1/conversations/${id}`, { method: 'DELETE' });
  }
  /** The branch from the root to `leaf` (or to the newest leaf below it; default: current). */
  messages(id: string, leaf?: string): Promise<BranchMessage[]> {
    return this.json(`/api/v1/conversations/${id}/messages`, { query: { leaf } });
  }
  /**
   * At most `limit` (1-500) messages of the branch ending at `leaf` (default: the current
   * one), the newest first in time order; with `before`, the ones just above that message.
   * A `leaf` without `before` makes that branch current.
   */
  async messagePage(id: string, opts: { leaf?: string; before?: string; limit: number }): Promise<MessagePage> {
    const res = await this.raw(`/api/v1/conversations/${id}/messages`, { query: opts });
    const messages = (await res.json()) as BranchMessage[];
    // The header says it; the first message having a parent says the same (e.g. when a
    // cross-origin deployment does not expose the header).
    const header = res.headers.get('x-has-more');
    const hasMore = header === null ? messages[0]?.parent_id != null : header === 'true';
    return { messages, hasMore };
  }
  /** Every message of every branch (the JSON export). */
  exportJson(id: string): Promise<ConversationExport> {
    return this.json(`/api/v1/conversations/${id}/export`, { query: { format: 'json' } });
  }
  exportBlob(id: string, format: 'md' | 'json'): Promise<Blob> {
    return this.raw(`/api/v1/conversations/${id}/export`, { query: { format } }).then((r) => r.blob());
  }
  async cancelRun(runId: string): Promise<void> {
    await this.raw(`/api/v1/runs/${runId}/cancel`, { method: 'POST' });
  }

  // --- models, tools, artifacts, files ---------------------------------------------------

  /** The chat models (embedding models, for knowledge collections, answer no message). */
  async models(): Promise<ModelInfo[]> {
    const all = await this.json<(ModelInfo & { kind?: string })[]>('/api/v1/models');
    return all.filter((m) => m.kind !== 'embedding');
  }
  tools(): Promise<ToolInfo[]> {
    return this.json('/api/v1/tools');
  }
  artifacts(conversationId: string): Promise<Artifact[]> {
    return this.json('/api/v1/artifacts', { query: { conversationId } });
  }
  artifact(id: string): Promise<Artifact> {
    return this.json(`/api/v1/artifacts/${id}`);
  }
  artifactContent(id: string, version?: number): Promise<Blob> {
    return this.raw(`/api/v1/artifacts/${id}/content`, { query: { version } }).then((r) => r.blob());
  }

  // --- knowledge: collections, documents, passages, search -------------------------------

  collections(): Promise<Collection[]> {
    return this.json('/api/v1/collections');
  }
  /** 403 for viewers; 503 `knowledge_unavailable` when the server has no embedding model. */
  createCollection(body: { name: string; description?: string }): Promise<Collection> {
    return this.json('/api/v1/collections', { body });
  }
  collection(id: string): Promise<Collection> {
    return this.json(`/api/v1/collections/${id}`);
  }
  updateCollection(id: string, body: { name?: string; description?: string }): Promise<Collection> {
    return this.json(`/api/v1/collections/${id}`, { method: 'PATCH', body });
  }
  async deleteCollection(id: string): Promise<void> {
    await this.raw(`/api/v1/collections/${id}`, { method: 'DELETE' });
  }
  collectionMembers(id: string): Promise<CollectionMember[]> {
    return this.json(`/api/v1/collections/${id}/members`);
  }
  /** Grants (or with `none` withdraws) a user's access; answers the member list. */
  setCollectionMember(id: string, userId: string, access: 'read' | 'write' | 'none'): Promise<CollectionMember[]> {
    return this.json(`/api/v1/collections/${id}/members`, { body: { userId, access } });
  }
  /** The collection's documents, newest first. */
  documents(collectionId: string): Promise<KnowledgeDocument[]> {
    return this.json(`/api/v1/collections/${collectionId}/documents`);
  }
  /**
   * Adds an uploaded file to a collection for ingest. A file named like an existing document
   * becomes that document's next version (and is ingested again).
   */
  addDocument(collectionId: string, fileId: string): Promise<KnowledgeDocument> {
    return this.json(`/api/v1/collections/${collectionId}/documents`, { body: { fileId } });
  }
  /**
   * Adds the document at an http(s) URL: the server fetches it (through its outbound
   * policy) and keeps it as the caller's upload; then as `addDocument`. Fails with
   * `url_refused`, `url_unreachable` (422) or `url_too_large` (413).
   */
  addDocumentFromUrl(collectionId: string, url: string): Promise<KnowledgeDocument> {
    return this.json(`/api/v1/collections/${collectionId}/documents`, { body: { url } });
  }
  document(id: string): Promise<KnowledgeDocument> {
    return this.json(`/api/v1/documents/${id}`);
  }
  async deleteDocument(id: string): Promise<void> {
    await this.raw(`/api/v1/documents/${id}`, { method: 'DELETE' });
  }
  /** Stops a queued or processing ingest; 409 `conflict` otherwise. */
  cancelDocument(id: string): Promise<KnowledgeDocument> {
    return this.json(`/api/v1/documents/${id}/cancel`, { method: 'POST' });
  }
  /** The document's own bytes (a PDF as `application/pdf`). */
  documentContent(id: string): Promise<Blob> {
    return this.raw(`/api/v1/documents/${id}/content`).then((r) => r.blob());
  }
  passage(chunkId: number | string): Promise<Passage> {
    return this.json(`/api/v1/passages/${chunkId}`);
  }
  search(body: { query: string; collections?: string[]; k?: number }): Promise<SearchResult> {
    return this.json('/api/v1/search', { body });
  }

  /** Uploads one file with progress (XMLHttpRequest: fetch cannot report upload progress). */
  async upload(file: File, onProgress?: (fraction: number) => void): Promise<UploadedFile> {
    const token = await this.ensureToken();
    const attempt = (bearer: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const xhr = new XMLHttpRequest();
        xhr.open('POST', this.url('/api/v1/files'));
        xhr.setRequestHeader('authorization', `Bearer ${bearer}`);
        xhr.upload.onprogress = (e) => {
          if (e.lengthComputable) onProgress?.(e.loaded / e.total);
        };
        xhr.onload = () => resolve({ status: xhr.status, body: xhr.responseText });
        xhr.onerror = () => reject(ApiProblem.network(new Error('upload failed')));
        const form = new FormData();
        form.append('file', file);
        xhr.send(form);
      });
    let r = await attempt(token);
    if (r.status === 401 && (await this.refresh())) r = await attempt(this.accessToken!);
    if (r.status < 200 || r.status >= 300) {
      throw await ApiProblem.fromResponse(new Response(r.body, { status: r.status }));
    }
    onProgress?.(1);
    return JSON.parse(r.body) as UploadedFile;
  }
}
