/* mem_store: an in-memory oss_store for the upload/ unit tests.
 *
 * Objects and multipart uploads live in arrays under one mutex; every
 * call is counted by kind, the next N calls of a kind can be made to
 * fail, and calls can be held until the test lets them go.  GETs
 * complete inline.
 */
#ifndef OSSFS_MEM_STORE_H
#define OSSFS_MEM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oss.h"

enum mem_op {
	MEM_PUT = 0,
	MEM_GET,
	MEM_COPY,
	MEM_DEL,
	MEM_MP_INIT,
	MEM_MP_PART,
	MEM_MP_PART_COPY,
	MEM_MP_COMPLETE,
	MEM_MP_ABORT,
	MEM_SYMLINK,
	MEM_OP_COUNT
};

struct mem_store;

struct mem_store *mem_store_new(void);
void mem_store_free(struct mem_store *s);
void mem_store_bind(struct mem_store *s, struct oss_store *out);

int mem_store_put(struct mem_store *s, const char *key, const void *data,
		  size_t len);
/* A copy of key's bytes (caller frees) and its metadata; NULL if absent. */
char *mem_store_get(struct mem_store *s, const char *key, size_t *len,
		    struct oss_posix_meta *posix);
size_t mem_store_count_objects(struct mem_store *s);
uint64_t mem_store_count(struct mem_store *s, enum mem_op op);
void mem_store_reset_counts(struct mem_store *s);
/* The next `times` calls of op fail with err (times < 0: until reset). */
void mem_store_fail(struct mem_store *s, enum mem_op op, int err, int times);
/* Hold op: its calls wait at entry until it is let go (on false).  Only
 * MEM_MP_ABORT so far.  wait_held returns once n calls are waiting. */
void mem_store_hold(struct mem_store *s, enum mem_op op, bool on);
void mem_store_wait_held(struct mem_store *s, enum mem_op op, unsigned n);

#endif
