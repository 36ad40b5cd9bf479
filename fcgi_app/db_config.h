#ifndef TASKAPI_DB_CONFIG_H
#define TASKAPI_DB_CONFIG_H

#include "config.h"
#include "db_cluster.h"
#include "db_pool.h"

/*
 * The [database] section as db_pool's option structs: the one place that maps
 * configuration keys to connection and pool settings, for the workers, the
 * start-up schema check, CGI mode and migrations alike.
 */

/* How the application user connects (the strings stay owned by cfg). */
void db_config_connection(const struct config *cfg, struct db_options *opt);

/* How a pool of size connections behaves. */
void db_config_pool(const struct config *cfg, unsigned size, struct db_pool_options *popt);

struct db_cluster;

/*
 * The servers of database.topology and database.nodes (or the one server of
 * socket/host/port when nodes is empty), each with a pool of popt. Returns
 * NULL with a message in err when the node list is wrong.
 */
struct db_cluster *db_config_cluster(const struct config *cfg, const struct db_pool_options *popt,
				     char *err, size_t errlen);

/* The node list as configured, into nodes (DB_CLUSTER_MAX_NODES); its length, or -1 with err. */
int db_config_nodes(const struct config *cfg, struct db_node_address *nodes, char *err, size_t errlen);

#endif
