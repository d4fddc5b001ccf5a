-- One-time links to set a password, sent by mail when an admin creates an account or resets its password.
-- Only the SHA-256 of the link's token is kept; a link works once, until it expires.
-- Keep in step with migrations/postgres/0025_password_resets.sql.
CREATE TABLE password_resets (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX password_resets_user ON password_resets (user_id);
