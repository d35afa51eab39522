/* fake_store: an in-memory oss_store for tests of fs/ and of the mount.
 *
 * Objects live in a sorted array; LIST follows ListObjectsV2 (prefix,
 * delimiter, continuation token, start-after, max-keys; Contents come
 * before CommonPrefixes in a page, as in the XML).  Every call is
 * counted by kind, and faults can be injected per kind.  GETs complete
 * inline, when the test says so (manual), or on a worker thread that
 * stands in for the I/O thread.
 */
#ifndef OSSFS_FAKE_STORE_H
#define OSSFS_FAKE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oss.h"

enum fake_op {
	FAKE_HEAD = 0,
	FAKE_LIST,
	FAKE_GET,
	FAKE_GET_SYMLINK,
	FAKE_PUT,
	FAKE_DELETE,
	FAKE_OTHER, /* copy, multipart, PutSymlink, DeleteMultipleObjects */
	FAKE_OP_COUNT
};

enum fake_async_mode {
	FAKE_ASYNC_INLINE, /* get_async completes before it returns */
	FAKE_ASYNC_MANUAL, /* queued until fake_store_run_pending */
	FAKE_ASYNC_THREAD, /* completed by a worker thread */
};

struct fake_store;

int fake_store_new(enum fake_async_mode mode, struct fake_store **out);
/* Completes queued GETs with -ECANCELED, stops the worker, frees. */
void fake_store_free(struct fake_store *f);
/* Fill an oss_store that calls into f (f stays owned by the caller). */
void fake_store_bind(struct fake_store *f, struct oss_store *out);

/* Objects.  mtime of new objects is the fake's clock (settable). */
int fake_store_put(struct fake_store *f, const char *key, const void *data,
		   size_t len);
int fake_store_put_meta(struct fake_store *f, const char *key, const void *data,
			size_t len, const struct oss_posix_meta *posix);
int fake_store_put_symlink(struct fake_store *f, const char *key,
			   const char *target);
int fake_store_delete(struct fake_store *f, const char *key);
void fake_store_set_mtime(struct fake_store *f, time_t sec);
size_t fake_store_object_count(struct fake_store *f);

/* Counters. */
uint64_t fake_store_count(struct fake_store *f, enum fake_op op);
uint64_t fake_store_total(struct fake_store *f); /* every kind */
void fake_store_reset_counts(struct fake_store *f);
/* max-keys and prefix of the last LIST (prefix copied into buf). */
int fake_store_last_list(struct fake_store *f, char *prefix, size_t size);

/* Faults: the next `times` calls of op fail with err (-errno); times < 0
 * means until cleared with times 0. */
void fake_store_fail(struct fake_store *f, enum fake_op op, int err, int times);
/* GETs stop after `after_bytes` of the range and fail with err, as when
 * the server dies mid-body.  err 0 turns it off. */
void fake_store_cut_gets(struct fake_store *f, size_t after_bytes, int err);

/* Every GET of key fails with err (err 0 clears it); up to 8 keys. */
int fake_store_fail_key(struct fake_store *f, const char *key, int err);

/* Manual mode: complete every queued GET on this thread. */
size_t fake_store_run_pending(struct fake_store *f);
size_t fake_store_pending(struct fake_store *f);
/* Thread mode: hold completions back until released (for tests that
 * need several reads to meet on one block). */
void fake_store_hold(struct fake_store *f, bool hold);
/* LISTs are answered at once but wait to return until let go (hold
 * false): a reply in flight while the test changes things.
 * wait_lists_held returns once n LISTs wait. */
void fake_store_hold_lists(struct fake_store *f, bool hold);
void fake_store_wait_lists_held(struct fake_store *f, unsigned n);

#endif
