CREATE TYPE order_status AS ENUM ('new', 'paid');

ALTER TABLE orders ADD COLUMN status order_status NOT NULL DEFAULT 'new';
CREATE INDEX orders_status_idx ON orders (status) WHERE status <> 'paid';
