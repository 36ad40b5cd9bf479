#ifndef TASKAPI_TOKEN_CLI_H
#define TASKAPI_TOKEN_CLI_H

#include <stdio.h>

#include "config.h"

/*
 * `taskapi [options] token create|list|revoke ...`: managing taskapi's own
 * bearer tokens (docs/operations.md, "Managing tokens"; taskapi(8)). The
 * commands connect as auth.token_admin_user, an account with rights on
 * api_tokens only, and hash with auth.token_key_file as the server does.
 *
 *   token create --owner NAME --scopes tasks:read[,tasks:write]
 *                [--expires N{s,m,h,d}] [--note TEXT] [--sql]
 *       prints the secret alone on one line of stdout, once; details go to
 *       stderr. --sql connects to nothing: the INSERT goes to stderr, for a
 *       database reached only through a web console (shared hosting).
 *   token list [--owner NAME] [--format text|json]
 *   token revoke ID
 */

/*
 * Where the word "token" stands in argv as the command (after the global
 * options, which main.c's getopt then reads up to there), or argc when the
 * command is another one.
 */
int token_cli_find(int argc, char **argv);

/* Runs the command in argv (the words after "token"). Returns the exit status: 0, 1 or 2 (usage). */
int token_cli_main(const struct config *cfg, int argc, char **argv);

/*
 * A duration as --expires takes it ("30s", "15m", "12h", "90d") in seconds
 * into *seconds; -1 when it is not one or not positive.
 */
int token_cli_duration(const char *text, long long *seconds);

#endif
