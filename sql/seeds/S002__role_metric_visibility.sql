-- S002: which metrics each role sees, for every seeded tenant (requires S001).
-- The full role x metric matrix is stored, with is_visible false where a role is denied.
-- Admin sees every metric. Idempotent: NOT EXISTS skips existing rows before they draw an
-- identity value (a re-run burns no sequence numbers), ON CONFLICT covers a concurrent run.
INSERT INTO role_metric_visibility (tenant_id, role, metric_name, is_visible)
SELECT t.tenant_id, r.role, m.metric_name, r.is_visible
FROM (VALUES ('T001'), ('T002'), ('T003')) AS t (tenant_id)
CROSS JOIN (
    VALUES
        -- metric_name            finance operations marketing
        ('gross_revenue',         true,   false,     false),
        ('net_revenue',           true,   false,     false),
        ('discount_amount',       true,   false,     true),
        ('average_order_value',   true,   false,     true),
        ('order_count',           true,   true,      false),
        ('return_rate',           true,   true,      false),
        ('fulfillment_rate',      false,  true,      false),
        ('sla_compliance_rate',   false,  true,      false),
        ('average_delivery_days', false,  true,      false),
        ('campaign_spend',        true,   false,     true),
        ('impressions',           false,  false,     true),
        ('clicks',                false,  false,     true),
        ('click_through_rate',    false,  false,     true),
        ('conversions',           false,  false,     true),
        ('conversion_rate',       false,  false,     true),
        ('revenue_attributed',    true,   false,     true),
        ('roi',                   true,   false,     true),
        ('cost_per_acquisition',  true,   false,     true)
) AS m (metric_name, finance, operations, marketing)
CROSS JOIN LATERAL (
    VALUES
        ('Admin', true),
        ('Finance', m.finance),
        ('Operations', m.operations),
        ('Marketing', m.marketing)
) AS r (role, is_visible)
WHERE NOT EXISTS (
    SELECT 1
    FROM role_metric_visibility AS existing
    WHERE existing.tenant_id = t.tenant_id
      AND existing.role = r.role
      AND existing.metric_name = m.metric_name
)
ORDER BY t.tenant_id, r.role, m.metric_name
ON CONFLICT (tenant_id, role, metric_name) DO NOTHING;
