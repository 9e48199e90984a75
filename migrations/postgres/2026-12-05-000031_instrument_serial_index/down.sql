DROP INDEX instruments_serial_number;
