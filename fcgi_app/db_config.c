#include "db_config.h"

#include <stdio.h>
#include <string.h>

void db_config_connection(const struct config *cfg, struct db_options *opt)
{
	memset(opt, 0, sizeof *opt);
	opt->socket = cfg->database.socket;
	opt->host = cfg->database.host;
	opt->port = (unsigned)cfg->database.port;
	opt->user = cfg->database.user;
	opt->password = cfg->database.password;
	opt->database = cfg->database.name;
	opt->connect_timeout_s = (unsigned)cfg->database.connect_timeout_s;
	opt->read_timeout_s = (unsigned)cfg->database.read_timeout_s;
	opt->write_timeout_s = (unsigned)cfg->database.write_timeout_s;
	opt->statement_timeout_ms = (unsigned)cfg->database.statement_timeout_ms;
	opt->ssl_ca = cfg->database.ssl_ca;
	opt->ssl_cert = cfg->database.ssl_cert;
	opt->ssl_key = cfg->database.ssl_key;
	opt->ssl_verify_server_cert = cfg->database.ssl_verify_server_cert;
}

void db_config_pool(const struct config *cfg, unsigned size, struct db_pool_options *popt)
{
	db_pool_options_init(popt, size);
	popt->min_idle = cfg->database.min_idle;
	popt->acquire_timeout_ms = (unsigned)cfg->database.acquire_timeout_ms;
	popt->validation_idle_ms = (unsigned)cfg->database.validation_idle_ms;
	popt->max_lifetime_ms = (unsigned)cfg->database.max_lifetime_s * 1000u;
	popt->keepalive_ms = (unsigned)cfg->database.keepalive_s * 1000u;
	popt->deadlock_retries = (unsigned)cfg->database.deadlock_retries;
	popt->wait_at_start_ms = (unsigned)cfg->database.wait_at_start_s * 1000u;
}

int db_config_nodes(const struct config *cfg, struct db_node_address *nodes, char *err, size_t errlen)
{
	char msg[200];
	int n;

	if (cfg->database.nodes[0] == '\0') {
		if (strlen(cfg->database.socket) >= sizeof nodes->socket ||
		    strlen(cfg->database.host) >= sizeof nodes->host) {
			snprintf(err, errlen, "database.host or database.socket is longer than %zu characters",
				 sizeof nodes->host - 1);
			return -1;
		}
		/* One server, named the way the single-server keys name it. */
		memset(nodes, 0, sizeof *nodes);
		if (cfg->database.socket[0] != '\0') {
			snprintf(nodes->socket, sizeof nodes->socket, "%s", cfg->database.socket);
			snprintf(nodes->name, sizeof nodes->name, "%s", cfg->database.socket);
		} else {
			snprintf(nodes->host, sizeof nodes->host, "%s", cfg->database.host);
			nodes->port = (unsigned)cfg->database.port;
			/* A host name too long for the label is cut in the label only. */
			snprintf(nodes->name, sizeof nodes->name, "%.100s:%u", cfg->database.host, nodes->port);
		}
		return 1;
	}
	n = db_cluster_parse_nodes(cfg->database.nodes, (unsigned)cfg->database.port, nodes,
				   DB_CLUSTER_MAX_NODES, msg, sizeof msg);
	if (n < 0) {
		snprintf(err, errlen, "database.nodes: %s", msg);
		return -1;
	}
	return n;
}

struct db_cluster *db_config_cluster(const struct config *cfg, const struct db_pool_options *popt,
				     char *err, size_t errlen)
{
	struct db_node_address nodes[DB_CLUSTER_MAX_NODES];
	struct db_cluster_options copt;
	struct db_options opt;
	int n = db_config_nodes(cfg, nodes, err, errlen);

	if (n < 0)
		return NULL;
	memset(&copt, 0, sizeof copt);
	if (db_topology_parse(cfg->database.topology, &copt.topology) < 0) {
		snprintf(err, errlen, "invalid database.topology '%s'", cfg->database.topology);
		return NULL;
	}
	copt.health_interval_ms = (unsigned)cfg->database.health_interval_ms;
	copt.node_down_ms = (unsigned)cfg->database.node_down_ms;
	copt.causal = strcmp(cfg->database.read_consistency, "eventual") != 0;
	db_config_connection(cfg, &opt);
	return db_cluster_new(&opt, popt, &copt, nodes, (size_t)n, err, errlen);
}
