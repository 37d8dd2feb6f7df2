-- A login has an absolute end: refreshing moves a token's expiry, never past the end of
-- the login it belongs to. Logins that exist already end when their current token would.
ALTER TABLE refresh_sessions ADD COLUMN login_expires_at timestamptz;
UPDATE refresh_sessions SET login_expires_at = expires_at;
ALTER TABLE refresh_sessions ALTER COLUMN login_expires_at SET NOT NULL;
