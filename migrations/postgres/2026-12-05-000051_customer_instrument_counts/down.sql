DROP TABLE customer_instrument_counts;
DROP FUNCTION customer_instrument_counts_follow() CASCADE;
DROP FUNCTION rebuild_customer_instrument_counts();
