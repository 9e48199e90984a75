-- How many instruments each customer has, kept by triggers in the transaction of every
-- registration or change of customer (instruments are never deleted): a customer's or a
-- scoped inspector's unfiltered instrument list then counts its total from one row per
-- customer instead of reading every index entry in its scope (issue 19: scoped reads within
-- 1.2x of the same read unscoped).
CREATE TABLE customer_instrument_counts (
    customer_id INTEGER PRIMARY KEY NOT NULL REFERENCES customers(id),
    instruments BIGINT NOT NULL
);

INSERT INTO customer_instrument_counts (customer_id, instruments)
    SELECT customer_id, COUNT(*) FROM instruments WHERE customer_id IS NOT NULL
    GROUP BY customer_id;

CREATE TRIGGER customer_instrument_counts_added AFTER INSERT ON instruments
WHEN NEW.customer_id IS NOT NULL
BEGIN
    INSERT INTO customer_instrument_counts (customer_id, instruments)
        VALUES (NEW.customer_id, 1)
        ON CONFLICT (customer_id) DO UPDATE SET instruments = instruments + 1;
END;

CREATE TRIGGER customer_instrument_counts_moved AFTER UPDATE OF customer_id ON instruments
WHEN OLD.customer_id IS NOT NEW.customer_id
BEGIN
    UPDATE customer_instrument_counts SET instruments = instruments - 1
        WHERE customer_id = OLD.customer_id;
    INSERT INTO customer_instrument_counts (customer_id, instruments)
        SELECT NEW.customer_id, 1 WHERE NEW.customer_id IS NOT NULL
        ON CONFLICT (customer_id) DO UPDATE SET instruments = instruments + 1;
END;
