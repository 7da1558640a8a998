--
-- A schema as pg_dump --schema-only writes it
--

SET statement_timeout = 0;
SET lock_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET client_min_messages = warning;
SET row_security = off;

CREATE SCHEMA shop;

COMMENT ON SCHEMA shop IS 'shop data; one schema';

CREATE TYPE shop.order_status AS ENUM (
    'pending',
    'paid',
    'shipped'
);

CREATE FUNCTION shop.set_tenant() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
  NEW.tenant_id := current_setting('app.tenant_id')::uuid;
  RETURN NEW;
END;
$$;

SET default_tablespace = '';

SET default_table_access_method = heap;

CREATE TABLE shop.orders (
    id bigint NOT NULL,
    tenant_id uuid NOT NULL,
    status shop.order_status DEFAULT 'pending'::shop.order_status NOT NULL,
    total numeric(12,2) DEFAULT 0 NOT NULL,
    CONSTRAINT orders_total_check CHECK ((total >= (0)::numeric))
);

ALTER TABLE shop.orders ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME shop.orders_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE VIEW shop.order_summary AS
 SELECT status,
    count(*) AS orders,
        CASE
            WHEN (sum(total) > (1000)::numeric) THEN 'big'::text
            ELSE 'small'::text
        END AS size
   FROM shop.orders
  GROUP BY status;

ALTER TABLE ONLY shop.orders
    ADD CONSTRAINT orders_pkey PRIMARY KEY (id);

CREATE INDEX orders_tenant_idx ON shop.orders USING btree (tenant_id, status);

CREATE TRIGGER orders_set_tenant BEFORE INSERT ON shop.orders FOR EACH ROW EXECUTE FUNCTION shop.set_tenant();

ALTER TABLE shop.orders ENABLE ROW LEVEL SECURITY;

CREATE POLICY tenant_only ON shop.orders USING ((tenant_id = (current_setting('app.tenant_id'::text))::uuid));

GRANT USAGE ON SCHEMA shop TO PUBLIC;
