DROP TABLE user_customers;
