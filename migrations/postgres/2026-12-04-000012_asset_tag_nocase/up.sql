-- Asset tags are unique regardless of case (DESIGN section 9): PG-0001 and pg-0001 are one
-- label. Existing clashes are reported by name before this runs (db::run_migrations).
CREATE UNIQUE INDEX instruments_asset_tag_nocase ON instruments (lower(asset_tag));
