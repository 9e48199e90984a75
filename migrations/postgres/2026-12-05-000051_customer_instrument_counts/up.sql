-- How many instruments each customer has, kept by triggers in the transaction of every
-- registration or change of customer (instruments are never deleted): a customer's or a
-- scoped inspector's unfiltered instrument list then counts its total from one row per
-- customer instead of reading every index entry in its scope (issue 19: scoped reads within
-- 1.2x of the same read unscoped).
CREATE TABLE customer_instrument_counts (
    customer_id BIGINT PRIMARY KEY REFERENCES customers(id),
    instruments BIGINT NOT NULL
);

-- Every customer's count at once (the migration, and the benchmark generator after a bulk
-- load with triggers off).
CREATE FUNCTION rebuild_customer_instrument_counts() RETURNS void
LANGUAGE sql AS $$
    DELETE FROM customer_instrument_counts;
    INSERT INTO customer_instrument_counts (customer_id, instruments)
        SELECT customer_id, COUNT(*) FROM instruments WHERE customer_id IS NOT NULL
        GROUP BY customer_id;
$$;

SELECT rebuild_customer_instrument_counts();

CREATE FUNCTION customer_instrument_counts_follow() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.customer_id IS NOT NULL THEN
        UPDATE customer_instrument_counts SET instruments = instruments - 1
            WHERE customer_id = OLD.customer_id;
    END IF;
    IF NEW.customer_id IS NOT NULL THEN
        INSERT INTO customer_instrument_counts (customer_id, instruments)
            VALUES (NEW.customer_id, 1)
            ON CONFLICT (customer_id) DO UPDATE
            SET instruments = customer_instrument_counts.instruments + 1;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER customer_instrument_counts_added AFTER INSERT ON instruments
    FOR EACH ROW WHEN (NEW.customer_id IS NOT NULL)
    EXECUTE FUNCTION customer_instrument_counts_follow();
CREATE TRIGGER customer_instrument_counts_moved AFTER UPDATE OF customer_id ON instruments
    FOR EACH ROW WHEN (OLD.customer_id IS DISTINCT FROM NEW.customer_id)
    EXECUTE FUNCTION customer_instrument_counts_follow();
