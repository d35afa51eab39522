/* oss: the object-store client.
 *
 * struct oss_store is an interface (a table of function pointers) so that
 * fs/ can run against the real client (oss_client_new), an in-memory fake
 * or a fault-injecting wrapper.  Synchronous operations block the calling
 * thread (a FUSE worker) on one request through the engine; asynchronous
 * ones (GET, upload part) call back on the I/O thread.
 *
 * Every operation returns 0 or -errno; when err is non-NULL it receives
 * the HTTP status, the OSS error code and the request id.  The one table
 * that maps OSS codes and HTTP statuses to errno is oss_errno_for.
 *
 * Keys are raw UTF-8 bytes, never percent-encoded by the caller.
 */
#ifndef OSSFS_OSS_H
#define OSSFS_OSS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "auth.h"
#include "base.h"

struct http_engine;

/* ---- errors -------------------------------------------------------------- */

struct oss_error {
	long http_status; /* 0 for transport errors */
	char code[64];	  /* "NoSuchKey"; "" if none */
	char message[256];
	char request_id[64];
	char ec[32];
};

void oss_error_clear(struct oss_error *e);
/* The one mapping table: OSS code (may be NULL/"") + HTTP status -> -errno. */
int oss_errno_for(const char *code, long http_status);
/* Parse an <Error> body into e (fields missing stay empty). */
int oss_error_parse_xml(const char *xml, size_t len, struct oss_error *e);
/* Fill e from a response: body XML, else base64 x-oss-err header, else
 * x-oss-ec / status only.  Returns oss_errno_for of the result. */
int oss_error_from_response(long status, const struct kvlist *resp_headers,
			    const char *body, size_t body_len,
			    struct oss_error *e);
/* "NoSuchBucket (HTTP 404, request id X)" style one-liner for messages. */
void oss_error_describe(const struct oss_error *e, char *out, size_t size);

/* ---- objects and listings ----------------------------------------------- */

enum oss_object_type {
	OSS_OBJ_NORMAL = 0,
	OSS_OBJ_MULTIPART,
	OSS_OBJ_APPENDABLE,
	OSS_OBJ_SYMLINK,
};

/* x-oss-meta-mode/-uid/-gid/-mtime as ossfs 1.x writes them. */
struct oss_posix_meta {
	bool has_mode, has_uid, has_gid, has_mtime;
	uint32_t mode; /* full st_mode including type bits when present */
	uint32_t uid, gid;
	struct timespec mtime;
};

struct oss_object_meta {
	uint64_t size;
	struct timespec mtime; /* Last-Modified */
	char etag[80];	       /* as sent, with quotes stripped */
	enum oss_object_type type;
	bool has_crc64;
	uint64_t crc64;
	char content_type[128];
	struct oss_posix_meta posix;
	char *symlink_target; /* owned; GetSymlink only */
};
void oss_object_meta_fini(struct oss_object_meta *m);
/* Fill from response headers (Content-Length, ETag, Last-Modified,
 * x-oss-object-type, x-oss-hash-crc64ecma, x-oss-meta-*, or x-amz-meta-*
 * in S3 mode). */
int oss_object_meta_from_headers(const struct kvlist *h, bool s3,
				 struct oss_object_meta *m);

struct oss_list_entry {
	char *key;	/* full key, decoded; owned */
	bool is_prefix; /* a CommonPrefixes entry (ends in delimiter) */
	uint64_t size;
	struct timespec mtime;
	char etag[80];
	enum oss_object_type type;
};

struct oss_list_page {
	struct oss_list_entry *entries;
	size_t n;
	size_t cap;
	bool truncated;
	char *next_token; /* NextContinuationToken (V2) or NextMarker (V1);
			     owned */
};
void oss_list_page_init(struct oss_list_page *p);
void oss_list_page_fini(struct oss_list_page *p);
/* Parse a ListBucketResult body (V1 or V2, decoding when EncodingType is
 * url).  -EPROTO on malformed XML. */
