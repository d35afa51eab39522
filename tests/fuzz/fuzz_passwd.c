/* Fuzz the passwd-file parser (the file loader minus open/fstat/read). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/auth/auth_i.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What a credential may hold once loaded: printable ASCII, no space. */
static void check_word(const char *s)
{
	if (!s || !*s)
		abort();
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const buckets[] = { "bucket", NULL };
	char err[256];

	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(buckets); i++) {
		struct auth_creds c = { 0 };
		int rc;

		memset(err, 'x', sizeof(err));
		rc = auth_passwd_parse_buffer((const char *)data, size,
					      buckets[i], "fuzz", &c, err,
					      sizeof(err));
		if (rc == 0) {
			check_word(c.access_key_id);
			check_word(c.access_key_secret);
			if (c.security_token)
				abort();
		} else if (rc != -EINVAL && rc != -ENOENT && rc != -ENOMEM) {
			abort();
		} else if (strnlen(err, sizeof(err)) == sizeof(err)) {
			abort(); /* an error always leaves a message */
		}
		auth_creds_fini(&c);
	}
	return 0;
}
