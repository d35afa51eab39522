/* Fuzz the command line: argv and -o lists as fstab and mount(8) pass
 * them.  Input: one argument a line; a first line starting with 'm'
 * parses as mount.ossfs, anything else as ossfs.  Every line is also fed
 * to the value parsers on its own.
 *
 * What must hold: no crash; a refusal always says why; an accepted line
 * gives a well-formed bucket, prefix and endpoint; and no message repeats
 * the user:password part of a URL (options.c puts '*' in its place). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "options_i.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ARGS 32

static void check_message(const char *err, size_t err_size)
{
	const char *url;

	if (strnlen(err, err_size) == err_size || !err[0])
		abort(); /* a refusal always leaves a one-line reason */
	if (strchr(err, '\n'))
		abort();
	/* User info may be a password: only "*" may stand for it. */
	for (url = strstr(err, "://"); url; url = strstr(url + 3, "://")) {
		const char *auth = url + 3;
		size_t n = strcspn(auth, "/?#' \t\n"), at = n;

		while (at > 0 && auth[at - 1] != '@')
			at--;
		if (at > 1 && !(at == 2 && auth[0] == '*'))
			abort();
	}
}

static bool bucket_ok(const char *b)
{
	if (!b || !*b)
		return false;
	for (; *b; b++)
		if (!strchr("abcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._",
			    *b))
			return false;
	return true;
}

static bool prefix_ok(const char *p)
{
	size_t n;

	if (!p)
		return false;
	if (!*p)
		return true;
	n = strlen(p);
	return p[0] != '/' && p[n - 1] == '/' && !strstr(p, "//") &&
	       strcmp(p, "./") != 0 && strncmp(p, "../", 3) != 0 &&
	       !strstr(p, "/./") && !strstr(p, "/../");
}

static bool url_ok(const char *u)
{
	const char *host;

	if (!u)
		return false;
	if (strncmp(u, "http://", 7) == 0)
		host = u + 7;
	else if (strncmp(u, "https://", 8) == 0)
		host = u + 8;
	else
		return false;
	return *host && strcspn(host, "/?#@ \t") == strlen(host);
}

static void check_accepted(const struct opts *o)
{
	if (o->show_help || o->show_version)
		return;
	if (!bucket_ok(o->bucket) || !prefix_ok(o->prefix) ||
	    !url_ok(o->endpoint_url) || !o->mountpoint || !o->fsname)
		abort();
	if (o->ram_role_url && !url_ok(o->ram_role_url))
		abort();
	if ((o->cache_dir && o->cache_dir[0] != '/') ||
	    (o->staging_dir && o->staging_dir[0] != '/'))
		abort();
	if (o->allow_other && o->allow_root)
		abort();
}

static void check_values(const char *s)
{
	uint64_t v = 0;
	char *bucket, *prefix;

	(void)opts_parse_size(s, &v);
	(void)opts_parse_seconds_ms(s, &v);
	if (opts_parse_source(s, &bucket, &prefix) == 0) {
		if (!bucket_ok(bucket) || !prefix_ok(prefix))
			abort();
		free(bucket);
		free(prefix);
	} else if (bucket || prefix) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[MAX_ARGS + 1];
	char err[256];
	struct opts o;
	char *text, *p;
	int argc = 1, rc;

	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	argv[0] = size && text[0] == 'm' ? "mount.ossfs" : "ossfs";
	for (p = text; argc < MAX_ARGS;) {
		char *nl = strchr(p, '\n');

		if (nl)
			*nl = '\0';
		argv[argc++] = p;
		check_values(p);
		if (!nl)
			break;
		p = nl + 1;
	}
	argv[argc] = NULL;
	/* The first line picked the mode; it is not an argument. */
	argv[1] = argv[0];

	opts_init(&o, opts_mode_for_argv0(argv[0]));
	memset(err, 'x', sizeof(err));
	rc = opts_parse(&o, argc - 1, argv + 1, err, sizeof(err));
	if (rc == 0) {
		memset(err, 'x', sizeof(err));
		rc = opts_finish(&o, err, sizeof(err));
		if (rc == 0)
			check_accepted(&o);
	}
	/* -E2BIG: more than the option buffers hold ("too long"). */
	if (rc != 0 && rc != -EINVAL && rc != -ENOMEM && rc != -ERANGE &&
	    rc != -E2BIG)
		abort();
	if (rc != 0)
		check_message(err, sizeof(err));
	opts_fini(&o);
	free(text);
	return 0;
}
