/* Process-wide log sink.  The only global state in ossfs besides library
 * initialisation and the signal flag: one lock, one stream. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <syslog.h>
#include <unistd.h>

#include "base.h"

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static FILE *log_stream;   /* guarded by: log_mu; NULL = stderr */
static bool log_to_syslog; /* guarded by: log_mu */
static volatile enum log_level log_threshold = LOG_LVL_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void log_set_level(enum log_level level)
{
	log_threshold = level;
}

enum log_level log_get_level(void)
{
	return log_threshold;
}

int log_parse_level(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(level_names); i++) {
		if (str_ieq(name, level_names[i])) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (str_ieq(name, "warning")) {
		*out = LOG_LVL_WARN;
		return 0;
	}
	if (str_ieq(name, "err")) {
		*out = LOG_LVL_ERR;
		return 0;
	}
	return -EINVAL;
}

int log_set_file(const char *path)
{
	FILE *f = NULL;

	if (path) {
		f = fopen(path, "ae");
		if (!f)
			return -errno;
		setvbuf(f, NULL, _IOLBF, 0);
	}
	pthread_mutex_lock(&log_mu);
	if (log_stream)
		fclose(log_stream);
	log_stream = f;
	pthread_mutex_unlock(&log_mu);
	return 0;
}

void log_set_syslog(bool on)
{
	pthread_mutex_lock(&log_mu);
	if (on && !log_to_syslog)
		openlog("ossfs", LOG_PID, LOG_DAEMON);
	log_to_syslog = on;
	pthread_mutex_unlock(&log_mu);
}

static int syslog_prio(enum log_level level)
{
	switch (level) {
	case LOG_LVL_ERR:
		return LOG_ERR;
	case LOG_LVL_WARN:
		return LOG_WARNING;
	case LOG_LVL_INFO:
		return LOG_INFO;
	default:
		return LOG_DEBUG;
	}
}

/* A message is one line whatever it quotes: object keys and file names
 * may hold any byte, and a newline in one must not forge a log line.
 * Control characters become \xNN in out (4 * strlen(in) + 1 bytes). */
static void escape_controls(const char *in, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			*out++ = '\\';
			*out++ = 'x';
			*out++ = hex[*p >> 4];
			*out++ = hex[*p & 15];
		} else {
			*out++ = (char)*p;
		}
	}
	*out = '\0';
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char raw[2048], line[4 * sizeof(raw)];
	struct timeval tv;
	struct tm tm;
	char stamp[32];

	if (level > log_threshold)
		return;
	vsnprintf(raw, sizeof(raw), fmt, ap);
	escape_controls(raw, line);
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);

	pthread_mutex_lock(&log_mu);
	if (log_to_syslog && !log_stream) {
		syslog(syslog_prio(level), "%s", line);
	} else {
		FILE *out = log_stream ? log_stream : stderr;
		fprintf(out, "%s.%03ldZ ossfs[%d] %s: %s\n", stamp,
			(long)(tv.tv_usec / 1000), (int)getpid(),
			level_names[level], line);
	}
	pthread_mutex_unlock(&log_mu);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}
