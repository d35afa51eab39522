/* Time formatting and parsing in UTC, without gmtime/timegm's globals. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base.h"

static const char *const wdays[] = { "Sun", "Mon", "Tue", "Wed",
				     "Thu", "Fri", "Sat" };
static const char *const months[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * well-known algorithm, written out here). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static time_t utc_mktime(int year, int mon, int day, int h, int mi, int s)
{
	return (time_t)(days_from_civil(year, (unsigned)mon, (unsigned)day) *
				86400 +
			h * 3600 + mi * 60 + s);
}

static void utc_split(time_t t, struct tm *tm)
{
	gmtime_r(&t, tm);
}

void time_fmt_rfc1123(char out[TIME_RFC1123_LEN], time_t t)
{
	struct tm tm;
	char tmp[64];

	utc_split(t, &tm);
	snprintf(tmp, sizeof(tmp), "%s, %02d %s %04d %02d:%02d:%02d GMT",
		 wdays[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
		 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	str_lcpy(out, tmp, TIME_RFC1123_LEN);
}

void time_fmt_iso8601_basic(char out[TIME_ISO8601_BASIC_LEN], time_t t)
{
	struct tm tm;
	char tmp[64];

	utc_split(t, &tm);
	snprintf(tmp, sizeof(tmp), "%04d%02d%02dT%02d%02d%02dZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec);
	str_lcpy(out, tmp, TIME_ISO8601_BASIC_LEN);
}

static bool valid_fields(int y, int mo, int d, int h, int mi, int s)
{
	return y >= 1900 && y <= 9999 && mo >= 1 && mo <= 12 && d >= 1 &&
	       d <= 31 && h >= 0 && h <= 23 && mi >= 0 && mi <= 59 && s >= 0 &&
	       s <= 60;
}

int time_parse_iso8601(const char *s, struct timespec *out)
{
	int y, mo, d, h, mi, sec, n = 0;
	long nsec = 0;
	const char *p;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec,
		   &n) != 6 ||
	    !valid_fields(y, mo, d, h, mi, sec))
		return -EINVAL;
	p = s + n;
	if (*p == '.') {
		long scale = 100000000;

		for (p++; *p >= '0' && *p <= '9'; p++) {
			nsec += (*p - '0') * scale;
			scale /= 10;
		}
	}
	if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0)
		return -EINVAL;
	out->tv_sec = utc_mktime(y, mo, d, h, mi, sec);
	out->tv_nsec = nsec;
	return 0;
}

int time_parse_rfc1123(const char *s, time_t *out)
{
	char wd[4], mon[4], zone[4];
	int d, y, h, mi, sec, n = 0;

	if (sscanf(s, "%3s, %2d %3s %4d %2d:%2d:%2d %3s%n", wd, &d, mon, &y, &h,
		   &mi, &sec, zone, &n) != 8 ||
	    s[n] != '\0' || strcmp(zone, "GMT") != 0)
		return -EINVAL;
	for (int m = 0; m < 12; m++) {
		if (strcasecmp(mon, months[m]) == 0) {
			if (!valid_fields(y, m + 1, d, h, mi, sec))
				return -EINVAL;
			*out = utc_mktime(y, m + 1, d, h, mi, sec);
			return 0;
		}
	}
	return -EINVAL;
}

uint64_t time_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t time_mono_ms(void)
{
	return time_mono_ns() / 1000000u;
}
