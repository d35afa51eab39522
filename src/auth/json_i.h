/* ajson: a minimal, strict, bounded JSON reader (RFC 8259), private to auth/
 * and its tests.
 *
 * It exists for two small inputs: the ECS metadata service's credential
 * document and the signing test vectors.  Strict means a document either is
 * valid JSON or is refused: no comments, no trailing commas, no leading
 * zeros, no raw control characters, no invalid UTF-8, no lone surrogates.
 * Two more refusals keep callers simple and safe: duplicate member names in
 * one object (which value would a reader believe?) and "\u0000" (so every
 * string is a C string).  Bounded means a caller-given cap on input size and
 * nesting depth; every allocation is proportional to the input.
 *
 * The tree is owned by the root; ajson_free releases all of it.  Nothing
 * here logs, so a document holding secrets never reaches a log.
 */
#ifndef OSSFS_AUTH_JSON_I_H
#define OSSFS_AUTH_JSON_I_H

#include <stdbool.h>
#include <stddef.h>

enum ajson_type {
	AJSON_NULL = 0,
	AJSON_FALSE,
	AJSON_TRUE,
	AJSON_NUMBER,
	AJSON_STRING,
	AJSON_ARRAY,
	AJSON_OBJECT,
};

struct ajson {
	enum ajson_type type;
	char *key;	    /* member name inside an object, else NULL */
	char *text;	    /* STRING: decoded UTF-8; NUMBER: the literal */
	size_t text_len;    /* bytes in text, without the terminator */
	struct ajson *kids; /* ARRAY elements / OBJECT members, in order */
	size_t n_kids;
};

#define AJSON_DEFAULT_MAX_BYTES ((size_t)1 << 20)
#define AJSON_DEFAULT_MAX_DEPTH 32

/* Parse LEN bytes of TEXT (no terminator needed).  max_bytes/max_depth of 0
 * pick the defaults above.  Returns 0 and *out (free with ajson_free), or
 * -EINVAL for a malformed document, -E2BIG past a limit, -ENOMEM.  When
 * err_off is not NULL it receives the byte offset of the first error. */
int ajson_parse(const char *text, size_t len, size_t max_bytes,
		unsigned max_depth, struct ajson **out, size_t *err_off);
void ajson_free(struct ajson *root);

/* Member NAME of an object (NULL when absent or V is not an object). */
const struct ajson *ajson_get(const struct ajson *v, const char *name);
/* Element I of an array or object (NULL when out of range). */
const struct ajson *ajson_at(const struct ajson *v, size_t i);
/* The string of a STRING node, or NULL for any other node or NULL. */
const char *ajson_str(const struct ajson *v);
/* Shorthand: ajson_str(ajson_get(v, name)). */
const char *ajson_get_str(const struct ajson *v, const char *name);
/* A NUMBER node that is a whole number fitting in long long. */
int ajson_int(const struct ajson *v, long long *out);

#endif
