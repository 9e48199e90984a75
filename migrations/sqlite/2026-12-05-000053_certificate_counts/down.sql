DROP TRIGGER certificate_counts_issued;
DROP TABLE certificate_counts;
