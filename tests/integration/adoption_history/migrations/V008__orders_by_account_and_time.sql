-- shoppulse:non-transactional
-- Built without blocking writes: orders already held rows when this shipped.
CREATE INDEX CONCURRENTLY orders_account_placed_idx ON orders (account_id, placed_at DESC);
