/* Minimal unit-test harness: CHECK records a failure and goes on;
 * test_main runs every listed case and prints "N passed, N failed". */
#ifndef OSSFS_TESTUTIL_H
#define OSSFS_TESTUTIL_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tu_failures;
static int tu_checks;

#define CHECK(cond)                                                            \
	do {                                                                   \
		tu_checks++;                                                   \
		if (!(cond)) {                                                 \
			tu_failures++;                                         \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
		}                                                              \
	} while (0)

#define CHECK_STR(a, b)                                                     \
	do {                                                                \
		const char *tu_a = (a), *tu_b = (b);                        \
		tu_checks++;                                                \
		if (!tu_a || !tu_b || strcmp(tu_a, tu_b) != 0) {            \
			tu_failures++;                                      \
			fprintf(stderr,                                     \
				"%s:%d: CHECK_STR failed: %s\n  got:  %s\n" \
				"  want: %s\n",                             \
				__FILE__, __LINE__, #a,                     \
				tu_a ? tu_a : "(null)",                     \
				tu_b ? tu_b : "(null)");                    \
		}                                                           \
	} while (0)

#define CHECK_INT(a, b)                                                 \
	do {                                                            \
		long long tu_a = (long long)(a), tu_b = (long long)(b); \
		tu_checks++;                                            \
		if (tu_a != tu_b) {                                     \
			tu_failures++;                                  \
			fprintf(stderr,                                 \
				"%s:%d: CHECK_INT failed: %s == %lld, " \
				"want %lld\n",                          \
				__FILE__, __LINE__, #a, tu_a, tu_b);    \
		}                                                       \
	} while (0)

struct tu_case {
	const char *name;
	void (*fn)(void);
};

#define TU_CASE(f)    \
	{             \
#f, f \
	}

static inline int tu_run(const struct tu_case *cases, size_t n)
{
	int passed = 0, failed = 0;

	for (size_t i = 0; i < n; i++) {
		int before = tu_failures;

		cases[i].fn();
		if (tu_failures == before) {
			passed++;
			printf("ok %zu - %s\n", i + 1, cases[i].name);
		} else {
			failed++;
			printf("not ok %zu - %s\n", i + 1, cases[i].name);
		}
	}
	printf("%d checks; %d passed, %d failed\n", tu_checks, passed, failed);
	return failed ? 1 : 0;
}

#define TU_MAIN(...)                                                      \
	int main(void)                                                    \
	{                                                                 \
		static const struct tu_case tu_cases[] = { __VA_ARGS__ }; \
		return tu_run(tu_cases,                                   \
			      sizeof(tu_cases) / sizeof(tu_cases[0]));    \
	}

#endif
