-- Replace the trigger function and the orders trigger: touch only when something changed.
CREATE OR REPLACE FUNCTION touch_updated_at() RETURNS trigger
    LANGUAGE plpgsql
AS $touch$
BEGIN
    IF ROW(NEW.*) IS DISTINCT FROM ROW(OLD.*) THEN
        NEW.updated_at := now();  -- $$ in a comment is just text here
    END IF;
    RETURN NEW;
END;
$touch$;

DROP TRIGGER orders_touch ON orders;
CREATE TRIGGER orders_touch BEFORE UPDATE ON orders
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.note IS DISTINCT FROM NEW.note)
    EXECUTE FUNCTION touch_updated_at();
