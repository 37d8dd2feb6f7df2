-- Files attached to a user message: a snapshot of each upload's metadata
-- ({id, filename, mime, size}), so a message shows what was attached even after the
-- upload is gone, and a run can offer the files to the model without another query.
ALTER TABLE messages
  ADD COLUMN attachments jsonb NOT NULL DEFAULT '[]'
  CHECK (jsonb_typeof(attachments) = 'array' AND jsonb_array_length(attachments) <= 20);
