#ifndef TASKAPI_DB_CLUSTER_H
#define TASKAPI_DB_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>

#include "db_conn.h"
#include "db_pool.h"

/*
 * The database servers one taskapi process talks to, and which of them a
 * unit of work goes to. One db_pool per node does the pooling; this module
 * only chooses.
 *
 * - single: one server, exactly as a bare pool; nothing runs in the
 *   background beyond the pool's own threads.
 * - galera: a MariaDB Galera cluster. Writes go to the first healthy node
 *   in the configured order: every instance lists the nodes in the same
 *   order, so they all write through one node and certification conflicts
 *   stay rare. Reads go round robin to the healthy nodes. A node is
 *   healthy when its check answers wsrep_ready = ON, wsrep_local_state = 4
 *   (Synced) and wsrep_cluster_status = Primary. With causal reads every
 *   session runs with wsrep_sync_wait = 1, so a read waits until its node
 *   has applied every write the cluster committed before it.
 * - primary_replicas: the first node takes every write; reads go to the
 *   primary (causal: only there, a lagging replica could miss a write) or
 *   round robin to the healthy replicas (eventual), the primary when none is.
 *
 * Health: with more than one node, a thread per node checks it every
 * health_interval_ms on a connection of its own (bounded by that interval,
 * so a frozen node costs its own thread the wait, never a request). A node
 * that fails its check, refuses a connection, loses one or answers 1047
 * (not part of the primary component) is down for node_down_ms at least,
 * and back once a check passes after that. When no node is healthy, they
 * are all tried in order anyway: a mark is a hint, never a reason to
 * refuse without trying.
 */

enum db_topology { DB_TOPOLOGY_SINGLE = 0, DB_TOPOLOGY_GALERA, DB_TOPOLOGY_PRIMARY_REPLICAS };

/* What a unit of work will do: a write also reads its own writes (same connection). */
enum db_intent { DB_READ = 0, DB_WRITE };

/* The longest node list (nodes beyond it are refused by db_cluster_parse_nodes). */
#define DB_CLUSTER_MAX_NODES 8
/* "host:port" or a socket path, as the node is named in logs and metrics. */
#define DB_NODE_NAME_MAX 128

struct db_node_address {
	char name[DB_NODE_NAME_MAX]; /* as configured */
	char host[DB_NODE_NAME_MAX]; /* "" for a socket */
	unsigned port;
	char socket[DB_NODE_NAME_MAX]; /* "" for TCP */
};

/*
 * Parses "host:port, host:port, /path/sock" ("[v6]:port" too; a host
 * without a port gets default_port). Returns the number of nodes (>= 1),
 * or -1 with a message in err (empty list, bad port, too many nodes, a
 * node twice).
 */
int db_cluster_parse_nodes(const char *list, unsigned default_port, struct db_node_address *out,
			   size_t max, char *err, size_t errlen);

/* Parses "single", "galera", "primary_replicas"; -1 otherwise. */
int db_topology_parse(const char *text, enum db_topology *out);

struct db_cluster_options {
	enum db_topology topology;
	unsigned health_interval_ms;
	unsigned node_down_ms;
	bool causal;                 /* read_consistency = causal */
};

struct db_cluster;

/*
 * A cluster of n nodes (1 for single): each node gets a pool made from opt
 * (its host/port/socket replaced by the node's) and popt. Everything is
 * copied. Connects nothing yet. Returns NULL with err when the options
 * cannot work (e.g. single with more than one node).
 */
struct db_cluster *db_cluster_new(const struct db_options *opt, const struct db_pool_options *popt,
				  const struct db_cluster_options *copt,
				  const struct db_node_address *nodes, size_t n, char *err, size_t errlen);

/*
 * Starts each pool's housekeeping and, with several nodes, the health
 * threads. Call once in the process that serves. Returns 0 or -1 (then it
 * still works, without some background upkeep).
 */
int db_cluster_start(struct db_cluster *cluster);

/* Stops the threads and frees everything; every lease must be back. Safe with NULL. */
void db_cluster_free(struct db_cluster *cluster);

/* A borrowed connection and where it came from. */
struct db_lease {
	struct db_conn *conn;  /* NULL when nothing is borrowed */
	unsigned node;
	enum db_intent intent;
};

/*
 * Borrows a connection for intent on the node the topology picks, moving
 * on to the next candidate when a node cannot give one (its connect fails:
 * that node is marked down), all within the acquire timeout of the pool
 * options. Same statuses as db_pool_acquire; on failure err says why.
 */
enum db_acquire_status db_cluster_acquire(struct db_cluster *cluster, enum db_intent intent,
					  struct db_lease *out, char *err, size_t errlen);

/* db_pool_acquire_at_start on the node that intent picks first (start-up checks). */
enum db_acquire_status db_cluster_acquire_at_start(struct db_cluster *cluster, enum db_intent intent,
						   struct db_lease *out, char *err, size_t errlen);

/*
 * Gives the lease back. When its connection saw an error that condemns the
 * node (lost connection, 1047), the node is marked down first. Safe when
 * nothing is borrowed.
 */
void db_cluster_release(struct db_cluster *cluster, struct db_lease *lease);

/*
 * True for an error after which the node, not just the statement, is
 * unusable and nothing was applied: 1047 (not in the primary component), a
 * lost connection, and on Galera 1180 (a COMMIT refused by a node that lost
 * the primary component: it cannot commit anything).
 */
bool db_error_condemns_node(enum db_topology topology, unsigned err);

/* Marks a node down for node_down_ms (why goes to the log when it was up). */
void db_cluster_mark_down(struct db_cluster *cluster, unsigned node, const char *why);

size_t db_cluster_n_nodes(const struct db_cluster *cluster);
enum db_topology db_cluster_topology(const struct db_cluster *cluster);

enum db_node_state {
	DB_NODE_UP = 0,    /* healthy (or, with one node, not known to be down) */
	DB_NODE_DOWN,      /* failed; skipped until node_down_ms passed and a check succeeds */
	DB_NODE_NOT_READY  /* answers, but is not Synced/ready/Primary (Galera), so it is skipped */
};

struct db_node_stats {
	const char *name;             /* borrowed from the cluster */
	enum db_node_state state;
	bool writer;                  /* where the next write goes */
	unsigned long long failures;  /* times it was marked down */
	unsigned long long checks;    /* health checks run */
	unsigned long long check_failures;
	struct db_pool_stats pool;
};

/* A snapshot of node i (< db_cluster_n_nodes). */
void db_cluster_node_stats(struct db_cluster *cluster, size_t i, struct db_node_stats *out);

/* The pools' figures added up over every node (what /status "db_pool" shows). */
void db_cluster_pool_stats(struct db_cluster *cluster, struct db_pool_stats *out);

const char *db_node_state_name(enum db_node_state state);

#endif
