-- SQL-standard function body (PostgreSQL 14+): the semicolons inside belong to it.
CREATE FUNCTION order_total(p_order bigint) RETURNS numeric
    LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT coalesce(sum(i.quantity * p.price), 0)
      FROM order_items i JOIN products p ON p.sku = i.sku
     WHERE i.order_id = p_order;
END;

CREATE VIEW order_totals AS
    SELECT o.id, o.account_id, order_total(o.id) AS total,
           CASE WHEN o.note IS NULL THEN 'no note' ELSE o.note END AS note
      FROM orders o;
