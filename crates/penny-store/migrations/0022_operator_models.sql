-- A model configured by the operator's environment (OPENAI_API_KEY, ANTHROPIC_API_KEY…)
-- belongs to the operator: tenant admins use it, but cannot change its endpoint or key
-- (which would send the operator's key to a host of their choosing).
ALTER TABLE models ADD COLUMN operator_managed boolean NOT NULL DEFAULT false;
