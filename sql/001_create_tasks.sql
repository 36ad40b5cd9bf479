-- 001: the tasks table (the seed's model plus timestamps).
-- Runs on MariaDB >= 10.3 and MySQL >= 5.7 alike. Timestamps are UTC: taskapi
-- sets time_zone = '+00:00' on every connection.
CREATE TABLE tasks (
    id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    title        VARCHAR(50)     NOT NULL,
    description  VARCHAR(255)    NULL,
    is_completed BOOLEAN         NOT NULL DEFAULT 0,
    created_at   DATETIME        NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at   DATETIME        NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    PRIMARY KEY (id),
    KEY ix_tasks_title (title),
    KEY ix_tasks_completed_id (is_completed, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
