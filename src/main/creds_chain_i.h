/* main/creds_chain: which credentials a mount uses.
 *
 * The order, first found wins (documented in man/ossfs.1):
 *   1. -o passwd_file=PATH (when given, it must hold credentials)
 *   2. the environment (auth_creds_from_env)
 *   3. ~/.passwd-ossfs (no group or other bits)
 *   4. /etc/passwd-ossfs (may be group-readable)
 *   5. the ECS RAM role, when -o ram_role was given
 * -o public skips the chain: requests go unsigned.  A source that exists
 * but is unusable (a passwd file others can read, half an environment
 * pair) stops the chain with its loader's message rather than silently
 * falling through to another identity.
 *
 * Resolution reads files and the environment only; it starts no thread,
 * so main runs it before daemonising.  The loaders are reached through
 * struct creds_loaders so tests can run the chain without auth/.
 */
#ifndef OSSFS_MAIN_CREDS_CHAIN_I_H
#define OSSFS_MAIN_CREDS_CHAIN_I_H

#include <stdbool.h>
#include <stddef.h>

#include "auth.h"

#define CREDS_ETC_PASSWD_FILE  "/etc/passwd-ossfs"
#define CREDS_USER_PASSWD_FILE ".passwd-ossfs" /* under $HOME */

struct creds_loaders {
	int (*from_env)(struct auth_creds *out, char *err, size_t err_size);
	int (*from_passwd_file)(const char *path, const char *bucket,
				bool allow_group_read, struct auth_creds *out,
				char *err, size_t err_size);
	void (*creds_fini)(struct auth_creds *c);
};

/* auth/'s loaders (creds_auth.c). */
extern const struct creds_loaders creds_loaders_auth;

struct creds_chain_config {
	const char *bucket;
	const char *passwd_file; /* -o passwd_file=, or NULL */
	bool ram_role;		 /* -o ram_role given */
	bool anonymous;		 /* -o public */
	/* For tests; NULL = $HOME (else the password database) and
	 * CREDS_ETC_PASSWD_FILE. */
	const char *home;
	const char *etc_passwd_file;
};

enum creds_kind {
	CREDS_STATIC = 0, /* creds holds the keys */
	CREDS_RAM_ROLE,	  /* build auth_provider_new_ram_role */
	CREDS_ANONYMOUS,  /* build auth_provider_new_anonymous */
};

struct creds_choice {
	enum creds_kind kind;
	struct auth_creds creds; /* CREDS_STATIC only */
	/* Where they came from, for the log: "the environment",
	 * "/root/.passwd-ossfs".  Never holds a secret. */
	char source[512];
};

/* Returns 0 and fills out, or -errno with a one-line reason in err:
 * -ENOENT when no source has credentials, else the failing source's
 * error (e.g. -EPERM for a passwd file with loose permissions). */
int creds_chain_resolve(const struct creds_chain_config *cfg,
			const struct creds_loaders *ld,
			struct creds_choice *out, char *err, size_t err_size);
/* Wipes and frees the keys (through ld->creds_fini). */
void creds_choice_fini(const struct creds_loaders *ld, struct creds_choice *c);

#endif
