/* The signing entry points of auth.h: check what every scheme needs, then
 * hand over to the scheme's signer (sign_v1.c, sign_v4.c). */
#include <errno.h>

#include "auth_i.h"

static int check_request(const struct auth_request *req,
			 const struct auth_creds *creds)
{
	if (!req || !req->method || !req->method[0])
		return -EINVAL;
	if (!auth_creds_present(creds))
		return -EINVAL;
	/* A key without a bucket cannot be named in any canonical form. */
	if (req->key && req->key[0] && !(req->bucket && req->bucket[0]))
		return -EINVAL;
	return 0;
}

int auth_sign_headers_debug(enum auth_sig_version v,
			    const struct auth_request *req,
			    const struct auth_creds *creds,
			    struct auth_debug *dbg)
{
	int rc = check_request(req, creds);

	if (rc)
		return rc;
	if (!req->headers)
		return -EINVAL;
	switch (v) {
	case AUTH_SIG_OSS_V4:
		return auth_v4_sign_headers(false, req, creds, dbg);
	case AUTH_SIG_S3_V4:
		return auth_v4_sign_headers(true, req, creds, dbg);
	case AUTH_SIG_OSS_V1:
		return auth_v1_sign_headers(req, creds, dbg);
	}
	return -EINVAL;
}

int auth_sign_headers(enum auth_sig_version v, const struct auth_request *req,
		      const struct auth_creds *creds)
{
	return auth_sign_headers_debug(v, req, creds, NULL);
}

int auth_presign_query_debug(enum auth_sig_version v,
			     const struct auth_request *req,
			     const struct auth_creds *creds, long expires_s,
			     struct buf *out, struct auth_debug *dbg)
{
	int rc = check_request(req, creds);

	if (rc)
		return rc;
	if (!out || expires_s <= 0)
		return -EINVAL;
	switch (v) {
	case AUTH_SIG_OSS_V4:
		return auth_v4_presign(false, req, creds, expires_s, out, dbg);
	case AUTH_SIG_S3_V4:
		return auth_v4_presign(true, req, creds, expires_s, out, dbg);
	case AUTH_SIG_OSS_V1:
		return auth_v1_presign(req, creds, expires_s, out, dbg);
	}
	return -EINVAL;
}

int auth_presign_query(enum auth_sig_version v, const struct auth_request *req,
		       const struct auth_creds *creds, long expires_s,
		       struct buf *out)
{
	return auth_presign_query_debug(v, req, creds, expires_s, out, NULL);
}
