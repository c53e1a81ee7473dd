-- The platform scope's audit (`rookery::db::platform_audit`): one row for
-- each piece of cross-tenant work the platform does (a schedule fanned out
-- to every tenant, a prune across tenants, a platform job's transaction),
-- written in that work's own transaction where it has one. No tenant
-- owns a row; the operator reads it with `<app> platform-audit`.
CREATE TABLE rookery_platform_audit (
    id     TEXT NOT NULL,
    at     TEXT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL,
    CONSTRAINT rookery_platform_audit_pkey PRIMARY KEY (id)
);
CREATE INDEX rookery_platform_audit_at_idx ON rookery_platform_audit (at);
