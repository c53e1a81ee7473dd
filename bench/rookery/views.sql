-- Rookery contender: views for the harness's database checks (WORKLOAD.md
-- §9.5), applied by run.sh as `bench` after seed.sh.
--
-- projects and audit_log have FORCE ROW LEVEL SECURITY, so `bench` (their
-- owner) sees no row without app.tenant_id. The views are therefore owned by
-- rookery_bench_checker (NOLOGIN, BYPASSRLS; roles.sql): a view reads its
-- tables with its owner's rights. rookery_app gets no access to them.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
GRANT USAGE, CREATE ON SCHEMA public TO rookery_bench_checker;
GRANT SELECT ON projects, audit_log TO rookery_bench_checker;
SET ROLE rookery_bench_checker;
CREATE VIEW bench_projects AS
    SELECT id, tenant_id, name, created_at FROM projects;
-- Only the API's project creations (the runtime also audits other actions);
-- target_id is text in audit_log (the project's bigint id), actor_id a uuid.
CREATE VIEW bench_audit AS
    SELECT tenant_id, actor_id, action, target_id
    FROM audit_log WHERE action = 'project.create';
GRANT SELECT ON bench_projects, bench_audit TO SESSION_USER;
RESET ROLE;
