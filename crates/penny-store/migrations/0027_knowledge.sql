-- Knowledge: collections of documents, cut into passages (chunks) with an embedding, a
-- full-text vector and trigrams, searched by all three and fused by reciprocal rank.
--
-- A document is never half-indexed: its ingest writes chunks under a new `generation`
-- while it runs, and the transaction that completes the job points the document at that
-- generation (status `ready`) and deletes every other one. Searches only see chunks whose
-- generation is their document's.

CREATE TABLE collections (
  id              uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  tenant_id       uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  owner_id        uuid NOT NULL,
  name            text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
  description     text NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
  -- Which model embedded the chunks, and its dimensions; changing it re-embeds.
  embedding_model text NOT NULL CHECK (length(embedding_model) BETWEEN 1 AND 200),
  embedding_dims  integer NOT NULL CHECK (embedding_dims BETWEEN 1 AND 2000),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, owner_id) REFERENCES users(tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX collections_by_owner ON collections (tenant_id, owner_id);

CREATE TABLE collection_members (
  tenant_id     uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  collection_id uuid NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
  user_id       uuid NOT NULL,
  access        text NOT NULL CHECK (access IN ('read', 'write')),
  added_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (collection_id, user_id),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX collection_members_by_user ON collection_members (tenant_id, user_id);

CREATE TABLE documents (
  id            uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
  tenant_id     uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  collection_id uuid NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
  -- Where the bytes came from: an upload (kept while the document lives) or a URL.
  file_id       uuid REFERENCES files(id) ON DELETE SET NULL,
  source_url    text CHECK (length(source_url) <= 2048),
  title         text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
  mime          text NOT NULL DEFAULT 'application/octet-stream',
  bytes         bigint NOT NULL DEFAULT 0 CHECK (bytes >= 0),
  sha256        text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  status        text NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'processing', 'ready', 'failed', 'cancelled')),
  error         text CHECK (length(error) <= 2000),
  pages         integer CHECK (pages >= 0),
  chunks        integer NOT NULL DEFAULT 0 CHECK (chunks >= 0),
  pages_done    integer NOT NULL DEFAULT 0 CHECK (pages_done >= 0),
  chunks_done   integer NOT NULL DEFAULT 0 CHECK (chunks_done >= 0),
  -- The ingest generation searches see (NULL: none yet), and the latest one asked for.
  generation    integer CHECK (generation >= 1),
  version       integer NOT NULL DEFAULT 1 CHECK (version >= 1),
  job_id        uuid,
  created_by    uuid,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  ready_at      timestamptz,
  CHECK (file_id IS NOT NULL OR source_url IS NOT NULL OR status <> 'queued')
);
CREATE INDEX documents_by_collection ON documents (tenant_id, collection_id, created_at DESC);
CREATE INDEX documents_by_file ON documents (tenant_id, file_id) WHERE file_id IS NOT NULL;

CREATE TABLE chunks (
  id            bigserial PRIMARY KEY,
  tenant_id     uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  collection_id uuid NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
  document_id   uuid NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
  generation    integer NOT NULL,
  ordinal       integer NOT NULL CHECK (ordinal >= 0),
  -- 1-based page of the passage's start (1 for formats without pages).
  page          integer NOT NULL CHECK (page >= 1),
  -- Character offsets of the passage in its page's extracted text.
  start_offset  integer NOT NULL CHECK (start_offset >= 0),
  end_offset    integer NOT NULL CHECK (end_offset >= start_offset),
  heading       text NOT NULL DEFAULT '',
  content       text NOT NULL CHECK (length(content) BETWEEN 1 AND 8000),
  dims          integer NOT NULL,
  -- Dimensions differ per model: the column is untyped, indexed per common size below.
  embedding     vector NOT NULL,
  tsv           tsvector GENERATED ALWAYS AS
                  (to_tsvector('english', heading || ' ' || content)) STORED,
  CHECK (vector_dims(embedding) = dims)
);
CREATE INDEX chunks_by_document ON chunks (document_id, generation, ordinal);
CREATE INDEX chunks_by_collection ON chunks (tenant_id, collection_id);
CREATE INDEX chunks_tsv ON chunks USING gin (tsv);
CREATE INDEX chunks_trgm ON chunks USING gin (content gin_trgm_ops);
-- One HNSW index (cosine) per common embedding size; searches cast to the same size.
CREATE INDEX chunks_hnsw_384 ON chunks USING hnsw ((embedding::vector(384)) vector_cosine_ops)
  WHERE dims = 384;
CREATE INDEX chunks_hnsw_768 ON chunks USING hnsw ((embedding::vector(768)) vector_cosine_ops)
  WHERE dims = 768;
CREATE INDEX chunks_hnsw_1024 ON chunks USING hnsw ((embedding::vector(1024)) vector_cosine_ops)
  WHERE dims = 1024;
CREATE INDEX chunks_hnsw_1536 ON chunks USING hnsw ((embedding::vector(1536)) vector_cosine_ops)
  WHERE dims = 1536;

SELECT penny_enable_rls('collections');
SELECT penny_enable_rls('collection_members');
SELECT penny_enable_rls('documents');
SELECT penny_enable_rls('chunks');

GRANT SELECT, INSERT, UPDATE, DELETE ON collections, collection_members, documents, chunks
  TO penny_app;
GRANT USAGE ON SEQUENCE chunks_id_seq TO penny_app;
