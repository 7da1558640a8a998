-- Functions, procedures, triggers and rules as a long-lived shop schema grows them.
-- Semicolons in this header; are comments; nothing here is a statement.

CREATE OR REPLACE FUNCTION touch_updated_at() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    NEW.updated_at := now();   -- keep the row's clock; not the caller's
    RETURN NEW;
END;
$$;

CREATE FUNCTION order_total(p_order bigint) RETURNS numeric
    LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    total numeric := 0;
BEGIN
    SELECT coalesce(sum(quantity * unit_price), 0) INTO total
      FROM order_items WHERE order_id = p_order;
    IF total < 0 THEN
        RAISE EXCEPTION 'negative total for %; check refunds', p_order
            USING HINT = 'look at $$ amounts';
    END IF;
    RETURN total;
END
$fn$;

-- SQL-standard bodies (PostgreSQL 14+): the semicolons inside belong to the function.
CREATE FUNCTION tax_for(amount numeric, rate numeric DEFAULT 0.2) RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT round(amount * rate, 2);
END;

CREATE OR REPLACE PROCEDURE archive_orders(cutoff date)
    LANGUAGE sql
BEGIN ATOMIC
    INSERT INTO orders_archive SELECT * FROM orders WHERE created_at < cutoff;
    DELETE FROM orders WHERE created_at < cutoff;
    SELECT CASE WHEN count(*) > 0 THEN 'kept' ELSE 'empty' END FROM orders;
END;

CREATE PROCEDURE noop()
LANGUAGE sql
BEGIN ATOMIC
END;

CREATE FUNCTION greeting(name text) RETURNS text
    LANGUAGE sql
    RETURN 'Grüße, ' || name || '; willkommen';

CREATE FUNCTION slug(t text) RETURNS text LANGUAGE plpgsql AS $é$
BEGIN
    RETURN lower(regexp_replace(t, '[^a-z0-9]+', '-', 'g')); -- $$ is text here
END $é$;

CREATE TRIGGER orders_touch BEFORE UPDATE ON orders
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE RULE orders_log AS ON INSERT TO orders DO ALSO (
    INSERT INTO audit_log (entity, entity_id) VALUES ('order', NEW.id);
    NOTIFY orders_changed
);

CREATE RULE no_delete AS ON DELETE TO audit_log DO INSTEAD NOTHING;

DO $migrate$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT id FROM tenants LOOP
        EXECUTE format($q$UPDATE orders SET tenant = %L WHERE tenant IS NULL;$q$, r.id);
    END LOOP;
END
$migrate$;

DO LANGUAGE plpgsql '
BEGIN
    RAISE NOTICE ''quoted body; still one statement'';
END';

CREATE FUNCTION "Weird;Name"() RETURNS int LANGUAGE sql AS 'SELECT 1';

COMMENT ON FUNCTION order_total(bigint) IS 'Sum of item lines; no tax';
