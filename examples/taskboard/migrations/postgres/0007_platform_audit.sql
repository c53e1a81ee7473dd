-- The platform scope's audit (`rookery::db::platform_audit`): one row for
-- each piece of cross-tenant work the platform does (a schedule fanned out
-- to every tenant, a prune across tenants, a platform job's transaction),
-- written in that work's own transaction where it has one. No tenant
-- owns a row. The serving role may only append (`migrate` grants INSERT
-- and nothing else); the operator reads it as the tables' owner
-- (`<app> platform-audit`).
CREATE TABLE rookery_platform_audit (
    id     uuid        NOT NULL,
    at     timestamptz NOT NULL,
    actor  text        NOT NULL,
    action text        NOT NULL,
    detail jsonb       NOT NULL,
    CONSTRAINT rookery_platform_audit_pkey PRIMARY KEY (id)
);
CREATE INDEX rookery_platform_audit_at_idx ON rookery_platform_audit (at);
