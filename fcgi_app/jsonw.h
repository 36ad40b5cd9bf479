#ifndef TASKAPI_JSONW_H
#define TASKAPI_JSONW_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/*
 * Writing JSON text straight into a buffer, for the responses on the hot
 * path (tasks and lists of tasks). Building a jansson tree and dumping it
 * cost more than the database round trip (callgrind: jansson, malloc and
 * vfprintf were three quarters of a list request); requests still parse
 * with jansson, and everything off the hot path still builds trees.
 *
 * The output matches jansson's JSON_COMPACT dump byte for byte for the
 * values written here (the unit tests compare them).
 */

/*
 * Appends s[0..len) as a JSON string: quoted, with '"', '\\' and control
 * characters escaped as jansson does. s must be valid UTF-8 (it is passed
 * through as is).
 */
void jsonw_string(struct buf *b, const char *s, size_t len);

/* Appends an unsigned decimal integer. */
void jsonw_uint(struct buf *b, uint64_t value);

/* Appends a literal piece of JSON text (a key with its colon, a comma, ...). */
#define jsonw_lit(b, text) buf_append((b), (text), sizeof(text) - 1)

#endif
