/* auth/ internals shared by its .c files, its unit tests and fuzz targets.
 * Nothing here is part of the module's contract (that is include/auth.h). */
#ifndef OSSFS_AUTH_I_H
#define OSSFS_AUTH_I_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "auth.h"
#include "base.h"

#define AUTH_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define AUTH_SHA256_LEN	      32
#define AUTH_SHA256_HEX_LEN   65 /* with the terminator */

/* ---- small helpers (creds.c) --------------------------------------------- */

/* snprintf into err when err_size > 0; returns rc so callers can
 * "return auth_err(rc, ...)". */
int auth_err(int rc, char *err, size_t err_size, const char *fmt, ...)
	OSSFS_PRINTF(4, 5);
/* Zero a buffer that may have held a secret, then release it. */
void auth_buf_wipe(struct buf *b);
/* free() after zeroing a NUL-terminated secret; NULL is fine. */
void auth_str_wipe(char *s);

/* ---- crypto (sign_util.c) ------------------------------------------------ */

int auth_hmac_sha256(const void *key, size_t key_len, const void *data,
		     size_t len, unsigned char out[AUTH_SHA256_LEN]);
int auth_hmac_sha1_base64(const char *key, const void *data, size_t len,
			  struct buf *out);
int auth_sha256_hex(const void *data, size_t len,
		    char out[AUTH_SHA256_HEX_LEN]);

/* ---- canonical headers (sign_util.c) ------------------------------------- */

/* One header chosen for signing: lower-cased name, trimmed value. */
struct auth_hdr {
	char *name;
	const char *value; /* points into the request's header value */
	size_t value_len;
	size_t order; /* position in the request, keeps repeats in order */
};

struct auth_hdrs {
	struct auth_hdr *v;
	size_t n;
	size_t cap;
};

typedef bool (*auth_hdr_pick_fn)(const char *lname, const void *ctx);

void auth_hdrs_init(struct auth_hdrs *h);
void auth_hdrs_fini(struct auth_hdrs *h);
/* Add every header of LIST (may be NULL) whose lower-cased name PICK
 * accepts, then sort by name (stable). */
int auth_hdrs_collect(struct auth_hdrs *h, const struct kvlist *list,
		      auth_hdr_pick_fn pick, const void *ctx);
/* Add one header (already lower-case) and keep the list sorted. */
int auth_hdrs_add(struct auth_hdrs *h, const char *lname, const char *value);
bool auth_hdrs_has(const struct auth_hdrs *h, const char *lname);
/* "name:value\n" per distinct name, repeated names' values joined by ','.
 * collapse_spaces squeezes inner runs of spaces (the AWS rule). */
int auth_hdrs_canonical(const struct auth_hdrs *h, bool collapse_spaces,
			struct buf *out);
/* Distinct names joined by ';'. */
int auth_hdrs_names(const struct auth_hdrs *h, struct buf *out);

/* ---- query strings (sign_util.c) ----------------------------------------- */

enum auth_query_order {
	AUTH_QUERY_BY_ENCODED, /* canonical: encoded name, then value */
	AUTH_QUERY_BY_RAW,     /* raw name, then insertion order */
};

/* Append "n=v&n2..." of Q (may be NULL), every name and value
 * percent-encoded (unreserved set only); an empty value is the bare name
 * when bare_empty, else "name=". */
int auth_query_encode(const struct kvlist *q, enum auth_query_order order,
		      bool bare_empty, struct buf *out);

/* ---- signers ------------------------------------------------------------- */

int auth_v1_sign_headers(const struct auth_request *req,
			 const struct auth_creds *c, struct auth_debug *dbg);
int auth_v1_presign(const struct auth_request *req, const struct auth_creds *c,
		    long expires_s, struct buf *out, struct auth_debug *dbg);
int auth_v4_sign_headers(bool s3, const struct auth_request *req,
			 const struct auth_creds *c, struct auth_debug *dbg);
int auth_v4_presign(bool s3, const struct auth_request *req,
		    const struct auth_creds *c, long expires_s, struct buf *out,
		    struct auth_debug *dbg);

/* auth_presign_query with the intermediates, for tests. */
int auth_presign_query_debug(enum auth_sig_version v,
			     const struct auth_request *req,
			     const struct auth_creds *creds, long expires_s,
			     struct buf *out, struct auth_debug *dbg);

/* ---- credentials --------------------------------------------------------- */

/* Fill *out with copies of the values after checking each is printable
 * ASCII without spaces (TOKEN may be NULL or "").  SOURCE names the origin
 * in the error message, which never holds a value. */
int auth_creds_set(struct auth_creds *out, const char *id, const char *secret,
		   const char *token, const char *source, char *err,
		   size_t err_size);

/* The passwd-file parser without the file: DATA holds the whole file.
 * SOURCE names it in error messages (a path).  Same returns as
 * auth_creds_from_passwd_file minus the permission checks. */
int auth_passwd_parse_buffer(const char *data, size_t len, const char *bucket,
			     const char *source, struct auth_creds *out,
			     char *err, size_t err_size);

/* One RAM-role credential fetch from the instance metadata service
 * (imds.c).  Blocking; runs on the caller's thread. */
struct auth_imds_config {
	const char *base_url;  /* "http://100.100.100.200", no trailing '/' */
	const char *role_name; /* NULL or "" = discover */
	long timeout_ms;
	/* When not NULL and set, the transfer in progress is abandoned (the
	 * provider is being freed). */
	const atomic_bool *cancel;
};
int auth_imds_fetch(const struct auth_imds_config *cfg, struct auth_creds *out,
		    char *err, size_t err_size);

#endif
