-- Customers became accounts when businesses could sign up.
ALTER TABLE customers RENAME TO accounts;
ALTER TABLE accounts RENAME COLUMN full_name TO display_name;
ALTER TABLE orders RENAME COLUMN customer_id TO account_id;
ALTER INDEX orders_customer_idx RENAME TO orders_account_idx;
ALTER INDEX customers_created_idx RENAME TO accounts_created_idx;
ALTER TRIGGER customers_touch ON accounts RENAME TO accounts_touch;
ALTER TABLE accounts ADD COLUMN kind text NOT NULL DEFAULT 'person'
    CHECK (kind IN ('person', 'business'));
