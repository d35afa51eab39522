/* The credentials chain's loaders, bound to auth/.  Kept apart from
 * creds_chain.c so the chain's unit test links without auth/. */
#include "creds_chain_i.h"

const struct creds_loaders creds_loaders_auth = {
	.from_env = auth_creds_from_env,
	.from_passwd_file = auth_creds_from_passwd_file,
	.creds_fini = auth_creds_fini,
};
