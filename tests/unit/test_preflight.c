/*
 * Unit tests for preflight.c: each finding that would stop a real start is
 * reported, and a configuration that would start gives none.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "preflight.h"
#include "unit.h"

static char dir[UNIT_DIR_SIZE];

static void setup(void)
{
	unit_dir_make(dir, "preflight");
}

static void teardown(void)
{
	unit_dir_remove(dir);
}

/* Builds a configuration from "section.key=value" pairs (NULL-terminated) and runs the check. */
static size_t check(struct config_problems *w, const char *const *pairs)
{
	struct config cfg;
	char err[CONFIG_ERR_SIZE];

	config_init(&cfg);
	ck_assert_int_eq(config_set_pair(&cfg, "server.allow_root=true", err, sizeof err), 0);
	for (; *pairs != NULL; pairs++)
		ck_assert_msg(config_set_pair(&cfg, *pairs, err, sizeof err) == 0, "%s: %s", *pairs, err);
	config_problems_init(w);
	preflight_check(&cfg, NULL, w);
	config_release(&cfg);
	return config_problems_count(w);
}

static bool says(const struct config_problems *w, const char *text)
{
	for (size_t i = 0; i < w->n; i++)
		if (strstr(w->msg[i], text) != NULL)
			return true;
	return false;
}

START_TEST(test_a_startable_configuration_gives_nothing)
{
	struct config_problems w;
	char listen[UNIT_DIR_SIZE + 32];
	const char *pairs[] = { listen, NULL };

	snprintf(listen, sizeof listen, "server.listen=%s/t.sock", dir);
	ck_assert_msg(check(&w, pairs) == 0, "first warning: %s", w.n ? w.msg[0] : "");
}
END_TEST

START_TEST(test_empty_listen_with_nothing_passed)
{
	struct config_problems w;
	const char *pairs[] = { "server.listen=", NULL };

	ck_assert_uint_ge(check(&w, pairs), 1);
	ck_assert(says(&w, "server.listen is empty"));
}
END_TEST

START_TEST(test_socket_folder_missing_or_path_taken)
{
	struct config_problems w;
	char listen[UNIT_DIR_SIZE + 32], path[UNIT_DIR_SIZE + 16];
	const char *missing[] = { "server.listen=/nonexistent-taskapi-dir/t.sock", NULL };
	const char *taken[] = { listen, NULL };
	FILE *f;

	ck_assert_uint_ge(check(&w, missing), 1);
	ck_assert(says(&w, "its folder '/nonexistent-taskapi-dir' does not exist"));

	snprintf(path, sizeof path, "%s/file", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	snprintf(listen, sizeof listen, "server.listen=%s", path);
	ck_assert_uint_ge(check(&w, taken), 1);
	ck_assert(says(&w, "exists and is not a socket"));
}
END_TEST

START_TEST(test_unknown_socket_owner_and_group)
{
	struct config_problems w;
	char listen[UNIT_DIR_SIZE + 32];
	const char *pairs[] = { listen, "server.socket_owner=no-such-user-taskapi",
				"server.socket_group=no-such-group-taskapi", NULL };

	snprintf(listen, sizeof listen, "server.listen=%s/t.sock", dir);
	ck_assert_uint_eq(check(&w, pairs), 2);
	ck_assert(says(&w, "server.socket_owner:"));
	ck_assert(says(&w, "server.socket_group:"));
}
END_TEST

START_TEST(test_log_file_in_a_missing_folder)
{
	struct config_problems w;
	char listen[UNIT_DIR_SIZE + 32];
	const char *pairs[] = { listen, "log.error_log=/nonexistent-taskapi-dir/error.log", NULL };

	snprintf(listen, sizeof listen, "server.listen=%s/t.sock", dir);
	ck_assert_uint_eq(check(&w, pairs), 1);
	ck_assert(says(&w, "log.error_log '/nonexistent-taskapi-dir/error.log'"));
}
END_TEST

/* auth.mode = jwt: the key files load as a worker would, or the reason is a warning. */
START_TEST(test_jwt_key_files_load)
{
	static const char good[] = "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"ed1\","
				   "\"x\":\"k62UM4Pqf64mr6hzajSTFznIcntVamMQNQKoxoHSQj0\"}]}";
	struct config_problems w;
	char listen[UNIT_DIR_SIZE + 32], jwks[UNIT_DIR_SIZE + 48], path[UNIT_DIR_SIZE + 16];
	const char *pairs[] = { listen, "auth.mode=jwt", jwks, NULL };
	FILE *f;

	snprintf(listen, sizeof listen, "server.listen=%s/t.sock", dir);
	snprintf(path, sizeof path, "%s/jwks.json", dir);
	snprintf(jwks, sizeof jwks, "auth.jwt_jwks_file=%s", path);
	ck_assert_uint_eq(check(&w, pairs), 1);
	ck_assert(says(&w, "auth.jwt_jwks_file '"));
	ck_assert(says(&w, "jwks.json': cannot open it"));
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(good, f);
	fclose(f);
	ck_assert_msg(check(&w, pairs) == 0, "first warning: %s", w.n ? w.msg[0] : "");
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("{\"keys\":[]}", f);
	fclose(f);
	ck_assert_uint_eq(check(&w, pairs), 1);
	ck_assert(says(&w, "jwks.json': no usable key"));
}
END_TEST

/* The TLS files of [database]: missing ones are named; the CA only while it is used to verify. */
START_TEST(test_tls_files)
{
	struct config_problems w;
	char listen[UNIT_DIR_SIZE + 32], ca[UNIT_DIR_SIZE + 32], path[UNIT_DIR_SIZE + 16];
	const char *missing[] = { listen, "database.ssl_ca=/nonexistent-taskapi-dir/ca.pem",
				  "database.ssl_cert=/nonexistent-taskapi-dir/c.pem",
				  "database.ssl_key=/nonexistent-taskapi-dir/c.key", NULL };
	const char *unverified[] = { listen, "database.ssl_ca=/nonexistent-taskapi-dir/ca.pem",
				     "database.ssl_verify_server_cert=false", NULL };
	const char *present[] = { listen, ca, NULL };
	const char *folder[] = { listen, "database.ssl_ca=/", NULL };
	FILE *f;

	snprintf(listen, sizeof listen, "server.listen=%s/t.sock", dir);
	ck_assert_uint_eq(check(&w, missing), 3);
	ck_assert(says(&w, "database.ssl_ca '/nonexistent-taskapi-dir/ca.pem' cannot be read"));
	ck_assert(says(&w, "database.ssl_cert '/nonexistent-taskapi-dir/c.pem' cannot be read"));
	ck_assert(says(&w, "database.ssl_key '/nonexistent-taskapi-dir/c.key' cannot be read"));
	ck_assert_uint_eq(check(&w, unverified), 0);
	ck_assert_uint_eq(check(&w, folder), 1);
	ck_assert(says(&w, "database.ssl_ca '/' is not a file"));
	snprintf(path, sizeof path, "%s/ca.pem", dir);
	snprintf(ca, sizeof ca, "database.ssl_ca=%s", path);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_msg(check(&w, present) == 0, "first warning: %s", w.n ? w.msg[0] : "");
}
END_TEST

Suite *unit_suite(void)
{
	return unit_suite_of("preflight", setup, teardown, test_a_startable_configuration_gives_nothing,
			     test_empty_listen_with_nothing_passed, test_socket_folder_missing_or_path_taken,
			     test_unknown_socket_owner_and_group, test_log_file_in_a_missing_folder, test_tls_files,
			     test_jwt_key_files_load);
}
