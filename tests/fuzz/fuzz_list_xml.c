/* Fuzz oss_list_parse_xml: never crash or leak, and a page that parses
 * keeps the paging invariants fs/ relies on. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oss.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_page(const struct oss_list_page *p)
{
	if (p->n > p->cap || (p->n && !p->entries))
		abort();
	/* truncated <=> there is somewhere to continue from */
	if (p->truncated != (p->next_token != NULL))
		abort();
	if (p->next_token && !p->next_token[0])
		abort();
	for (size_t i = 0; i < p->n; i++) {
		const struct oss_list_entry *e = &p->entries[i];

		if (!e->key || strlen(e->key) > 4096)
			abort();
		if (e->mtime.tv_nsec < 0 || e->mtime.tv_nsec >= 1000000000L)
			abort();
		if (strnlen(e->etag, sizeof(e->etag)) == sizeof(e->etag))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oss_list_page p;

	log_set_level(LOG_LVL_ERR);
	oss_list_page_init(&p);
	if (oss_list_parse_xml((const char *)data, size, &p) == 0)
		check_page(&p);
	else if (p.n || p.entries || p.next_token || p.truncated)
		abort();
	/* A second parse into the same page must release the first. */
	(void)oss_list_parse_xml((const char *)data, size, &p);
	oss_list_page_fini(&p);
	return 0;
}
