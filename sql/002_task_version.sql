-- 002: a row version for ETag / If-Match (optimistic concurrency).
-- Every UPDATE made by taskapi increments it in the same statement.
ALTER TABLE tasks ADD COLUMN version INT UNSIGNED NOT NULL DEFAULT 1 AFTER is_completed;
