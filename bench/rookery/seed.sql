-- Rookery contender: the logical data of WORKLOAD.md §9.2 in the generated
-- app's schema (taskboard or saasbench, app.sh; their
-- migrations/postgres/0001_init.sql), one INSERT … SELECT per table. Run by
-- seed.sh as `bench` (the tables' owner) right after `<app> migrate`.
-- Variables: tenants, projects (per tenant).
--
-- Ids: tenants and users are uuids derived from md5 of the logical id
-- (deterministic, so every run has the same ids); project ids are the
-- logical ones ((t-1)*P + k; the identity column then continues at T*P + 1).
\set ON_ERROR_STOP on
SET client_min_messages = warning;

-- The harness's reset recreates `public` without PUBLIC's USAGE, which the
-- migration does not grant (a stock database has it).
GRANT USAGE ON SCHEMA public TO rookery_app;

BEGIN;
-- memberships and projects have FORCE ROW LEVEL SECURITY, which binds their
-- owner too: lift it for the bulk insert and put it back in the same
-- transaction (nobody ever sees the tables without it).
ALTER TABLE memberships NO FORCE ROW LEVEL SECURITY;
ALTER TABLE projects    NO FORCE ROW LEVEL SECURITY;

INSERT INTO tenants (id, slug, name, plan, created_at)
SELECT md5('rookery-bench-tenant:' || t)::uuid, 'tenant-' || t, 'Tenant ' || t, 'enterprise',
       timestamptz '2025-01-01 00:00:00+00'
FROM generate_series(1, :tenants) AS t;

INSERT INTO users (id, email, password_hash, created_at)
SELECT md5('rookery-bench-user:' || ((t - 1) * 5 + k))::uuid,
       'user' || k || '@tenant-' || t || '.example', NULL, timestamptz '2025-01-01 00:00:00+00'
FROM generate_series(1, :tenants) AS t, generate_series(1, 5) AS k;

INSERT INTO memberships (tenant_id, user_id, role, created_at)
SELECT md5('rookery-bench-tenant:' || t)::uuid, md5('rookery-bench-user:' || ((t - 1) * 5 + k))::uuid,
       (ARRAY['owner', 'admin', 'member', 'member', 'viewer'])[k], timestamptz '2025-01-01 00:00:00+00'
FROM generate_series(1, :tenants) AS t, generate_series(1, 5) AS k;

-- Each project is owned by one of the tenant's owner, admin and two members.
-- (taskboard's `status` takes its default, 'active'; saasbench has none.)
INSERT INTO projects (tenant_id, id, name, description, owner_id, created_at, updated_at)
SELECT md5('rookery-bench-tenant:' || t)::uuid, (t - 1) * :projects + p,
       't' || t || '-project-' || p,
       'Seeded project ' || p || ' of tenant ' || t || '. Lorem ipsum dolor sit amet, consectetur adipiscing elit.',
       md5('rookery-bench-user:' || ((t - 1) * 5 + 1 + p % 4))::uuid,
       timestamptz '2025-01-01 00:00:00+00' + p * interval '1 hour' + t * interval '1 second',
       timestamptz '2025-01-01 00:00:00+00' + p * interval '1 hour' + t * interval '1 second'
FROM generate_series(1, :tenants) AS t, generate_series(1, :projects) AS p
ORDER BY t, p;

ALTER TABLE memberships FORCE ROW LEVEL SECURITY;
ALTER TABLE projects    FORCE ROW LEVEL SECURITY;
COMMIT;

\o /dev/null
SELECT setval(pg_get_serial_sequence('projects', 'id'), :tenants * :projects);
\o

VACUUM ANALYZE tenants, users, memberships, projects, audit_log;
