/* Region ids from standard OSS endpoint host names (oss-protocol.md §1.1):
 *
 *   oss-cn-hangzhou.aliyuncs.com             public
 *   oss-cn-hangzhou-internal.aliyuncs.com    internal (ECS/VPC)
 *   s3.oss-cn-hangzhou[-internal].aliyuncs.com  S3-compatible
 *   cn-hangzhou.oss.aliyuncs.com             dual-stack
 *   bucket.<any of the above>                virtual-hosted
 *
 * Acceleration endpoints and anything else (CNAMEs, IPs, test servers)
 * name no region: the user must give one for V4 signing.
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "oss_i.h"

#define HOST_MAX 256

static const char domain[] = ".aliyuncs.com";

/* Lower-cased host without scheme, port, path or trailing dot. */
static int host_only(const char *in, char out[HOST_MAX])
{
	size_t n = 0;

	if (strncasecmp(in, "https://", 8) == 0)
		in += 8;
	else if (strncasecmp(in, "http://", 7) == 0)
		in += 7;
	while (in[n] && in[n] != ':' && in[n] != '/') {
		if (n + 1 >= HOST_MAX)
			return -EINVAL;
		out[n] = (char)tolower((unsigned char)in[n]);
		n++;
	}
	if (n && out[n - 1] == '.')
		n--;
	out[n] = '\0';
	return n ? 0 : -EINVAL;
}

static bool valid_region(const char *r, size_t n)
{
	if (n == 0 || r[0] == '-' || r[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)r[i]) &&
		    !isdigit((unsigned char)r[i]) && r[i] != '-')
			return false;
	return true;
}

/* The last dot-separated label of rest[0..n). */
static const char *last_label(const char *rest, size_t n, size_t *llen)
{
	const char *label = rest + n;

	*llen = 0;
	while (label > rest && label[-1] != '.') {
		label--;
		(*llen)++;
	}
	return label;
}

/* Region inside "...oss-<region>[-internal]" or "...<region>.oss". */
static int region_in(const char *rest, size_t n, const char **r, size_t *rlen)
{
	size_t llen;
	const char *label = last_label(rest, n, &llen);

	if (llen > 4 && strncmp(label, "oss-", 4) == 0) {
		*r = label + 4;
		*rlen = llen - 4;
	} else if (llen == 3 && strncmp(label, "oss", 3) == 0 && label > rest) {
		*r = last_label(rest, (size_t)(label - 1 - rest), rlen);
	} else {
		return -EINVAL;
	}
	if (*rlen > 9 && strncmp(*r + *rlen - 9, "-internal", 9) == 0)
		*rlen -= 9;
	return 0;
}

int oss_region_from_endpoint(const char *host, char *out, size_t size)
{
	char h[HOST_MAX];
	const char *r;
	size_t n, rlen;
	int rc = -EINVAL;

	if (size)
		out[0] = '\0';
	if (!host || host_only(host, h) != 0)
		goto out;
	n = strlen(h);
	if (n <= sizeof(domain) - 1 ||
	    strcmp(h + n - (sizeof(domain) - 1), domain) != 0)
		goto out;
	n -= sizeof(domain) - 1;
	if (region_in(h, n, &r, &rlen) != 0 || !valid_region(r, rlen))
		goto out;
	if (rlen == 10 && strncmp(r, "accelerate", rlen) == 0)
		goto out;
	if (rlen == 19 && strncmp(r, "accelerate-overseas", rlen) == 0)
		goto out;
	rc = -ENOSPC;
	if (rlen >= size)
		goto out;
	memcpy(out, r, rlen);
	out[rlen] = '\0';
	rc = 0;
out:
	return rc;
}
