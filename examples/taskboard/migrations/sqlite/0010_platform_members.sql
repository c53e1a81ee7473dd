-- The member lifecycle (`http/identity/members`): a membership is never
-- deleted. Removing a member (or their leaving) keeps the row as `former`,
-- with when and by whom, so rows that reference the member through
-- `memberships (tenant_id, user_id)` and the audit log keep naming them;
-- a new invitation makes them `active` again. Sign-in, refresh, API keys
-- and invitations read the status: a former membership is refused like
-- none.
ALTER TABLE memberships ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
    CONSTRAINT memberships_status_check CHECK (status IN ('active', 'former'));
ALTER TABLE memberships ADD COLUMN removed_at TEXT
    CONSTRAINT memberships_removed_at_check CHECK ((status = 'former') = (removed_at IS NOT NULL));
ALTER TABLE memberships ADD COLUMN removed_by TEXT;

-- Where an API key was last used from, beside when (`GET /api-keys`).
ALTER TABLE api_keys ADD COLUMN last_used_ip TEXT;
