/* base: logging, bounded buffers, name/value lists, strings, time, CRC-64.
 *
 * Everything here is thread-safe in the sense that functions touch only
 * what they are given, except the log sink, which is one process-wide
 * object guarded by its own lock.  All functions that can fail return 0 or
 * -errno.
 */
#ifndef OSSFS_BASE_H
#define OSSFS_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define OSSFS_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__)
#define OSSFS_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define OSSFS_PRINTF(f, a)
#endif

/* ---- logging ---------------------------------------------------------- */

enum log_level { LOG_LVL_ERR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Set the threshold; messages above it are dropped. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parse "error", "warn", "info", "debug"; returns -EINVAL otherwise. */
int log_parse_level(const char *name, enum log_level *out);
/* Send log lines to PATH (appended); NULL means stderr.  Returns -errno. */
int log_set_file(const char *path);
/* Also send to syslog (after daemonising). */
void log_set_syslog(bool on);
void log_msg(enum log_level level, const char *fmt, ...) OSSFS_PRINTF(2, 3);
void log_vmsg(enum log_level level, const char *fmt, va_list ap)
	OSSFS_PRINTF(2, 0);

#define log_err(...)  log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)                                       \
	do {                                                 \
		if (log_get_level() >= LOG_LVL_DEBUG)        \
			log_msg(LOG_LVL_DEBUG, __VA_ARGS__); \
	} while (0)

/* ---- bounded growable buffer ------------------------------------------ */

/* A byte buffer that never grows past max_bytes.  data is always
 * NUL-terminated (the terminator is not counted in len), so text can be
 * used as a C string. */
struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max_bytes;
};

/* max_bytes == 0 means the default cap (BUF_DEFAULT_MAX). */
#define BUF_DEFAULT_MAX ((size_t)64 << 20)
void buf_init(struct buf *b, size_t max_bytes);
void buf_fini(struct buf *b);
void buf_reset(struct buf *b);
/* -ENOMEM on allocation failure, -E2BIG past max_bytes (buffer unchanged). */
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *data, size_t len);
int buf_append_str(struct buf *b, const char *s);
int buf_appendf(struct buf *b, const char *fmt, ...) OSSFS_PRINTF(2, 3);
/* Take ownership of the bytes; the buffer is left empty.  Caller free()s. */
char *buf_steal(struct buf *b, size_t *len_out);

/* ---- name/value list --------------------------------------------------- */

struct kv {
	char *name;
	char *value;
};

/* An ordered list of owned name/value pairs (HTTP headers, query
 * parameters).  Names may repeat. */
struct kvlist {
	struct kv *items;
	size_t n;
	size_t cap;
};

void kvlist_init(struct kvlist *l);
void kvlist_fini(struct kvlist *l);
void kvlist_clear(struct kvlist *l);
int kvlist_add(struct kvlist *l, const char *name, const char *value);
int kvlist_addn(struct kvlist *l, const char *name, size_t name_len,
		const char *value, size_t value_len);
/* Remove every pair whose name matches case-insensitively, then add. */
int kvlist_set(struct kvlist *l, const char *name, const char *value);
/* First value whose name matches case-insensitively, or NULL. */
const char *kvlist_get(const struct kvlist *l, const char *name);
void kvlist_remove(struct kvlist *l, const char *name);
int kvlist_copy(struct kvlist *dst, const struct kvlist *src);

/* ---- strings ------------------------------------------------------------ */

/* strdup that returns NULL only for NULL input or ENOMEM. */
char *str_dup(const char *s);
char *str_ndup(const char *s, size_t n);
bool str_has_prefix(const char *s, const char *prefix);
bool str_has_suffix(const char *s, const char *suffix);
bool str_ieq(const char *a, const char *b);
/* Copy with truncation, always NUL-terminating; returns strlen(src). */
size_t str_lcpy(char *dst, const char *src, size_t size);
/* Trim ASCII white space at both ends in place; returns s. */
char *str_trim(char *s);

/* Percent-encode every byte outside A-Z a-z 0-9 - _ . ~ (and '/' when
 * keep_slash) as %XX with upper-case hex. */
int str_urlencode(struct buf *out, const char *in, size_t len, bool keep_slash);
/* Decode %XX (and '+' as space when plus_is_space).  Malformed escapes are
 * -EINVAL.  The result may contain NUL bytes; *out is NUL-terminated. */
int str_urldecode(struct buf *out, const char *in, size_t len,
		  bool plus_is_space);
/* Lower-case hex of len bytes into out (2*len+1 bytes). */
void str_hex(char *out, const unsigned char *in, size_t len);
int str_base64_encode(struct buf *out, const unsigned char *in, size_t len);
int str_base64_decode(struct buf *out, const char *in, size_t len);
/* Strict decimal/auto-base parse: whole string, no overflow. */
int str_to_u64(const char *s, int base, uint64_t *out);
int str_to_i64(const char *s, int base, int64_t *out);

/* ---- time --------------------------------------------------------------- */

/* "Tue, 20 Dec 2022 08:48:18 GMT" (30 bytes incl NUL). */
#define TIME_RFC1123_LEN 30
void time_fmt_rfc1123(char out[TIME_RFC1123_LEN], time_t t);
/* "20231216T162057Z" (17 bytes incl NUL). */
#define TIME_ISO8601_BASIC_LEN 17
void time_fmt_iso8601_basic(char out[TIME_ISO8601_BASIC_LEN], time_t t);
/* "2012-02-24T08:43:07.000Z" with or without fraction; also "...Z" only. */
int time_parse_iso8601(const char *s, struct timespec *out);
int time_parse_rfc1123(const char *s, time_t *out);
uint64_t time_mono_ms(void);
uint64_t time_mono_ns(void);

/* ---- CRC-64/ECMA-182 (as OSS's x-oss-hash-crc64ecma) ------------------- */

/* Start with crc = 0; feed data in pieces: crc = crc64_update(crc, p, n). */
uint64_t crc64_update(uint64_t crc, const void *data, size_t len);
/* CRC of A||B from CRC(A), CRC(B) and len(B). */
uint64_t crc64_combine(uint64_t crc_a, uint64_t crc_b, uint64_t len_b);

#endif
