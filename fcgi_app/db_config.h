#ifndef TASKAPI_DB_CONFIG_H
#define TASKAPI_DB_CONFIG_H

#include "config.h"
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

#endif
