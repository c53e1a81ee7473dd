-- Rookery contender: cluster roles, created once per PostgreSQL cluster by
-- seed.sh through the local `postgres` account, only when missing (roles
-- outlive the harness's database reset).
--
--   psql -v owner=bench -f roles.sql          (as a superuser)
--
-- rookery_app            the runtime's serving role (the app's migration
--                        0001 also creates it): NOLOGIN, no BYPASSRLS, owns
--                        nothing. `owner` (the harness's login role, which
--                        owns the tables) is made a member so that `serve`
--                        can SET ROLE to it.
-- rookery_bench_checker  NOLOGIN + BYPASSRLS: owns the views of views.sql,
--                        through which the harness's checks (connected as
--                        `owner`, bound by FORCE ROW LEVEL SECURITY) read
--                        every tenant's rows.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
SELECT 'CREATE ROLE rookery_app NOLOGIN'
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rookery_app') \gexec
SELECT 'CREATE ROLE rookery_bench_checker NOLOGIN BYPASSRLS'
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rookery_bench_checker') \gexec
SELECT format('GRANT rookery_app TO %I', :'owner')
WHERE NOT pg_has_role(:'owner', 'rookery_app', 'MEMBER') \gexec
SELECT format('GRANT rookery_bench_checker TO %I', :'owner')
WHERE NOT pg_has_role(:'owner', 'rookery_bench_checker', 'MEMBER') \gexec
