-- 005: Idempotency-Key (docs/ARCHITECTURE.md, "Retrying safely"). One row per key
-- an owner used on a write, claimed in the same transaction as the write and holding
-- the answer it got, so that a retry with the key replays it instead of writing
-- again. fingerprint is SHA-256 over the request (method, target, canonical body,
-- preconditions): the same key with another request is refused. status is 0 only
-- inside the claiming transaction, which fills it before it commits.
-- Rows live until expires_at (idempotency.retention_s after the claim); taskapi
-- treats an expired row as absent and each worker deletes them in batches
-- (idempotency.purge_interval_s), served by ix_idempotency_keys_expires.
-- Times are UTC (taskapi sets time_zone = '+00:00' on every connection). InnoDB with
-- a primary key and no table locks: it runs as is on MySQL 5.7/8 and Galera.
CREATE TABLE idempotency_keys (
    owner       VARBINARY(255)    NOT NULL,
    idem_key    VARBINARY(255)    NOT NULL,
    fingerprint BINARY(32)        NOT NULL,
    status      SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    location    VARBINARY(255)    NULL,
    etag        VARBINARY(64)     NULL,
    body        MEDIUMBLOB        NULL,
    created_at  DATETIME(6)       NOT NULL,
    expires_at  DATETIME(6)       NOT NULL,
    PRIMARY KEY (owner, idem_key),
    KEY ix_idempotency_keys_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
