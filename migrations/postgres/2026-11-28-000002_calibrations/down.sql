DROP TABLE cmcs;
DROP TABLE certificate_counters;
DROP TABLE calibration_standards;
DROP TABLE calibrations;
