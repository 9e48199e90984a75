DROP TRIGGER certificate_counts_issued ON certificates;
DROP FUNCTION certificate_counts_follow();
DROP FUNCTION rebuild_certificate_counts();
DROP TABLE certificate_counts;
