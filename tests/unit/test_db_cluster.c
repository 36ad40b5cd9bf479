/*
 * Unit tests for db_cluster.c: the node list, which node a unit of work goes
 * to, marking nodes down, and the health check. The "mariadb" case (run by
 * tests/e2e/70-pool-unit.sh against the stack's server) puts the live server
 * behind dead nodes; a plain MariaDB has no wsrep, so as a Galera node it is
 * "not ready", which the check must find.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "db_cluster.h"
#include "db_env.h"
#include "unit.h"

static struct db_env env;

static int parse(const char *list, struct db_node_address *out, char *err)
{
	return db_cluster_parse_nodes(list, 3306, out, DB_CLUSTER_MAX_NODES, err, 200);
}

START_TEST(test_parse_nodes)
{
	struct db_node_address a[DB_CLUSTER_MAX_NODES];
	char err[200];

	ck_assert_int_eq(parse("127.0.0.1:3307, db2 ,/run/mysqld/mysqld.sock,[::1]:3310", a, err), 4);
	ck_assert_str_eq(a[0].host, "127.0.0.1");
	ck_assert_uint_eq(a[0].port, 3307);
	ck_assert_str_eq(a[0].name, "127.0.0.1:3307");
	ck_assert_str_eq(a[1].host, "db2");
	ck_assert_uint_eq(a[1].port, 3306); /* the default port */
	ck_assert_str_eq(a[1].name, "db2");
	ck_assert_str_eq(a[2].socket, "/run/mysqld/mysqld.sock");
	ck_assert_str_eq(a[2].host, "");
	ck_assert_str_eq(a[3].host, "::1");
	ck_assert_uint_eq(a[3].port, 3310);
	ck_assert_int_eq(parse("[::1]", a, err), 1);
	ck_assert_uint_eq(a[0].port, 3306);
}
END_TEST

START_TEST(test_parse_nodes_refuses)
{
	static const char *const bad[] = {
		"", " ", "a,,b", "a,", "a:0", "a:65536", "a:12x", "a:", ":3306", "::1:3306", "[::1", "[::1]x",
		"a,b,c,d,e,f,g,h,i", "h:3306, h:3306",
	};
	struct db_node_address a[DB_CLUSTER_MAX_NODES];
	char err[200];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		ck_assert_msg(parse(bad[i], a, err) == -1, "'%s' accepted", bad[i]);
		ck_assert_msg(err[0] != '\0', "'%s': no message", bad[i]);
	}
}
END_TEST

START_TEST(test_topology_names)
{
	enum db_topology t;

	ck_assert_int_eq(db_topology_parse("single", &t), 0);
	ck_assert_int_eq(t, DB_TOPOLOGY_SINGLE);
	ck_assert_int_eq(db_topology_parse("galera", &t), 0);
	ck_assert_int_eq(t, DB_TOPOLOGY_GALERA);
	ck_assert_int_eq(db_topology_parse("primary_replicas", &t), 0);
	ck_assert_int_eq(t, DB_TOPOLOGY_PRIMARY_REPLICAS);
	ck_assert_int_eq(db_topology_parse("Galera", &t), -1);
	ck_assert(db_error_condemns_node(DB_TOPOLOGY_SINGLE, 1047));
	ck_assert(db_error_condemns_node(DB_TOPOLOGY_GALERA, 2013));
	ck_assert(!db_error_condemns_node(DB_TOPOLOGY_GALERA, 1213));
	ck_assert(!db_error_condemns_node(DB_TOPOLOGY_GALERA, 1062));
	/* An error during COMMIT says the node lost the primary component only on Galera. */
	ck_assert(db_error_condemns_node(DB_TOPOLOGY_GALERA, 1180));
	ck_assert(!db_error_condemns_node(DB_TOPOLOGY_PRIMARY_REPLICAS, 1180));
}
END_TEST

/* n nodes; those whose bit is set in live use env's server, the others a socket nobody listens on. */
static struct db_cluster *cluster_of(enum db_topology t, bool causal, size_t n, unsigned live)
{
	struct db_node_address nodes[DB_CLUSTER_MAX_NODES];
	struct db_cluster_options copt = { t, 100, 60000, causal };
	struct db_pool_options popt;
	struct db_cluster *c;
	char err[256];

