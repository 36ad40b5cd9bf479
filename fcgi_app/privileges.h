#ifndef TASKAPI_PRIVILEGES_H
#define TASKAPI_PRIVILEGES_H

#include <stddef.h>
#include <sys/types.h>

#include "config.h"

/*
 * Who taskapi runs as. Started as root, it serves only after switching to
 * server.user (and server.group), which it does once the listening socket is
 * open and the secrets are read, before any worker or thread exists; or, for
 * containers, when server.allow_root is true. Started as any other user it
 * stays that user.
 */

/* Room for one passwd or group entry's strings (getpwnam_r and its kin). */
#define PRIVILEGES_PWBUF_SIZE 4096

/*
 * Start-up check, before anything is opened: refuses root unless server.user
 * or server.allow_root says what to do, refuses a server.user or
 * server.group that does not exist or is root, and refuses server.user when
 * taskapi is not root and runs as someone else (it could not switch).
 * Returns 0, or -1 with a message in err.
 */
int privileges_check(const struct config *cfg, char *err, size_t errlen);

/*
 * When running as root with server.user set: drops the supplementary groups
 * (keeping the user's own from the group database), then the group, then the
 * user, and verifies that root cannot be regained. Without server.user, or
 * when not root, does nothing. Returns 0, or -1 with err (the caller must
 * exit: the process may be half-switched).
 */
int privileges_drop(const struct config *cfg, char *err, size_t errlen);

/*
 * A user given by name or number. *gid gets its primary group, or -1 for a
 * number without a passwd entry. Returns 0, or -1 with err.
 */
int privileges_lookup_user(const char *name, uid_t *uid, gid_t *gid, char *err, size_t errlen);

/* A group given by name or number. Returns 0, or -1 with err. */
int privileges_lookup_group(const char *name, gid_t *gid, char *err, size_t errlen);

#endif
