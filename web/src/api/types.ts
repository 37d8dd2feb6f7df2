// Shapes of the PENNY API (checked against the running backend; snake_case as served).

export type Role = 'viewer' | 'creator' | 'manager' | 'admin';

export interface TokenPair {
  access_token: string;
  /** Only for API clients: the web app's refresh token is an HttpOnly cookie. */
  refresh_token?: string;
  expires_in: number;
  token_type?: string;
}

export interface Me {
  id: string;
  email: string;
  display_name: string | null;
  role: Role;
  is_super_admin?: boolean;
  tenant: { id: string; slug: string; name: string };
}

export interface Conversation {
  id: string;
  title: string;
  model: string | null;
  system_prompt: string | null;
  archived: boolean;
  current_leaf: string | null;
  last_seq: number;
  created_at: string;
  updated_at: string;
}

export interface StoredToolCall {
  id: string;
  name: string;
  arguments: string;
  ok?: boolean;
  result?: string;
}

export type MessageStatus = 'pending' | 'streaming' | 'complete' | 'failed' | 'cancelled' | string;

export interface Message {
  id: string;
  conversation_id: string;
  parent_id: string | null;
  role: 'user' | 'assistant' | 'system' | 'tool' | string;
  content: string;
  status: MessageStatus;
  model: string | null;
  tool_calls: StoredToolCall[] | null;
  error_code: string | null;
  input_tokens?: number | null;
  output_tokens?: number | null;
  duration_ms?: number | null;
  created_at: string;
  /** How many messages share this one's parent (1 = no branches). */
  siblings: number;
  /** 1-based position among the siblings, oldest first. */
  sibling_index: number;
  /** Files attached to a user message (a snapshot of each upload). */
  attachments?: UploadedFile[];
  /** Knowledge collections picked for a user message (a snapshot of each one's name). */
  collections?: PickedCollection[];
}

/** A collection as kept on the message it was picked for. */
export interface PickedCollection {
  id: string;
  name: string;
}

/** A message as listed on a branch (GET …/messages). */
export interface BranchMessage extends Message {
  /** Every message sharing this one's parent (itself included), in `sibling_index` order. */
  sibling_ids: string[];
  /** The running run writing this answer; null unless it is streaming. */
  run_id: string | null;
  /** The seq of that run's `run.started` (resume after `run_started_seq - 1`); null unless streaming. */
  run_started_seq: number | null;
}

/** One page of a branch, root first, and whether older messages exist above it. */
export interface MessagePage {
  messages: BranchMessage[];
  hasMore: boolean;
}

export interface ConversationExport {
  conversation: Conversation;
  current_branch: string[];
  messages: Message[];
}

export interface ModelInfo {
  id: string;
  name: string;
  provider: string;
  is_default: boolean;
}

export interface ToolInfo {
  name: string;
  description: string;
  parameters: unknown;
  usable: boolean;
  enabled?: boolean;
}

export type ArtifactType =
  | 'markdown'
  | 'table'
  | 'chart'
  | 'vega-lite'
  | 'mermaid'
  | 'code'
  | 'document'
  | 'image'
  | 'file';

export interface ArtifactVersion {
  version: number;
  mime: string;
  size: number;
  createdAt?: string;
}

export interface Artifact {
  id: string;
  conversationId: string | null;
  messageId: string | null;
  type: ArtifactType | string;
  title: string;
  latestVersion: number;
  createdAt: string;
  updatedAt: string;
  versions?: ArtifactVersion[];
}

export interface UploadedFile {
  id: string;
  filename: string;
  mime: string;
  size: number;
}

/** The tenant's look (GET /api/v1/themes): every signed-in user loads it. */
export interface TenantTheme {
  name: string;
  /** null, an https:// URL or a data:image/… URL (≤ 256 KiB). */
  logoUrl: string | null;
  /** `#rrggbb`. */
  accentColor: string;
}

/** Whether the platform still needs its first admin (GET /api/v1/setup, no auth). */
export interface SetupStatus {
  needed: boolean;
}

/** The first admin, created with the set-up link's token (POST /api/v1/setup, no auth). */
export interface SetupRequest {
  token: string;
  email: string;
  password: string;
  displayName?: string;
}

/** A one-time invitation or password-reset link (POST /api/v1/invitations/inspect, no auth). */
export interface Invitation {
  email: string;
  tenantName: string;
  tenantSlug: string;
  purpose: 'invite' | 'reset';
  expiresAt: string;
}

// --- knowledge (camelCase as served) ---------------------------------------------------------

/** What the caller may do with a collection: read (search), write (add documents), manage. */
export type CollectionAccess = 'read' | 'write' | 'manage';

export interface Collection {
  id: string;
  ownerId: string;
  name: string;
  description: string;
  embeddingModel: string;
  embeddingDims: number;
  createdAt: string;
  updatedAt: string;
  /** Documents in the collection, and how many of them are ready (searchable). */
  documents: number;
  ready: number;
  /** Passages indexed. */
  chunks: number;
  bytes: number;
  access: CollectionAccess;
}

export interface CollectionMember {
  userId: string;
  email: string;
  name: string | null;
  access: 'read' | 'write' | 'none' | string;
  addedAt: string;
}

export type DocumentStatus = 'queued' | 'processing' | 'ready' | 'failed' | 'cancelled';

/** A document of a collection (named so to stay clear of the DOM's `Document`). */
export interface KnowledgeDocument {
  id: string;
  collectionId: string;
  fileId: string | null;
  sourceUrl: string | null;
  title: string;
  mime: string;
  bytes: number;
  status: DocumentStatus;
  error: string | null;
  pages: number | null;
  chunks: number | null;
  pagesDone: number | null;
  chunksDone: number | null;
  version: number;
  jobId: string | null;
  createdBy: string | null;
  createdAt: string;
  updatedAt: string;
  readyAt: string | null;
}

/** A passage of a document, as search finds it. */
export interface Passage {
  chunkId: number;
  documentId: string;
  collectionId: string;
  title: string;
  /** Where the document was fetched from, when it was added by URL. */
  sourceUrl?: string | null;
  page: number | null;
  startOffset: number;
  endOffset: number;
  heading: string | null;
  content: string;
  score: number;
  vectorRank: number | null;
  keywordRank: number | null;
  trigramRank: number | null;
}

export interface SearchResult {
  passages: Passage[];
  tookMs: number;
}
