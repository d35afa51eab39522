/* The credential provider: static, anonymous or ECS RAM role.
 *
 * RAM-role credentials are STS triples that expire (hours).  A refresher
 * thread wakes every check interval and renews them once fewer than
 * refresh_before_s seconds remain, or at once after auth_provider_kick
 * (a server said SecurityTokenExpired).  A failed refresh keeps the current
 * credentials - they may well be valid for many minutes yet - and is
 * retried at the next check.  The check interval is a quarter of
 * refresh_before_s, between 1 and 15 seconds (ossfs 2 re-checks every 15 s
 * with a 20-minute margin), so a short margin in tests also checks often.
 *
 * LOCK ORDERING: one lock, mu.  It is never held across a metadata-service
 * request; readers only ever wait for a pointer copy.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth_i.h"

#define DEFAULT_METADATA_URL "http://100.100.100.200"
#define DEFAULT_TIMEOUT_MS   5000L
#define DEFAULT_REFRESH_S    1200L

enum provider_kind { PROV_STATIC, PROV_ANONYMOUS, PROV_RAM_ROLE };

struct auth_provider {
	enum provider_kind kind;
	pthread_mutex_t mu;
	pthread_cond_t wake;	    /* kick and free signal it */
	struct auth_creds creds;    /* guarded by: mu */
	unsigned long kicks;	    /* guarded by: mu */
	unsigned long kicks_served; /* guarded by: mu */
	bool stopping;		    /* guarded by: mu */
	atomic_bool cancel;	    /* aborts a request in flight on free */
	bool thread_started;
	pthread_t thread;
	/* RAM role configuration, read-only once the thread runs. */
	char *role_name;
	char *metadata_url;
	long timeout_ms;
	long refresh_before_s;
};

static struct auth_provider *provider_alloc(enum provider_kind kind)
{
	struct auth_provider *p = calloc(1, sizeof(*p));
	pthread_condattr_t ca;

	if (!p)
		return NULL;
	p->kind = kind;
	atomic_init(&p->cancel, false);
	pthread_mutex_init(&p->mu, NULL);
	/* Waits are measured on the monotonic clock: a wall-clock step must
	 * not stall or hurry the refresher. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->wake, &ca);
	pthread_condattr_destroy(&ca);
	return p;
}

struct auth_provider *auth_provider_new_static(const struct auth_creds *c)
{
	struct auth_provider *p;

	if (!auth_creds_present(c))
		return NULL;
	p = provider_alloc(PROV_STATIC);
	if (p && auth_creds_copy(&p->creds, c) != 0) {
		auth_provider_free(p);
		p = NULL;
	}
	return p;
}

struct auth_provider *auth_provider_new_anonymous(void)
{
	return provider_alloc(PROV_ANONYMOUS);
}

int auth_provider_get(struct auth_provider *p, struct auth_creds *out)
{
	int rc;

	if (!p || p->kind == PROV_ANONYMOUS)
		return -ENOENT;
	pthread_mutex_lock(&p->mu);
	/* Expired RAM-role credentials are still handed out: the request then
	 * fails with the server's own error, and the refresher keeps
	 * trying. */
	rc = auth_creds_copy(out, &p->creds);
	pthread_mutex_unlock(&p->mu);
	return rc;
}

void auth_provider_kick(struct auth_provider *p)
{
	if (!p || p->kind != PROV_RAM_ROLE)
		return;
	pthread_mutex_lock(&p->mu);
	p->kicks++;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->mu);
}

static int ram_fetch(struct auth_provider *p, struct auth_creds *out, char *err,
		     size_t err_size)
{
	struct auth_imds_config cfg = {
		.base_url = p->metadata_url,
		.role_name = p->role_name,
		.timeout_ms = p->timeout_ms,
		.cancel = &p->cancel,
	};

	return auth_imds_fetch(&cfg, out, err, err_size);
}

/* ---- the refresher thread ------------------------------------------------ */

static bool refresh_due(const struct auth_provider *p)
{
	time_t now = time(NULL);

	if (p->kicks != p->kicks_served)
		return true;
	return p->creds.expiration != 0 &&
	       p->creds.expiration - now < p->refresh_before_s;
}

