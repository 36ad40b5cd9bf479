/* Unit tests for db_config.c: the [database] section as db_conn's and db_pool's options. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "db_config.h"
#include "unit.h"

/* The configuration's defaults are the pool's own (DB_POOL_DEFAULT_*, defined once). */
START_TEST(test_pool_defaults_agree)
{
	struct config cfg;
	struct db_pool_options from_cfg, own;
	struct db_options opt;

	config_init(&cfg);
	db_config_connection(&cfg, &opt);
	/* Verification is on unless turned off. */
	ck_assert(opt.ssl_verify_server_cert);
	db_config_pool(&cfg, 8, &from_cfg);
	db_pool_options_init(&own, 8);
	ck_assert_uint_eq(from_cfg.size, own.size);
	ck_assert_int_eq(from_cfg.min_idle, own.min_idle);
	ck_assert_uint_eq(from_cfg.acquire_timeout_ms, own.acquire_timeout_ms);
	ck_assert_uint_eq(from_cfg.validation_idle_ms, own.validation_idle_ms);
	ck_assert_uint_eq(from_cfg.max_lifetime_ms, own.max_lifetime_ms);
	ck_assert_uint_eq(from_cfg.keepalive_ms, own.keepalive_ms);
	ck_assert_uint_eq(from_cfg.deadlock_retries, own.deadlock_retries);
	ck_assert_uint_eq(from_cfg.wait_at_start_ms, own.wait_at_start_ms);
	config_release(&cfg);
}
END_TEST

START_TEST(test_settings_map)
{
	struct config cfg;
	struct db_pool_options popt;
	struct db_options opt;
	char err[CONFIG_ERR_SIZE];
	static const char *const pairs[] = {
		"database.socket=/run/db.sock", "database.user=alice", "database.name=things",
		"database.port=3307", "database.connect_timeout_s=3", "database.statement_timeout_ms=750",
		"database.min_idle=2", "database.acquire_timeout_ms=900", "database.validation_idle_ms=10",
		"database.max_lifetime_s=60", "database.keepalive_s=30", "database.deadlock_retries=5",
		"database.wait_at_start_s=7", "database.ssl_ca=/etc/ca.pem", "database.ssl_cert=/etc/c.pem",
		"database.ssl_key=/etc/c.key", "database.ssl_verify_server_cert=false",
	};

	config_init(&cfg);
	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
		ck_assert_msg(config_set_pair(&cfg, pairs[i], err, sizeof err) == 0, "%s: %s", pairs[i], err);
	db_config_connection(&cfg, &opt);
	ck_assert_str_eq(opt.socket, "/run/db.sock");
	ck_assert_str_eq(opt.user, "alice");
	ck_assert_str_eq(opt.database, "things");
	ck_assert_uint_eq(opt.port, 3307);
	ck_assert_uint_eq(opt.connect_timeout_s, 3);
	ck_assert_uint_eq(opt.statement_timeout_ms, 750);
	ck_assert_uint_eq(opt.client_flags, 0);
	ck_assert_str_eq(opt.ssl_ca, "/etc/ca.pem");
	ck_assert_str_eq(opt.ssl_cert, "/etc/c.pem");
	ck_assert_str_eq(opt.ssl_key, "/etc/c.key");
	ck_assert(!opt.ssl_verify_server_cert);
	db_config_pool(&cfg, 4, &popt);
	ck_assert_uint_eq(popt.size, 4);
	ck_assert_int_eq(popt.min_idle, 2);
	ck_assert_uint_eq(popt.acquire_timeout_ms, 900);
	ck_assert_uint_eq(popt.validation_idle_ms, 10);
	ck_assert_uint_eq(popt.max_lifetime_ms, 60000);
	ck_assert_uint_eq(popt.keepalive_ms, 30000);
	ck_assert_uint_eq(popt.deadlock_retries, 5);
	ck_assert_uint_eq(popt.wait_at_start_ms, 7000);
	config_release(&cfg);
}
END_TEST

Suite *unit_suite(void)
{
	return unit_suite_of("db_config", NULL, NULL, test_pool_defaults_agree,
			     test_settings_map);
}