int oss_list_parse_xml(const char *xml, size_t len, struct oss_list_page *out);

struct oss_list_params {
	const char *prefix;    /* raw; may be NULL */
	const char *delimiter; /* "/" or NULL */
	const char *token;     /* continuation token from the previous page */
	const char *start_after;
	int max_keys; /* 1..1000; 0 = 1000 */
};

/* ---- multipart ------------------------------------------------------------
 */

struct oss_part {
	int number;
	char etag[80];
};
/* InitiateMultipartUploadResult -> upload id (owned). */
int oss_mp_parse_initiate_xml(const char *xml, size_t len, char **upload_id);
/* CompleteMultipartUpload request body. */
int oss_mp_build_complete_xml(const struct oss_part *parts, size_t n,
			      struct buf *out);
/* CompleteMultipartUploadResult / CopyObjectResult / CopyPartResult ->
 * ETag (quotes stripped).  A 200 whose body is an <Error> is reported as
 * that error (-errno, e filled). */
int oss_parse_etag_result_xml(const char *xml, size_t len, char *etag,
			      size_t etag_size, struct oss_error *e);
/* DeleteMultipleObjects body (keys XML-escaped) and result (keys that
 * failed, if any, are counted in *failed). */
int oss_build_delete_xml(const char *const *keys, size_t n, bool quiet,
			 struct buf *out);
int oss_parse_delete_result_xml(const char *xml, size_t len, size_t *failed);

/* ---- the interface --------------------------------------------------------
 */

/* Asynchronous GET result, delivered on the I/O thread.  data points into
 * the request's buffer (or dest) and is valid only during the call. */
struct oss_get_result {
	int err; /* 0 or -errno */
	struct oss_error oerr;
	const char *data;
	size_t len;
	uint64_t object_size;	     /* from Content-Range / Content-Length */
	struct oss_object_meta meta; /* headers of the response; fini'd after */
};
typedef void (*oss_get_cb)(const struct oss_get_result *res, void *ud);

/* Log at warn level why the GET of key failed, for a reader who only
 * gets EIO or EACCES: the server's answer (oss_error_describe) or the
 * errno of a transport failure, and for InvalidObjectState that the
 * object is archived.  Returns false, logging nothing, for what is no
 * failure to report: success, a cancelled GET (a closed file, unmount)
 * or ESTALE (the object changed). */
bool oss_get_log_failure(const char *key, const struct oss_get_result *res);

struct oss_get_params {
	const char *key;
	uint64_t offset;
	uint64_t len;	      /* 0 = to the end (whole object when offset 0) */
	const char *if_match; /* ETag (unquoted) or NULL */
	int priority;	      /* enum http_priority */
	uint64_t cancel_tag;
	void *dest; /* optional caller memory of dest_cap bytes */
	size_t dest_cap;
	bool verify_crc64; /* whole-object GET: check x-oss-hash-crc64ecma */
};

struct oss_put_params {
	const char *key;
	const void *data; /* memory body, or */
	int fd;		  /* file body: -1 when data is used */
	off_t fd_offset;
	uint64_t len;
	const char *content_type; /* NULL = application/octet-stream */
	const struct oss_posix_meta *posix; /* NULL = none */
	const struct kvlist
		*user_meta; /* extra meta name (without prefix) -> value */
	bool forbid_overwrite;
	char etag_out[80]; /* filled on success */
};

