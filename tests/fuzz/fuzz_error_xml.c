/* Fuzz the error parsers: an <Error> body, the same document carried
 * base64 in x-oss-err, and the one-line description of the result. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oss.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every field is terminated and holds no control byte (it is logged). */
static void check_field(const char *f, size_t size)
{
	size_t n = strnlen(f, size);

	if (n == size)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)f[i] < 0x20 || f[i] == 0x7f)
			abort();
}

static void check_error(const struct oss_error *e)
{
	char line[512];

	check_field(e->code, sizeof(e->code));
	check_field(e->message, sizeof(e->message));
	check_field(e->request_id, sizeof(e->request_id));
	check_field(e->ec, sizeof(e->ec));
	oss_error_describe(e, line, sizeof(line));
	oss_error_describe(e, line, 1);
	if (line[0])
		abort();
}

static void from_header(const uint8_t *data, size_t size, long status)
{
	struct kvlist h;
	struct buf b64;
	struct oss_error e;
	int rc;

	kvlist_init(&h);
	buf_init(&b64, 0);
	if (str_base64_encode(&b64, data, size) == 0 &&
	    kvlist_add(&h, "x-oss-err", b64.data) == 0) {
		rc = oss_error_from_response(status, &h, NULL, 0, &e);
		if (rc > 0 || e.http_status != status)
			abort();
		check_error(&e);
	}
	buf_fini(&b64);
	kvlist_fini(&h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oss_error e;
	long status = size ? 100 + data[0] * 2 : 0;

	log_set_level(LOG_LVL_ERR);
	oss_error_clear(&e);
	(void)oss_error_parse_xml((const char *)data, size, &e);
	check_error(&e);
	if (oss_errno_for(e.code, status) > 0)
		abort();
	if (oss_error_from_response(status, NULL, (const char *)data, size,
				    &e) > 0)
		abort();
	check_error(&e);
	from_header(data, size, status);
	return 0;
}
