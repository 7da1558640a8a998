"""Hand-made changes to a live ShopPulse database: what each one is, and where it must show."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    """One change made by hand, the difference `drift` must name, and whether verify must fail."""

    id: str
    sql: str
    kind: str  # the Difference.kind drift reports
    name: str  # the Difference.name drift reports
    security: bool  # undoes tenant isolation or least privilege: verify must fail
    undo: str = ""  # roles are cluster-wide: put them back for the other tests


_ME = "DO $$ BEGIN EXECUTE format('{} %I {} shoppulse_app', current_user); END $$"

SECURITY = (
    Case("bypassrls", "ALTER ROLE shoppulse_app BYPASSRLS", "role", "shoppulse_app", True,
         "ALTER ROLE shoppulse_app NOBYPASSRLS"),
    Case("superuser", "ALTER ROLE shoppulse_analytics SUPERUSER", "role", "shoppulse_analytics",
         True, "ALTER ROLE shoppulse_analytics NOSUPERUSER"),
    Case("createrole", "ALTER ROLE shoppulse_app CREATEROLE", "role", "shoppulse_app", True,
         "ALTER ROLE shoppulse_app NOCREATEROLE"),
    Case("createdb", "ALTER ROLE shoppulse_app CREATEDB", "role", "shoppulse_app", True,
         "ALTER ROLE shoppulse_app NOCREATEDB"),
    Case("project-role-in-another", "GRANT shoppulse_app TO shoppulse_analytics", "role",
         "shoppulse_analytics", True, "REVOKE shoppulse_app FROM shoppulse_analytics"),
    Case("app-member-of-migrator", _ME.format("GRANT", "TO"), "role", "shoppulse_app", True,
         _ME.format("REVOKE", "FROM")),
    Case("table-owner", "ALTER TABLE orders OWNER TO shoppulse_app", "owner",
         "table public.orders", True),
    Case("function-owner", "ALTER FUNCTION set_updated_at() OWNER TO shoppulse_app", "owner",
         "function public.set_updated_at()", True),
    Case("truncate", "GRANT TRUNCATE ON orders TO shoppulse_app", "privilege",
         "table public.orders to shoppulse_app", True),
    Case("audit-update-delete", "GRANT UPDATE, DELETE ON audit_logs TO shoppulse_app",
         "privilege", "table public.audit_logs to shoppulse_app", True),
    Case("audit-insert-revoked", "REVOKE INSERT ON audit_logs FROM shoppulse_app", "privilege",
         "table public.audit_logs to shoppulse_app", True),
    Case("select-to-public", "GRANT SELECT ON tenants TO PUBLIC", "privilege",
         "table public.tenants to PUBLIC", True),
    Case("grant-option", "GRANT SELECT ON users TO shoppulse_analytics WITH GRANT OPTION",
         "privilege", "table public.users to shoppulse_analytics", True),
    Case("column-privilege", "GRANT UPDATE (tenant_id) ON orders TO shoppulse_app", "privilege",
         "column public.orders.tenant_id to shoppulse_app", True),
    Case("sequence-privilege",
         "GRANT UPDATE ON SEQUENCE fulfillment_fulfillment_id_seq TO shoppulse_analytics",
         "privilege", "sequence public.fulfillment_fulfillment_id_seq to shoppulse_analytics",
         True),
    Case("create-on-schema-public", "GRANT CREATE ON SCHEMA public TO PUBLIC", "privilege",
         "schema public to PUBLIC", True),
    Case("default-privileges",
         "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO shoppulse_analytics",
         "default privilege", "for (migrator) in schema public on tables to shoppulse_analytics",
         True),
    Case("row-security-off", "ALTER TABLE tenants DISABLE ROW LEVEL SECURITY", "row security",
         "public.tenants", True),
    Case("policy-dropped", "DROP POLICY tenant_isolation ON tenants", "policy",
         "public.tenants.tenant_isolation", True),
    Case("policy-using-widened", "ALTER POLICY tenant_isolation ON orders USING (true)",
         "policy", "public.orders.tenant_isolation", True),
    Case("policy-check-widened", "ALTER POLICY tenant_isolation ON users WITH CHECK (true)",
         "policy", "public.users.tenant_isolation", True),
    Case("policy-roles-changed",
         "ALTER POLICY tenant_isolation ON orders TO shoppulse_analytics", "policy",
         "public.orders.tenant_isolation", True),
    Case("policy-restrictive",
         "DROP POLICY tenant_isolation ON fulfillment; CREATE POLICY tenant_isolation ON "
         "fulfillment AS RESTRICTIVE USING (tenant_id = current_setting('app.tenant_id', true)) "
         "WITH CHECK (tenant_id = current_setting('app.tenant_id', true))",
         "policy", "public.fulfillment.tenant_isolation", True),
    Case("policy-added-using-true", "CREATE POLICY open_rows ON users USING (true)", "policy",
         "public.users.open_rows", True),
    Case("security-definer", "ALTER FUNCTION set_updated_at() SECURITY DEFINER", "function",
         "public.set_updated_at()", True),
)  # fmt: skip

OTHER = (
    Case("column-added", "ALTER TABLE orders ADD COLUMN legacy_code varchar(5)", "column",
         "public.orders.legacy_code", False),
    Case("column-renamed", "ALTER TABLE orders RENAME COLUMN region TO area", "column",
         "public.orders.area", False),
    Case("column-type", "ALTER TABLE orders ALTER COLUMN region TYPE varchar(20)", "column",
         "public.orders.region", False),
    Case("column-not-null-dropped", "ALTER TABLE orders ALTER COLUMN store_id DROP NOT NULL",
         "column", "public.orders.store_id", False),
    Case("column-collation", 'ALTER TABLE tenants ALTER COLUMN country TYPE varchar(50) COLLATE "C"',
         "column", "public.tenants.country", False),
    Case("default-changed", "ALTER TABLE tenants ALTER COLUMN plan_tier SET DEFAULT 'Basic'",
         "default", "public.tenants.plan_tier", False),
    Case("default-dropped", "ALTER TABLE orders ALTER COLUMN status DROP DEFAULT", "default",
         "public.orders.status", False),
    Case("identity-always",
         "ALTER TABLE fulfillment ALTER COLUMN fulfillment_id SET GENERATED ALWAYS", "default",
         "public.fulfillment.fulfillment_id", False),
    Case("index-dropped", "DROP INDEX idx_orders_status", "index",
         "public.orders.idx_orders_status", False),
    Case("index-added", "CREATE INDEX idx_manual ON orders (region, status)", "index",
         "public.orders.idx_manual", False),
    Case("index-redefined",
         "DROP INDEX idx_orders_region; CREATE INDEX idx_orders_region ON orders (region, status)",
         "index", "public.orders.idx_orders_region", False),
    Case("index-renamed", "ALTER INDEX idx_orders_store_id RENAME TO idx_store", "index",
         "public.orders.idx_store", False),
    Case("constraint-added", "ALTER TABLE orders ADD CONSTRAINT orders_region_check "
         "CHECK (region <> '')", "constraint", "public.orders.orders_region_check", False),
    Case("constraint-dropped", "ALTER TABLE orders DROP CONSTRAINT orders_status_check",
         "constraint", "public.orders.orders_status_check", False),
    Case("foreign-key-dropped", "ALTER TABLE users DROP CONSTRAINT users_tenant_id_fkey",
         "constraint", "public.users.users_tenant_id_fkey", False),
    Case("trigger-dropped", "DROP TRIGGER trg_users_updated_at ON users", "trigger",
         "public.users.trg_users_updated_at", False),
    Case("trigger-disabled", "ALTER TABLE orders DISABLE TRIGGER trg_orders_updated_at",
         "trigger state", "public.orders.trg_orders_updated_at", False),
    Case("trigger-redefined",
         "DROP TRIGGER trg_tenants_updated_at ON tenants; CREATE TRIGGER trg_tenants_updated_at "
         "BEFORE UPDATE OF tenant_name ON tenants FOR EACH ROW EXECUTE FUNCTION set_updated_at()",
         "trigger", "public.tenants.trg_tenants_updated_at", False),
    Case("function-body",
         "CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql "
         "AS $$ BEGIN RETURN NEW; END; $$", "function", "public.set_updated_at()", False),
    Case("function-search-path", "ALTER FUNCTION set_updated_at() SET search_path = public",
         "function", "public.set_updated_at()", False),
    Case("function-added", "CREATE FUNCTION helper() RETURNS int LANGUAGE sql AS 'SELECT 1'",
         "function", "public.helper()", False),
    Case("function-execute-revoked", "REVOKE EXECUTE ON FUNCTION set_updated_at() FROM PUBLIC",
         "privilege", "function public.set_updated_at() to PUBLIC", False),
    Case("sequence-cache", "ALTER SEQUENCE fulfillment_fulfillment_id_seq CACHE 20", "sequence",
         "public.fulfillment_fulfillment_id_seq", False),
    Case("sequence-maxvalue", "ALTER SEQUENCE role_metric_visibility_id_seq MAXVALUE 100000",
         "sequence", "public.role_metric_visibility_id_seq", False),
    Case("sequence-minvalue", "ALTER SEQUENCE role_metric_visibility_id_seq MINVALUE 0",
         "sequence", "public.role_metric_visibility_id_seq", False),
    Case("row-security-forced", "ALTER TABLE orders FORCE ROW LEVEL SECURITY", "row security",
         "public.orders", False),
    Case("table-unlogged", "ALTER TABLE audit_logs SET UNLOGGED", "table", "public.audit_logs",
         False),
    Case("table-added", "CREATE TABLE scratch_notes (id int)", "table", "public.scratch_notes",
         False),
    Case("view-added", "CREATE VIEW order_totals AS SELECT tenant_id, sum(net_revenue) AS total "
         "FROM orders GROUP BY tenant_id", "view", "public.order_totals", False),
    Case("schema-added", "CREATE SCHEMA reporting", "schema", "reporting", False),
    Case("type-added", "CREATE TYPE mood AS ENUM ('calm')", "type", "public.mood", False),
    Case("extension-added", "CREATE EXTENSION pg_trgm", "extension", "pg_trgm", False),
    Case("connection-limit", "ALTER ROLE shoppulse_analytics CONNECTION LIMIT 3", "role",
         "shoppulse_analytics", False, "ALTER ROLE shoppulse_analytics CONNECTION LIMIT -1"),
    Case("noinherit", "ALTER ROLE shoppulse_app NOINHERIT", "role", "shoppulse_app", False,
         "ALTER ROLE shoppulse_app INHERIT"),
)  # fmt: skip

BENIGN = (
    ("comment", "COMMENT ON TABLE orders IS 'hand-written note'; "
                "COMMENT ON COLUMN orders.region IS 'sales region'"),
    ("vacuum-analyze", "VACUUM (ANALYZE) orders"),
    ("analyze", "ANALYZE"),
    ("reindex", "REINDEX TABLE orders"),
    ("statistics-target", "ALTER TABLE orders ALTER COLUMN status SET STATISTICS 500"),
    ("rows", "INSERT INTO tenants (tenant_id, tenant_name, plan_tier) VALUES "
             "('T900', 'Hand Made', 'Basic'); UPDATE tenants SET country = 'NZ' "
             "WHERE tenant_id = 'T900'; DELETE FROM audit_logs"),
    ("sequence-used", "SELECT nextval('fulfillment_fulfillment_id_seq')"),
)  # fmt: skip
