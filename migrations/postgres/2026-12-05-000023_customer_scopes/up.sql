-- Whose records a user may see (DESIGN 9b): a `customer` user is bound to exactly one
-- customer, an inspector may be scoped to several; a user with no row here and no
-- `customer` role sees the whole register, as before.
CREATE TABLE user_customers (
    user_id BIGINT NOT NULL REFERENCES users(id),
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    PRIMARY KEY (user_id, customer_id)
);
CREATE INDEX user_customers_customer ON user_customers(customer_id);