	memset(nodes, 0, sizeof nodes);
	for (size_t i = 0; i < n; i++) {
		const char *sock = (live >> i) & 1 ? env.opt.socket : db_env_nowhere.socket;

		snprintf(nodes[i].name, sizeof nodes[i].name, "node%zu", i);
		snprintf(nodes[i].socket, sizeof nodes[i].socket, "%s", sock);
	}
	db_pool_options_init(&popt, 2);
	popt.min_idle = 0;
	popt.acquire_timeout_ms = 1000;
	c = db_cluster_new(live ? &env.opt : &db_env_nowhere, &popt, &copt, nodes, n, err, sizeof err);
	ck_assert_msg(c != NULL, "%s", err);
	return c;
}

static enum db_node_state state_of(struct db_cluster *c, size_t i)
{
	struct db_node_stats s;

	db_cluster_node_stats(c, i, &s);
	return s.state;
}

START_TEST(test_single_refuses_several_nodes)
{
	struct db_node_address nodes[2];
	struct db_cluster_options copt = { DB_TOPOLOGY_SINGLE, 500, 3000, true };
	struct db_pool_options popt;
	char err[256] = "";

	memset(nodes, 0, sizeof nodes);
	db_pool_options_init(&popt, 1);
	ck_assert_ptr_null(db_cluster_new(&db_env_nowhere, &popt, &copt, nodes, 2, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "galera"));
}
END_TEST

START_TEST(test_dead_nodes_are_marked_down)
{
	struct db_cluster *c = cluster_of(DB_TOPOLOGY_GALERA, true, 3, 0);
	struct db_lease lease;
	struct db_node_stats s;
	char err[256];

	/* Every node tried in turn, each marked down; the caller gets the failure. */
	ck_assert_int_eq(db_cluster_acquire(c, DB_WRITE, &lease, err, sizeof err), DB_CONNECT_FAILED);
	ck_assert_ptr_null(lease.conn);
	for (size_t i = 0; i < 3; i++) {
		db_cluster_node_stats(c, i, &s);
		ck_assert_int_eq(s.state, DB_NODE_DOWN);
		ck_assert_uint_eq(s.failures, 1);
		ck_assert(!s.writer); /* no healthy node: none is the writer */
	}
	/* Down is a hint: with none healthy, all are tried again (and fail again). */
	ck_assert_int_eq(db_cluster_acquire(c, DB_READ, &lease, err, sizeof err), DB_CONNECT_FAILED);
	db_cluster_node_stats(c, 0, &s);
	ck_assert_uint_eq(s.failures, 1); /* already down: not counted twice */
	ck_assert_uint_eq(s.pool.connect_failures, 2);
	db_cluster_free(c);
}
END_TEST

START_TEST(test_one_node_is_never_marked)
{
	struct db_cluster *c = cluster_of(DB_TOPOLOGY_SINGLE, true, 1, 0);
	struct db_lease lease;
	char err[256];

	ck_assert_int_eq(db_cluster_acquire(c, DB_WRITE, &lease, err, sizeof err), DB_CONNECT_FAILED);
	ck_assert_int_eq(state_of(c, 0), DB_NODE_UP);
	db_cluster_mark_down(c, 0, "test");
	ck_assert_int_eq(state_of(c, 0), DB_NODE_UP);
	db_cluster_free(c);
}
END_TEST

/* ---- against the stack's MariaDB ------------------------------------------------ */

START_TEST(test_writes_move_past_a_dead_first_node)
{
	/* node0 dead, node1 and node2 live: the writer is node1 once node0 failed. */
	struct db_cluster *c = cluster_of(DB_TOPOLOGY_GALERA, true, 3, 0x6);
	struct db_lease lease;
	struct db_node_stats s;
	char err[256];

	ck_assert_int_eq(db_cluster_acquire(c, DB_WRITE, &lease, err, sizeof err), DB_ACQUIRED);
	ck_assert_uint_eq(lease.node, 1);
	/* Galera and causal: the session waits for the cluster on reads. */
	ck_assert_int_eq(db_env_scalar(db_conn_mysql(lease.conn), "SELECT @@session.wsrep_sync_wait"), 1000);
	db_cluster_release(c, &lease);
	ck_assert_int_eq(state_of(c, 0), DB_NODE_DOWN);
	db_cluster_node_stats(c, 1, &s);
	ck_assert(s.writer);
	/* Reads go round robin over the healthy ones: node1 and node2 both serve. */
	bool seen[3] = { false, false, false };
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(db_cluster_acquire(c, DB_READ, &lease, err, sizeof err), DB_ACQUIRED);
		seen[lease.node] = true;
		db_cluster_release(c, &lease);
	}
	ck_assert(!seen[0] && seen[1] && seen[2]);
	db_cluster_free(c);
}
END_TEST

