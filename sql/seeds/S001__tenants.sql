-- S001: the three sample tenants.
-- Idempotent: an existing tenant_id is left untouched (no UPDATE, so updated_at never moves).
INSERT INTO tenants (tenant_id, tenant_name, industry, plan_tier, country)
VALUES
    ('T001', 'Fashion Boutique', 'Fashion', 'Premium', 'United States'),
    ('T002', 'Tech Gadgets Inc', 'Electronics', 'Enterprise', 'United States'),
    ('T003', 'Home Decor Co', 'Home & Garden', 'Standard', 'Canada')
ON CONFLICT (tenant_id) DO NOTHING;
