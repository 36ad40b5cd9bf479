#ifndef TASKAPI_PREFLIGHT_H
#define TASKAPI_PREFLIGHT_H

#include "config.h"

/*
 * What would stop `taskapi serve` with a valid configuration cfg, if it were
 * started here the way --check-config is (as this user, with these file
 * descriptors), found without opening, binding or connecting anything:
 *
 *  - the root rules and server.user/server.group (privileges_check);
 *  - server.listen empty with no listening socket passed (fd 0, LISTEN_FDS);
 *  - a unix socket path whose folder is missing, or taken by another file;
 *  - socket_owner/socket_group that do not exist;
 *  - auth.mode = remote_user on a listener its socket rule refuses
 *    (auth_socket.h), judged from server.listen and the socket settings;
 *  - log files that cannot be written;
 *  - the TLS files of [database] (ssl_ca, ssl_cert, ssl_key) missing or
 *    unreadable;
 *  - started as root with server.user: files a reload (SIGHUP) reads again
 *    as that user (config_file, the password files) that it cannot read,
 *    and the key files of auth.mode = jwt and the TLS files of
 *    [database], which every worker reads;
 *  - auth.mode = jwt: key files that do not load (jwt_auth_new), so that a
 *    new JWKS file can be checked before the reload that reads it.
 *
 * config_file is the file read (NULL: none). Each finding is one line in
 * warnings. The database is not contacted.
 */
void preflight_check(const struct config *cfg, const char *config_file, struct config_problems *warnings);

#endif
