#ifndef TASKAPI_B64URL_H
#define TASKAPI_B64URL_H

#include <stddef.h>

/*
 * Strict base64url (RFC 7515 2 and appendix C), the encoding of every part
 * of a JWS and of JWK key material: the alphabet A-Z a-z 0-9 - _, no
 * padding, no white space, and the unused low bits of the last character
 * zero. So one text decodes to one value and one value has one text: a
 * changed character always changes the bytes (a lenient decoder would let
 * "one character changed" in the last place of a signature still verify).
 */

/* The length b64url_decode produces for len characters, or (size_t)-1 when no text has that length. */
size_t b64url_decoded_len(size_t len);

/*
 * Decodes in[0..len) into out (at most outsz bytes). Returns the length, or
 * -1 when the text is not strict base64url or does not fit.
 */
long b64url_decode(const char *in, size_t len, unsigned char *out, size_t outsz);

/* Encodes in[0..len) into out (4 * len / 3 + 2 bytes suffice, plus the NUL); returns the length. */
size_t b64url_encode(const unsigned char *in, size_t len, char *out);

#endif
