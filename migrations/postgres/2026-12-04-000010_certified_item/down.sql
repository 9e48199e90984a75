ALTER TABLE certificates DROP COLUMN item_serial_number;
ALTER TABLE certificates DROP COLUMN item_model;
ALTER TABLE certificates DROP COLUMN item_manufacturer;
