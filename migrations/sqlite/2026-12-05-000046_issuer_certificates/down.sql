DROP TABLE issuer_certificates;
