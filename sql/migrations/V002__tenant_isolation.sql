-- V002: tenant isolation enforced by the database, and least-privilege roles.
--
-- The spec says every query MUST filter by tenant_id; this makes it a property of the database:
--   * shoppulse_app (DML on tenant tables, no DDL) and shoppulse_analytics (read only) see and
--     write only the rows of the tenant named by the session setting app.tenant_id;
--     a session without it sees no rows and can write none;
--   * the owner (the migration role the custom resource uses) is not subject to the policies;
--   * child rows reference (id, tenant_id) pairs, so no row can point at another tenant's row.
-- Passwords of the two roles are set by the engine from their own secrets, never in SQL files.
--
-- Shipped in the same release as V001, before any environment holds data, so the constraints below
-- are added in this transaction instead of with CONCURRENTLY / NOT VALID steps.
-- allow: add-unique reason: released with V001; no environment holds rows yet
-- allow: add-foreign-key reason: released with V001; no environment holds rows yet

-- Roles are cluster-wide: create them only where missing (another database may have them).
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'shoppulse_app') THEN
        CREATE ROLE shoppulse_app NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'shoppulse_analytics') THEN
        CREATE ROLE shoppulse_analytics NOLOGIN;
    END IF;
END
$$;

-- (id, tenant_id) keys that children reference ------------------------------------------------

ALTER TABLE orders ADD CONSTRAINT orders_order_id_tenant_id_key UNIQUE (order_id, tenant_id);
ALTER TABLE users ADD CONSTRAINT users_user_id_tenant_id_key UNIQUE (user_id, tenant_id);

ALTER TABLE fulfillment DROP CONSTRAINT fulfillment_order_id_fkey;
ALTER TABLE fulfillment ADD CONSTRAINT fulfillment_order_id_tenant_id_fkey
    FOREIGN KEY (order_id, tenant_id) REFERENCES orders (order_id, tenant_id) ON DELETE CASCADE;

ALTER TABLE governance_rules DROP CONSTRAINT governance_rules_user_id_fkey;
ALTER TABLE governance_rules ADD CONSTRAINT governance_rules_user_id_tenant_id_fkey
    FOREIGN KEY (user_id, tenant_id) REFERENCES users (user_id, tenant_id) ON DELETE CASCADE;

-- SET NULL (user_id) only: the audit row keeps its tenant (PostgreSQL 15+).
ALTER TABLE audit_logs DROP CONSTRAINT audit_logs_user_id_fkey;
ALTER TABLE audit_logs ADD CONSTRAINT audit_logs_user_id_tenant_id_fkey
    FOREIGN KEY (user_id, tenant_id) REFERENCES users (user_id, tenant_id)
    ON DELETE SET NULL (user_id);

-- Privileges -------------------------------------------------------------------------------------

REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO shoppulse_app, shoppulse_analytics;

GRANT SELECT, UPDATE ON tenants TO shoppulse_app;
GRANT SELECT, INSERT, UPDATE, DELETE
    ON users, orders, fulfillment, marketing_campaigns, role_metric_visibility, governance_rules
    TO shoppulse_app;
-- The audit trail is append-only for the application.
GRANT SELECT, INSERT ON audit_logs TO shoppulse_app;
GRANT USAGE ON SEQUENCE fulfillment_fulfillment_id_seq, role_metric_visibility_id_seq
    TO shoppulse_app;

GRANT SELECT
    ON tenants, users, orders, fulfillment, marketing_campaigns, role_metric_visibility,
       governance_rules, audit_logs
    TO shoppulse_analytics;

-- Row-level security: one policy per table, keyed on the session's app.tenant_id ---------------
-- current_setting(..., true) is NULL when unset, and NULL = x is never true: no tenant, no rows.

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON users
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));

ALTER TABLE orders ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON orders
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));

ALTER TABLE fulfillment ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON fulfillment
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));

ALTER TABLE marketing_campaigns ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON marketing_campaigns
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));

ALTER TABLE role_metric_visibility ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON role_metric_visibility
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));

ALTER TABLE governance_rules ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON governance_rules
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));

ALTER TABLE audit_logs ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_logs
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
