-- Customers become records (DESIGN 9b, ISO/IEC 17025 4.2: what a customer may see is
-- decided by who the customer is, not by a free-text name). Every distinct free-text name
-- the previous release stored becomes one record, with a generated code (C00001…) an admin
-- can change later; nothing is dropped. instruments.customer stays as the customer's current
-- name (kept in step on rename), so lists and recalls keep reading it; the scope filter
-- reads customer_id.
CREATE TABLE customers (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    code TEXT NOT NULL UNIQUE,
    address TEXT,
    contact_email TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX customers_code_nocase ON customers (lower(code));

INSERT INTO customers (name, code, created_at, updated_at)
SELECT customer, 'MIGRATING-' || customer, to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
       to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
FROM (SELECT DISTINCT customer FROM instruments WHERE customer IS NOT NULL) names ORDER BY customer;
UPDATE customers SET code = 'C' || lpad(id::text, 5, '0');

ALTER TABLE instruments ADD COLUMN customer_id BIGINT REFERENCES customers(id);
UPDATE instruments SET customer_id = c.id FROM customers c WHERE c.name = instruments.customer;
-- The scoped reads (a customer, a scoped inspector) filter on this, with the id order lists use.
CREATE INDEX instruments_customer_id ON instruments(customer_id, id);

-- A certificate keeps the customer name it was issued with (ISO/IEC 17025 7.8.2.1 e: it is
-- printed on the issued PDF, which never changes); a later rename does not reach it.
ALTER TABLE certificates ADD COLUMN customer_name TEXT;
UPDATE certificates SET customer_name = i.customer FROM instruments i WHERE i.id = certificates.instrument_id;
