-- 004: taskapi's own bearer tokens (auth.mode = token; docs/operations.md).
-- A token is stored only as HMAC-SHA-256(auth.token_key_file, secret): this table
-- leaked is no token leaked. prefix is "tka_" and the first 4 characters of the
-- random part, to tell tokens apart in `taskapi token list`; it is not secret.
-- Times are UTC (taskapi sets time_zone = '+00:00' on every connection).
-- `taskapi migrate` then creates auth.token_admin_user with rights on this table
-- only (migrate.c); the application account reads it and writes last_used_at.
CREATE TABLE api_tokens (
    id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    token_hash   BINARY(32)      NOT NULL,
    prefix       VARCHAR(16)     CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    owner        VARBINARY(255)  NOT NULL,
    scopes       VARCHAR(64)     CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    note         VARCHAR(255)    NULL,
    created_at   DATETIME        NOT NULL DEFAULT CURRENT_TIMESTAMP,
    expires_at   DATETIME        NOT NULL,
    last_used_at DATETIME        NULL,
    revoked_at   DATETIME        NULL,
    PRIMARY KEY (id),
    UNIQUE KEY ux_api_tokens_hash (token_hash),
    KEY ix_api_tokens_owner (owner, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
