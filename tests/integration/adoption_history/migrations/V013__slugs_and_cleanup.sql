CREATE FUNCTION slug(t text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
AS $é$
BEGIN
    RETURN lower(regexp_replace(t, E'[^a-z0-9]+', '-', 'g'));
END
$é$;

ALTER TABLE products ADD COLUMN slug text GENERATED ALWAYS AS (slug(title)) STORED;
ALTER TABLE products DROP COLUMN "Legacy Code";
ALTER TABLE accounts ADD COLUMN U&"r\00E9gion" text DEFAULT U&'\00E9;t\00E9';
DROP VIEW order_totals;
DROP FUNCTION order_total(bigint);
CREATE PROCEDURE archive_shipped(cutoff timestamptz)
    LANGUAGE sql
BEGIN ATOMIC
    DELETE FROM shipments WHERE shipped_at < cutoff;
END;