static void wait_check_interval(struct auth_provider *p)
{
	long s = p->refresh_before_s / 4;
	struct timespec until;

	s = s < 1 ? 1 : s > 15 ? 15 : s;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += s;
	pthread_cond_timedwait(&p->wake, &p->mu, &until);
}

/* Called and returns with mu held; drops it for the request.  false
 * when the fetch failed. */
static bool refresh_once(struct auth_provider *p)
{
	struct auth_creds fresh = { 0 };
	unsigned long kicks = p->kicks;
	char err[256] = "";
	char until[TIME_RFC1123_LEN];
	int rc;

	pthread_mutex_unlock(&p->mu);
	rc = ram_fetch(p, &fresh, err, sizeof(err));
	pthread_mutex_lock(&p->mu);
	if (rc) {
		if (!p->stopping)
			log_warn("RAM role credentials not refreshed, keeping "
				 "the current ones: %s",
				 err);
		return false;
	}
	auth_creds_fini(&p->creds);
	p->creds = fresh; /* ownership moves */
	p->kicks_served = kicks;
	time_fmt_rfc1123(until, p->creds.expiration);
	log_info("RAM role credentials refreshed; valid until %s", until);
	return true;
}

static void *refresher_main(void *arg)
{
	struct auth_provider *p = arg;

	pthread_mutex_lock(&p->mu);
	while (!p->stopping) {
		bool failed = refresh_due(p) && !refresh_once(p);

		/* A kick during the fetch is served at once; a failure
		 * waits, so a dead metadata service is not hammered. */
		if (!p->stopping && (failed || !refresh_due(p)))
			wait_check_interval(p);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* ---- construction -------------------------------------------------------- */

static int ram_configure(struct auth_provider *p,
			 const struct auth_ram_role_config *cfg)
{
	const char *url = cfg && cfg->metadata_url && cfg->metadata_url[0]
				  ? cfg->metadata_url
				  : DEFAULT_METADATA_URL;
	size_t n = strlen(url);

	while (n > 0 && url[n - 1] == '/') /* paths are appended with '/' */
		n--;
	p->metadata_url = str_ndup(url, n);
	if (cfg && cfg->role_name && cfg->role_name[0])
		p->role_name = str_dup(cfg->role_name);
	p->timeout_ms = cfg && cfg->timeout_ms > 0 ? cfg->timeout_ms
						   : DEFAULT_TIMEOUT_MS;
	p->refresh_before_s = cfg && cfg->refresh_before_s > 0
				      ? cfg->refresh_before_s
				      : DEFAULT_REFRESH_S;
	if (!p->metadata_url ||
	    (cfg && cfg->role_name && cfg->role_name[0] && !p->role_name))
		return -ENOMEM;
	return 0;
}

struct auth_provider *
auth_provider_new_ram_role(const struct auth_ram_role_config *cfg, char *err,
			   size_t err_size)
{
	struct auth_provider *p = provider_alloc(PROV_RAM_ROLE);
	int rc;

	if (!p) {
		auth_err(-ENOMEM, err, err_size, "out of memory");
		return NULL;
	}
	rc = ram_configure(p, cfg);
	if (rc) {
		auth_err(rc, err, err_size, "out of memory");
		goto fail;
	}
	/* The first fetch is synchronous so a mount fails early and clearly;
	 * no other thread sees p yet. */
	rc = ram_fetch(p, &p->creds, err, err_size);
	if (rc)
		goto fail;
	rc = pthread_create(&p->thread, NULL, refresher_main, p);
	if (rc) {
		auth_err(-rc, err, err_size,
			 "cannot start the credential refresher thread");
		goto fail;
	}
	p->thread_started = true;
	return p;
fail:
	auth_provider_free(p);
	return NULL;
}

void auth_provider_free(struct auth_provider *p)
{
	if (!p)
		return;
	if (p->thread_started) {
		atomic_store(&p->cancel, true);
		pthread_mutex_lock(&p->mu);
		p->stopping = true;
		pthread_cond_signal(&p->wake);
		pthread_mutex_unlock(&p->mu);
		pthread_join(p->thread, NULL);
	}
	auth_creds_fini(&p->creds);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->mu);
	free(p->role_name);
	free(p->metadata_url);
	free(p);
}
