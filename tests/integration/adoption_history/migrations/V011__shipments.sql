CREATE TABLE shipments (
    order_id bigint PRIMARY KEY REFERENCES orders (id),
    carrier text NOT NULL,
    shipped_at timestamptz NOT NULL DEFAULT now()
);

CREATE VIEW shipped_orders AS
    SELECT o.id, s.carrier FROM orders o JOIN shipments s ON s.order_id = o.id
     WHERE o.status = 'shipped';

CREATE RULE shipment_marks_order AS ON INSERT TO shipments DO ALSO (
    UPDATE orders SET status = 'shipped' WHERE id = NEW.order_id;
    NOTIFY shipments
);
