/* Fuzz the JSON reader and the ECS credential document built on it. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/auth/auth_i.h"
#include "../../src/auth/json_i.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Strings are C strings (no NUL inside) and the tree is well formed. */
static void walk(const struct ajson *v, unsigned depth)
{
	if (depth > AJSON_DEFAULT_MAX_DEPTH)
		abort();
	if ((v->type == AJSON_STRING || v->type == AJSON_NUMBER) &&
	    (!v->text || strlen(v->text) != v->text_len))
		abort();
	if (v->n_kids && v->type != AJSON_ARRAY && v->type != AJSON_OBJECT)
		abort();
	for (size_t i = 0; i < v->n_kids; i++) {
		if ((v->type == AJSON_OBJECT) != (v->kids[i].key != NULL))
			abort();
		walk(&v->kids[i], depth + 1);
	}
}

static void check_creds(const uint8_t *data, size_t size)
{
	struct auth_creds c = { 0 };
	char err[256];
	int rc;

	memset(err, 'x', sizeof(err));
	rc = auth_creds_from_ecs_json((const char *)data, size, &c, err,
				      sizeof(err));
	if (rc == 0) {
		if (!auth_creds_present(&c) || !c.security_token)
			abort();
	} else if (strnlen(err, sizeof(err)) == sizeof(err) ||
		   strchr(err, '\n')) {
		abort();
	}
	auth_creds_fini(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ajson *root = NULL;
	size_t off = 0;
	int rc;

	rc = ajson_parse((const char *)data, size, 0, 0, &root, &off);
	if (rc == 0)
		walk(root, 1);
	else if (root || off > size ||
		 (rc != -EINVAL && rc != -E2BIG && rc != -ENOMEM))
		abort();
	ajson_free(root);
	check_creds(data, size);
	return 0;
}
