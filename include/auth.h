/* auth: credentials and request signing.
 *
 * Signers are pure functions of their inputs (no clock, no globals), so
 * they reproduce the official vectors exactly; callers pass the time.
 * Signing runs on whichever thread builds the request (the I/O thread in
 * practice).  The credential provider is shared between threads and
 * guarded by its own lock; auth_provider_get returns a private copy.
 *
 * No function here ever logs a secret, a signature or an Authorization
 * value; error text names the source (file, variable), never its content.
 */
#ifndef OSSFS_AUTH_H
#define OSSFS_AUTH_H

#include <stdbool.h>
#include <time.h>

#include "base.h"

/* ---- credentials -------------------------------------------------------- */

struct auth_creds {
	char *access_key_id;
	char *access_key_secret;
	char *security_token; /* NULL unless STS */
	time_t expiration;    /* 0 = does not expire */
};

void auth_creds_fini(struct auth_creds *c); /* wipes secrets */
int auth_creds_copy(struct auth_creds *dst, const struct auth_creds *src);
bool auth_creds_present(const struct auth_creds *c);

/* Each loader returns 0 and fills *out, -ENOENT when the source has no
 * credentials (variable unset, file missing, no line for the bucket), or
 * another -errno with a one-line reason in err (which never holds a
 * secret).  err_size may be 0. */

/* OSS_ACCESS_KEY_ID/OSS_ACCESS_KEY_SECRET/OSS_SESSION_TOKEN, then
 * ALIBABA_CLOUD_ACCESS_KEY_ID/..._SECRET/ALIBABA_CLOUD_SECURITY_TOKEN. */
int auth_creds_from_env(struct auth_creds *out, char *err, size_t err_size);
/* passwd-ossfs format: "bucket:ak:sk" (wins for that bucket) or "ak:sk";
 * '#' comments and blank lines ignored.  Permission rules as ossfs 1.x:
 * no "other" bits, no execute bits; group bits allowed only when
 * allow_group_read (for /etc/passwd-ossfs, which may be 0640).  A file that
 * breaks them is -EPERM with a message naming the mode it needs. */
int auth_creds_from_passwd_file(const char *path, const char *bucket,
				bool allow_group_read, struct auth_creds *out,
				char *err, size_t err_size);
/* Parse the ECS metadata service's credential JSON (AccessKeyId,
 * AccessKeySecret, SecurityToken, Expiration, Code == "Success"). */
int auth_creds_from_ecs_json(const char *json, size_t len,
			     struct auth_creds *out, char *err,
			     size_t err_size);

/* A thread-safe holder that hands out the current credentials and
 * refreshes RAM-role credentials in the background well before expiry,
 * keeping the old ones while a refresh fails. */
struct auth_provider;

struct auth_ram_role_config {
	const char *role_name;	  /* NULL or "" = ask the metadata service */
	const char *metadata_url; /* default http://100.100.100.200 */
	long timeout_ms;	  /* per request, default 5000 */
	long refresh_before_s;	  /* default 1200 (20 min) */
};

/* Static credentials (copied). */
struct auth_provider *auth_provider_new_static(const struct auth_creds *c);
/* RAM role: fetches once synchronously (returns NULL and fills err on
 * failure), then a refresher thread renews. */
struct auth_provider *
auth_provider_new_ram_role(const struct auth_ram_role_config *cfg, char *err,
			   size_t err_size);
/* Anonymous: auth_provider_get returns -ENOENT and requests go unsigned. */
struct auth_provider *auth_provider_new_anonymous(void);
/* Copy of the current credentials; caller calls auth_creds_fini. */
int auth_provider_get(struct auth_provider *p, struct auth_creds *out);
/* Ask for a refresh now (after SecurityTokenExpired); non-blocking. */
void auth_provider_kick(struct auth_provider *p);
void auth_provider_free(struct auth_provider *p);

/* ---- signing ------------------------------------------------------------- */

enum auth_sig_version {
	AUTH_SIG_OSS_V4 = 0, /* OSS4-HMAC-SHA256, the default */
	AUTH_SIG_OSS_V1,     /* OSS ak:base64(hmac-sha1) */
	AUTH_SIG_S3_V4,	     /* AWS4-HMAC-SHA256 for S3-compatible endpoints */
};

/* What the signer needs to know of one request.  Keys, bucket, query names
 * and values are raw (not percent-encoded); the signer encodes them as each
 * scheme requires. */
struct auth_request {
	const char *method;	    /* "GET", "PUT", ... */
	const char *bucket;	    /* NULL or "" for service-level */
	const char *key;	    /* NULL or "" for bucket-level */
	const struct kvlist *query; /* raw names and values; may be NULL */
	/* Request headers, as they will be sent.  The signer adds the ones it
	 * owns (see auth_sign_headers). */
	struct kvlist *headers;
	/* V4 only: extra header names to sign (AdditionalHeaders). */
	const char *const *additional_headers;
	size_t n_additional_headers;
	const char *region;  /* "cn-hangzhou"; required for V4 */
	const char *product; /* NULL = "oss" (V4), "s3" (S3 V4) */
	time_t now;	     /* signing time */
	/* S3 V4: the Host header value that will be sent (signed), and the
	 * exact URI path as sent (already encoded, path-style includes the
	 * bucket).  Ignored by the OSS schemes. */
	const char *host;
	const char *s3_uri_path;
	/* S3 V4: hex SHA-256 of the payload, or NULL for UNSIGNED-PAYLOAD. */
	const char *payload_sha256;
	/* V1: extra query names to treat as signed sub-resources. */
	const char *const *extra_subresources;
	size_t n_extra_subresources;
};

/* Add the headers the scheme needs to req->headers (x-oss-date and Date,
 * x-oss-content-sha256, x-oss-security-token; x-amz-date,
 * x-amz-content-sha256, x-amz-security-token for S3) and then
 * Authorization.  Returns 0 or -errno. */
int auth_sign_headers(enum auth_sig_version v, const struct auth_request *req,
		      const struct auth_creds *creds);

/* Presigned URL query: appends the encoded query string (without '?':
 * the request's own query parameters plus the signature parameters) to
 * out.  expires_s is the validity in seconds (V1 adds it to now). */
int auth_presign_query(enum auth_sig_version v, const struct auth_request *req,
		       const struct auth_creds *creds, long expires_s,
		       struct buf *out);

/* Debugging/test aids: the intermediate strings of the last computation
 * are written to these when non-NULL. */
struct auth_debug {
	struct buf *canonical_request;
	struct buf *string_to_sign;
};
int auth_sign_headers_debug(enum auth_sig_version v,
			    const struct auth_request *req,
			    const struct auth_creds *creds,
			    struct auth_debug *dbg);

/* Canonical query string of OSS V4 / S3 V4 (sorted, encoded, empty values
 * as bare names for OSS, "name=" for S3).  Also what the client puts on
 * the wire so the bytes signed are the bytes sent. */
int auth_v4_canonical_query(const struct kvlist *query, bool s3_style,
			    struct buf *out);

/* True when NAME is an OSS V1 signed sub-resource. */
bool auth_v1_is_subresource(const char *name);

#endif
