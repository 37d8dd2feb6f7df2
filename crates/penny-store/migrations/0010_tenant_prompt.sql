-- The tenant's system prompt: put before every conversation's own when a run calls a model.
ALTER TABLE tenant_policies
  ADD COLUMN system_prompt text
  CHECK (system_prompt IS NULL OR length(system_prompt) BETWEEN 1 AND 8000);
