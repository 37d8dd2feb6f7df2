-- The failed-login counters of an account are keyed by this generation: `penny admin
-- unlock-login` bumps it, which starts every counter of the account afresh on every
-- instance (in-process and Redis limiters alike), so an admin can always be let back in.
ALTER TABLE users ADD COLUMN login_unlock_gen integer NOT NULL DEFAULT 0;