START_TEST(test_primary_replicas_routing)
{
	/* node0 (primary) live, node1 dead, node2 live. */
	struct db_cluster *c = cluster_of(DB_TOPOLOGY_PRIMARY_REPLICAS, false, 3, 0x5);
	struct db_lease lease;
	char err[256];

	ck_assert_int_eq(db_cluster_acquire(c, DB_WRITE, &lease, err, sizeof err), DB_ACQUIRED);
	ck_assert_uint_eq(lease.node, 0);
	db_cluster_release(c, &lease);
	/* Eventual reads: replicas only while one serves; node1's failure moves them to node2. */
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(db_cluster_acquire(c, DB_READ, &lease, err, sizeof err), DB_ACQUIRED);
		ck_assert_uint_eq(lease.node, 2);
		db_cluster_release(c, &lease);
	}
	ck_assert_int_eq(state_of(c, 1), DB_NODE_DOWN);
	db_cluster_free(c);

	/* Causal reads go to the primary. */
	c = cluster_of(DB_TOPOLOGY_PRIMARY_REPLICAS, true, 2, 0x3);
	ck_assert_int_eq(db_cluster_acquire(c, DB_READ, &lease, err, sizeof err), DB_ACQUIRED);
	ck_assert_uint_eq(lease.node, 0);
	db_cluster_release(c, &lease);
	db_cluster_free(c);

	/* With the primary dead, a causal read fails rather than read a replica that may lag... */
	c = cluster_of(DB_TOPOLOGY_PRIMARY_REPLICAS, true, 2, 0x2);
	ck_assert_int_eq(db_cluster_acquire(c, DB_READ, &lease, err, sizeof err), DB_CONNECT_FAILED);
	ck_assert_int_eq(db_cluster_acquire(c, DB_WRITE, &lease, err, sizeof err), DB_CONNECT_FAILED);
	db_cluster_free(c);
	/* ... and an eventual one is served by the replica. */
	c = cluster_of(DB_TOPOLOGY_PRIMARY_REPLICAS, false, 2, 0x2);
	ck_assert_int_eq(db_cluster_acquire(c, DB_READ, &lease, err, sizeof err), DB_ACQUIRED);
	ck_assert_uint_eq(lease.node, 1);
	db_cluster_release(c, &lease);
	db_cluster_free(c);
}
END_TEST

START_TEST(test_health_check_finds_a_server_that_is_not_galera)
{
	/* Two live nodes of a plain MariaDB named as Galera: wsrep_ready is absent, so not ready. */
	struct db_cluster *c = cluster_of(DB_TOPOLOGY_GALERA, true, 2, 0x3);
	struct db_node_stats s;
	struct db_lease lease;
	char err[256];
	long long until = clock_ms() + 5000;

	ck_assert_int_eq(db_cluster_start(c), 0);
	do {
		usleep(50 * 1000);
		db_cluster_node_stats(c, 0, &s);
	} while (s.state != DB_NODE_NOT_READY && clock_ms() < until);
	ck_assert_int_eq(s.state, DB_NODE_NOT_READY);
	ck_assert_uint_ge(s.checks, 1);
	ck_assert_uint_ge(s.check_failures, 1);
	/* Nothing is ready: still tried, in order, rather than refused. */
	ck_assert_int_eq(db_cluster_acquire(c, DB_WRITE, &lease, err, sizeof err), DB_ACQUIRED);
	ck_assert_uint_eq(lease.node, 0);
	db_cluster_release(c, &lease);
	db_cluster_free(c); /* joins the checkers */
}
END_TEST

static void add_pure(TCase *tc)
{
	unit_add(tc, UNIT_TESTS(test_parse_nodes, test_parse_nodes_refuses, test_topology_names,
				test_single_refuses_several_nodes, test_dead_nodes_are_marked_down,
				test_one_node_is_never_marked));
}

static void add_live(TCase *tc)
{
	unit_add(tc, UNIT_TESTS(test_writes_move_past_a_dead_first_node, test_primary_replicas_routing,
				test_health_check_finds_a_server_that_is_not_galera));
}

Suite *unit_suite(void)
{
	return db_env_suite("db_cluster", &env, add_pure, add_live);
}
