/* main/explain: the start-up probe's failure as one line a person can act
 * on ("bucket 'x' does not exist at https://...", "check the system
 * clock"), and the exit status that goes with it.  Pure: no I/O, so it is
 * unit-tested against every case. */
#ifndef OSSFS_MAIN_EXPLAIN_I_H
#define OSSFS_MAIN_EXPLAIN_I_H

#include <stdbool.h>
#include <stddef.h>

#include "oss.h"

/* rc is what store.ops->probe returned (-errno), e what it filled in;
 * anonymous when the requests went unsigned (-o public).  Writes the line
 * into out and returns an enum ossfs_exit value. */
int explain_probe_failure(int rc, const struct oss_error *e, const char *bucket,
			  const char *url, bool anonymous, char *out,
			  size_t size);

#endif