struct oss_store_ops {
	int (*head)(void *impl, const char *key, struct oss_object_meta *out,
		    struct oss_error *err);
	int (*list)(void *impl, const struct oss_list_params *p,
		    struct oss_list_page *out, struct oss_error *err);
	/* Async.  0 = submitted (cb will run exactly once), -errno = not
	 * submitted (cb will not run). */
	int (*get_async)(void *impl, const struct oss_get_params *p,
			 oss_get_cb cb, void *ud);
	int (*put)(void *impl, struct oss_put_params *p, struct oss_error *err);
	/* Server-side copy; with posix/meta given the metadata is REPLACEd. */
	int (*copy)(void *impl, const char *src_key, const char *dst_key,
		    const struct oss_posix_meta *posix,
		    const char *content_type, struct oss_error *err);
	int (*del)(void *impl, const char *key, struct oss_error *err);
	int (*del_multi)(void *impl, const char *const *keys, size_t n,
			 struct oss_error *err);
	int (*mp_init)(void *impl, const char *key, const char *content_type,
		       const struct oss_posix_meta *posix, char **upload_id,
		       struct oss_error *err);
	int (*mp_upload_part)(void *impl, const char *key,
			      const char *upload_id, int part_number,
			      const void *data, int fd, off_t fd_offset,
			      uint64_t len, char *etag_out, size_t etag_size,
			      struct oss_error *err);
	int (*mp_upload_part_copy)(void *impl, const char *src_key,
				   const char *key, const char *upload_id,
				   int part_number, uint64_t src_offset,
				   uint64_t len, char *etag_out,
				   size_t etag_size, struct oss_error *err);
	int (*mp_complete)(void *impl, const char *key, const char *upload_id,
			   const struct oss_part *parts, size_t n,
			   struct oss_error *err);
	int (*mp_abort)(void *impl, const char *key, const char *upload_id,
			struct oss_error *err);
	/* Native OSS symlink (S3 mode: an object whose body is the target
	 * with mode S_IFLNK in metadata). */
	int (*put_symlink)(void *impl, const char *key, const char *target,
			   const struct oss_posix_meta *posix,
			   struct oss_error *err);
	int (*get_symlink)(void *impl, const char *key, char **target,
			   struct oss_error *err);
	/* GetSymlink with the link's own Last-Modified, ETag and
	 * x-oss-meta-* in out (HEAD would follow the link), the target in
	 * out->symlink_target (owned: oss_object_meta_fini).  May be NULL
	 * in a store that cannot. */
	int (*get_symlink_meta)(void *impl, const char *key,
				struct oss_object_meta *out,
				struct oss_error *err);
	/* Start-up check: proves endpoint, bucket and credentials work. */
	int (*probe)(void *impl, struct oss_error *err);
	void (*destroy)(void *impl);
};

struct oss_store {
	const struct oss_store_ops *ops;
	void *impl;
};

/* ---- the real client -------------------------------------------------------
 */

struct oss_client_config {
	const char *url; /* scheme://host[:port] of the endpoint */
	const char *bucket;
	const char *region; /* NULL = derive from oss-<region>.aliyuncs.com */
	enum auth_sig_version sig;   /* OSS_V4 default, OSS_V1, or S3_V4 */
	bool path_style;	     /* forced on for IP/localhost endpoints */
	struct auth_provider *creds; /* not owned; NULL = anonymous */
	struct http_engine *engine;  /* not owned */
};

/* Returns 0 and fills *out, or -errno with a reason in err. */
int oss_client_new(const struct oss_client_config *cfg, struct oss_store *out,
		   char *err, size_t err_size);
/* Derive the region id from a standard endpoint host, or NULL. */
int oss_region_from_endpoint(const char *host, char *out, size_t size);

/* Convenience wrappers: s->ops->x(s->impl, ...). */
static inline int oss_head(struct oss_store *s, const char *key,
			   struct oss_object_meta *m, struct oss_error *e)
{
	return s->ops->head(s->impl, key, m, e);
}
static inline int oss_list(struct oss_store *s, const struct oss_list_params *p,
			   struct oss_list_page *out, struct oss_error *e)
{
	return s->ops->list(s->impl, p, out, e);
}
static inline int oss_get_async(struct oss_store *s,
				const struct oss_get_params *p, oss_get_cb cb,
				void *ud)
{
	return s->ops->get_async(s->impl, p, cb, ud);
}
static inline void oss_store_destroy(struct oss_store *s)
{
	if (s->ops && s->ops->destroy)
		s->ops->destroy(s->impl);
	s->ops = NULL;
	s->impl = NULL;
}

#endif
