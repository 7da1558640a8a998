-- V003: composite (tenant_id, ...) indexes for the spec's sample queries at scale.
-- Every query filters on tenant_id (and row-level security adds it anyway), then on a date,
-- status or user: one index serves both. Figures before/after: bench/README.md.
--
-- Shipped in the same release as V001, before any environment holds data, so plain CREATE INDEX
-- inside the transaction keeps a first deploy all-or-nothing; later index migrations on tables with
-- rows use CREATE INDEX CONCURRENTLY alone in a `-- shoppulse:non-transactional` file.
-- allow: create-index reason: released with V001, before any environment holds data

-- Measured at 1M orders over 100 tenants (bench/queries_at_scale.py): (tenant_id, status) makes
-- the status dashboard 6x faster and (tenant_id, order_date) a small tenant's recent orders 2x.
-- (tenant_id, date) on marketing_campaigns, (tenant_id, status) on users and (tenant_id, user_id)
-- on governance_rules changed nothing (a tenant has few such rows, user_id is already selective)
-- and are left out: an index that does not help only slows writes.
CREATE INDEX idx_orders_tenant_id_order_date ON orders (tenant_id, order_date);
CREATE INDEX idx_orders_tenant_id_status ON orders (tenant_id, status);
