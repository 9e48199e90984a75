-- The item as certified (DESIGN section 8): verification answers what the certificate
-- states, not what the register says today (a serial number corrected after issue).
ALTER TABLE certificates ADD COLUMN item_manufacturer TEXT;
ALTER TABLE certificates ADD COLUMN item_model TEXT;
ALTER TABLE certificates ADD COLUMN item_serial_number TEXT;
-- Certificates issued before: the register's values are the best record there is.
UPDATE certificates SET
    item_manufacturer = (SELECT manufacturer FROM instruments WHERE instruments.id = certificates.instrument_id),
    item_model = (SELECT model FROM instruments WHERE instruments.id = certificates.instrument_id),
    item_serial_number = (SELECT serial_number FROM instruments WHERE instruments.id = certificates.instrument_id);
