-- Inspectors find an instrument by the serial number on its plate (GET /api/v1/instruments?serial_number=, DESIGN 9c).
CREATE INDEX instruments_serial_number ON instruments(serial_number);
