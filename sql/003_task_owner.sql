-- 003: every task has an owner, and every statement taskapi runs names it
-- (MariaDB has no row-level security). Tasks that existed before belong to
-- auth.default_owner, which `taskapi migrate` puts in @taskapi_default_owner.
--
-- Online: the column is added with that owner as its default, so no row is
-- rewritten (MariaDB >= 10.3 and MySQL >= 8.0.12 add it instantly; MySQL 5.7
-- rebuilds the table in place, without blocking reads or writes). The default
-- stays: taskapi names the owner in every INSERT, and rows an operator adds
-- by hand (an import, a seed script) belong to that same owner. The two
-- indexes are built in place without locking the table. On Galera the ALTERs
-- run in TOI mode and block writes on every node while they run.
SET @taskapi_ddl = CONCAT('ALTER TABLE tasks ADD COLUMN owner VARBINARY(255) NOT NULL DEFAULT ',
                          QUOTE(@taskapi_default_owner));
PREPARE taskapi_add_owner FROM @taskapi_ddl;
EXECUTE taskapi_add_owner;
DEALLOCATE PREPARE taskapi_add_owner;
ALTER TABLE tasks
    ADD INDEX ix_tasks_owner_id (owner, id),
    ADD INDEX ix_tasks_owner_completed_id (owner, is_completed, id),
    ALGORITHM=INPLACE, LOCK=NONE;
