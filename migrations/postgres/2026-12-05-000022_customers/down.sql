ALTER TABLE certificates DROP COLUMN customer_name;
DROP INDEX instruments_customer_id;
ALTER TABLE instruments DROP COLUMN customer_id;
DROP TABLE customers;
