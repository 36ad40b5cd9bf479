#include "db_config.h"

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
