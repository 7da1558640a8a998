-- Sample rows for tenant T001 so that every query in spec_queries.sql returns rows.
-- Apply after V001 and the seeds (S001 provides tenant T001).
INSERT INTO users (user_id, tenant_id, cognito_user_id, email, first_name, last_name, role, status)
VALUES
    ('U001', 'T001', 'cognito-sub-u001', 'admin@fashionboutique.example', 'Alice', 'Admin',
     'Admin', 'Active'),
    ('U002', 'T001', 'cognito-sub-u002', 'finance@fashionboutique.example', 'Frank', 'Finance',
     'Finance', 'Active'),
    ('U003', 'T001', 'cognito-sub-u003', 'former@fashionboutique.example', 'Fiona', 'Former',
     'Operations', 'Inactive');

INSERT INTO orders (order_id, tenant_id, order_date, store_id, region, gross_revenue,
                    discount_amount, net_revenue, status)
VALUES
    ('ORD-T001-0001', 'T001', '2024-01-15', 'S001', 'WEST', 120.00, 20.00, 100.00, 'Completed'),
    ('ORD-T001-0002', 'T001', '2024-03-02', 'S002', 'EAST', 250.50, 0.00, 250.50, 'Completed'),
    ('ORD-T001-0003', 'T001', '2024-06-20', 'S001', 'WEST', 80.00, 8.00, 72.00, 'Processing'),
    ('ORD-T001-0004', 'T001', '2023-12-30', 'S002', 'EAST', 60.00, 0.00, 60.00, 'Completed');

INSERT INTO fulfillment (order_id, tenant_id, fulfillment_status, carrier, ship_date,
                         promised_delivery_date, delivery_date, sla_met)
VALUES
    ('ORD-T001-0001', 'T001', 'Delivered', 'UPS', '2024-01-16', '2024-01-20', '2024-01-19', true),
    ('ORD-T001-0002', 'T001', 'Delivered', 'DHL', '2024-03-04', '2024-03-07', '2024-03-09', false),
    ('ORD-T001-0004', 'T001', 'Delivered', 'UPS', '2023-12-31', '2024-01-04', '2024-01-03', true);

INSERT INTO marketing_campaigns (campaign_id, tenant_id, campaign_name, channel, date, status,
                                 spend, impressions, clicks, conversions, revenue_attributed)
VALUES
    ('CMP-T001-001', 'T001', 'Spring Sale', 'Email', '2024-03-01', 'Completed',
     500.00, 20000, 800, 40, 2000.00),
    ('CMP-T001-002', 'T001', 'Summer Social', 'Social Media', '2024-06-01', 'Active',
     1200.00, 90000, 2500, 60, 3000.00),
    ('CMP-T001-003', 'T001', 'Organic Blog', 'Content', '2024-08-15', 'Active',
     0.00, 5000, 150, 5, 250.00);

INSERT INTO governance_rules (tenant_id, user_id, dimension, values)
VALUES
    ('T001', 'U001', 'region', ARRAY['WEST', 'EAST']),
    ('T001', 'U001', 'store', ARRAY['S001']),
    ('T001', 'U002', 'region', ARRAY['WEST']);
