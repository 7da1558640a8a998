-- query: users for a tenant
SELECT user_id, email, role, status
FROM users
WHERE tenant_id = 'T001' AND status = 'Active'
ORDER BY email;

-- query: orders with fulfillment data
SELECT o.order_id, o.order_date, o.net_revenue,
       f.fulfillment_status, f.sla_met
FROM orders o
LEFT JOIN fulfillment f ON o.order_id = f.order_id
WHERE o.tenant_id = 'T001'
  AND o.order_date >= '2024-01-01'
ORDER BY o.order_date DESC;

-- query: marketing campaign ROI
SELECT campaign_id, channel, spend, revenue_attributed,
       CASE WHEN spend > 0 THEN (revenue_attributed / spend) ELSE 0 END as roi
FROM marketing_campaigns
WHERE tenant_id = 'T001'
  AND date BETWEEN '2024-01-01' AND '2024-12-31'
ORDER BY roi DESC;

-- query: governance rules for a user
SELECT dimension, values
FROM governance_rules
WHERE tenant_id = 'T001' AND user_id = 'U001';

-- query: insert audit log
INSERT INTO audit_logs (tenant_id, user_id, action, resource_type, resource_id, details, ip_address)
VALUES ('T001', 'U001', 'user.created', 'user', 'U002',
        '{"email": "newuser@example.com", "role": "Finance"}'::jsonb,
        '192.168.1.1'::inet);
