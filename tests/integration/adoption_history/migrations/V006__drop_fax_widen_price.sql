ALTER TABLE accounts DROP COLUMN fax;
DROP INDEX accounts_created_idx;
ALTER TABLE products ALTER COLUMN price TYPE numeric(12, 2);
ALTER TABLE products ADD COLUMN "Legacy Code" text;
COMMENT ON COLUMN products."Legacy Code" IS 'from the old shop; do not use';
