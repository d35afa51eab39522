/* upload private: the manager, staged files, the journal, transfers.
 *
 * LOCK ORDERING: m->mu only; nothing else nests in it.  Journal writes
 * and removals happen under m->mu (they are small local file
 * operations), transfers never do.
 */
#ifndef OSSFS_UPLOAD_I_H
#define OSSFS_UPLOAD_I_H

#include <pthread.h>

#include "base.h"
#include "upload.h"

/* The first bytes of every staged file hold its journal record (see
 * staging.c); the content starts here. */
#define UPLOAD_HDR_BYTES 4096

enum uf_state {
	UF_IDLE = 0,
	UF_QUEUED,  /* waiting for due_ms (and for writers to let go) */
	UF_RUNNING, /* a worker is uploading it */
};

struct upload_file {
	struct upload_mgr *m;
	struct upload_file *prev, *next; /* m->files; guarded by: m->mu */
	char id[40];			 /* file name: ID.data */
	int fd;
	/* guarded by: m->mu */
	char *key;
	struct oss_posix_meta posix;
	uint64_t size; /* the staged file's length */
	uint64_t gen;  /* bumped by every change */
	uint64_t stored_gen;
	uint64_t failed_gen; /* gen of the last failed attempt */
	uint64_t attempts_done;
	int last_err;
	unsigned failures; /* consecutive */
	unsigned drain_failures;
	bool journaled; /* the header holds a record */
	bool discarded;
	bool remote;	     /* an object is stored under key */
	bool owned;	     /* fs/ still refers to it */
	bool seq;	     /* written from empty, every write at the end */
	bool mtime_implicit; /* posix.mtime is from writes, not utimes */
	struct upload_stream *stream; /* stream.c */
	/* A multipart upload a killed daemon left unfinished (from the
	 * journal): aborted before the file is uploaded again. */
	char *orphan_upload_id;
	unsigned holds;
	unsigned syncers; /* upload_file_sync callers waiting */
	enum uf_state state;
	uint64_t due_ms;
	void *owner;
};

struct upload_mgr {
	struct upload_config cfg;
	struct oss_store *store;
	char *dir;
	int lock_fd;
	pthread_mutex_t mu;
	pthread_cond_t work_cv;	     /* workers: something may be due */
	pthread_cond_t done_cv;	     /* waiters: an attempt finished */
	struct upload_file *files;   /* guarded by: mu */
	bool stopping;		     /* guarded by: mu */
	bool draining;		     /* guarded by: mu */
	uint64_t next_id;	     /* guarded by: mu */
	size_t streams;		     /* guarded by: mu; files with a stream */
	struct upload_stats st;	     /* guarded by: mu (counters) */
	upload_listener_fn listener; /* guarded by: mu */
	void *listener_ud;
	unsigned notifying; /* guarded by: mu; listener calls running */
	pthread_t *threads;
	unsigned nthreads;
	void (*charge)(void *ud, int64_t bytes); /* set before use; or NULL */
	void *charge_ud;
};

static inline bool uf_dirty(const struct upload_file *f)
{
	return !f->discarded && f->stored_gen != f->gen;
}

/* Free f when nobody needs it any more (upload.c).  Caller holds mu. */
void upload_maybe_destroy(struct upload_mgr *m, struct upload_file *f,
			  bool shutdown);

/* ---- staging.c: the directory and the journal ---- */
int upload_dir_open(struct upload_mgr *m);
void upload_dir_close(struct upload_mgr *m);
/* Create ID.data for a new file (fills f->id, f->fd).  Caller holds mu. */
int upload_stage_create(struct upload_mgr *m, struct upload_file *f);
/* (Re)write the record in the header from f's key and posix.  Caller
 * holds mu. */
int upload_journal_write(struct upload_file *f);
/* Blank the record (stored or discarded) / remove the file.  Caller
 * holds mu. */
void upload_journal_remove(struct upload_file *f);
void upload_stage_remove(struct upload_file *f);
/* Queue every staged file found in the directory.  Caller holds no
 * lock; workers are not running yet. */
size_t upload_recover(struct upload_mgr *m);
/* Link a new file into m->files.  Caller holds mu. */
void upload_link(struct upload_mgr *m, struct upload_file *f);

/* ---- stream.c: parts sent while the file is written (mu held) ---- */
struct upload_stream;
/* After a write at off that found the file old_size long. */
void upload_stream_on_write(struct upload_mgr *m, struct upload_file *f,
			    uint64_t off, uint64_t old_size);
void upload_stream_cancel(struct upload_file *f);
bool upload_stream_busy(const struct upload_file *f);
bool upload_stream_active(const struct upload_file *f);
/* The upload ID of f's running multipart upload, or NULL.  Caller holds
 * mu. */
const char *upload_stream_id(const struct upload_file *f);
/* Run one stream job if there is one (drops mu while it runs). */
bool upload_stream_work(struct upload_mgr *m);
/* Detach f's stream, if any, once its jobs are done (the caller owns
 * it: finish it if upload_stream_usable, else upload_stream_abort it,
 * with no lock held). */
struct upload_stream *upload_stream_take(struct upload_mgr *m,
					 struct upload_file *f);
bool upload_stream_usable(const struct upload_stream *st, const char *key);
void upload_stream_abort(struct upload_mgr *m, struct upload_stream *st);
/* Send the rest of fd (size bytes) and complete.  No lock held; frees
 * st. */
int upload_stream_finish(struct upload_mgr *m, struct upload_stream *st, int fd,
			 uint64_t size, const struct oss_posix_meta *posix,
			 bool mtime_implicit);
/* Forget the stream without aborting it (shutdown). */
void upload_stream_drop(struct upload_file *f);

/* ---- transfer.c: moving bytes ---- */
/* Upload size bytes of fd as key with posix.  *multipart says which way
 * it went; etag is "" after a multipart upload. */
int upload_transfer(struct upload_mgr *m, int fd, const char *key,
		    const struct oss_posix_meta *posix, uint64_t size,
		    char *etag, size_t etag_size, bool *multipart);
/* Fill fd with size bytes of key (version etag) by ranged GETs. */
int upload_fetch_into(struct upload_mgr *m, int fd, const char *key,
		      const char *etag, uint64_t size);
/* The part size for an object of size bytes. */
uint64_t upload_part_size(const struct upload_config *cfg, uint64_t size);

#endif
