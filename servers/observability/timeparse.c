/*
 * timeparse: times and durations from a model (see timeparse.h).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "observability/timeparse.h"

#define HINT	"use epoch milliseconds, ISO 8601 (2024-05-01T12:00:00Z) " \
		"or a relative time (-15m, -2h, -1d, now)"
#define ISO_FORM "YYYY-MM-DD[Thh:mm[:ss[.fff]]][Z|+hh:mm]"
#define UNITS	"s, m, h, d or w"

/* The input as shown in messages: cut, non-printing bytes as '?'. */
static void
shown(const char *s, char *out, size_t outlen)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < outlen &&
	    i < OBS_TIME_MAX_INPUT; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	out[i] = '\0';
}

int64_t
obs_days_from_civil(int64_t y, unsigned m, unsigned d)
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

static unsigned
month_days(int64_t y, unsigned m)
{
	static const unsigned days[12] = { 31, 28, 31, 30, 31, 30, 31, 31,
	    30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

/* Read exactly n digits at *p into *v; 0, or -1 when they are not there. */
static int
digits(const char **p, int n, unsigned *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return -1;
		*v = *v * 10 + (unsigned)((*p)[i] - '0');
	}
	*p += n;
	return 0;
}

static int
iso_syntax(const char *show, char *err, size_t errlen)
{
	snprintf(err, errlen, "'%s' is not ISO 8601 (expected %s)", show,
	    ISO_FORM);
	return -1;
}

static int
range_err(const char *show, const char *what, unsigned v, const char *range,
    char *err, size_t errlen)
{
	snprintf(err, errlen, "'%s': %s %02u out of range (%s)", show, what, v,
	    range);
	return -1;
}

/*
 * The clock part after 'T': hh:mm[:ss[.frac]] into seconds of the day and
 * milliseconds.  *p advanced.  0, or -1 with err filled.
 */
static int
iso_clock(const char **p, const char *show, int64_t *secs, unsigned *ms,
    char *err, size_t errlen)
{
	unsigned hh, mi, ss = 0, scale = 100, n;

	if (digits(p, 2, &hh) == -1 || **p != ':' || (++*p, digits(p, 2,
	    &mi)) == -1)
		return iso_syntax(show, err, errlen);
	if (**p == ':') {
		++*p;
		if (digits(p, 2, &ss) == -1)
			return iso_syntax(show, err, errlen);
		if (**p == '.' || **p == ',') {
			++*p;
			for (n = 0; **p >= '0' && **p <= '9'; n++, ++*p) {
				*ms += (unsigned)(**p - '0') * scale;
				scale /= 10;
			}
			if (n == 0 || n > 9)
				return iso_syntax(show, err, errlen);
		}
	}
	if (hh > 23)
		return range_err(show, "hour", hh, "00-23", err, errlen);
	if (mi > 59)
		return range_err(show, "minute", mi, "00-59", err, errlen);
	if (ss > 59)
		return range_err(show, "second", ss, "00-59", err, errlen);
	*secs = (int64_t)hh * 3600 + mi * 60 + ss;
	return 0;
}

/* Z, +hh[:mm] / +hhmm, or nothing, into seconds east of UTC. */
static int
iso_offset(const char **p, const char *show, int64_t *off, char *err,
    size_t errlen)
{
	unsigned oh, om = 0;
	int sign;

	*off = 0;
	if (**p == 'Z' || **p == 'z') {
		++*p;
		return 0;
	}
	if (**p != '+' && **p != '-')
		return **p == '\0' ? 0 : iso_syntax(show, err, errlen);
	sign = **p == '-' ? -1 : 1;
	++*p;
	if (digits(p, 2, &oh) == -1)
		return iso_syntax(show, err, errlen);
	if (**p == ':')
		++*p;
	if (**p != '\0' && digits(p, 2, &om) == -1)
		return iso_syntax(show, err, errlen);
	if (oh > 14)
		return range_err(show, "offset hour", oh, "00-14", err, errlen);
	if (om > 59)
		return range_err(show, "offset minute", om, "00-59", err,
		    errlen);
	*off = sign * ((int64_t)oh * 3600 + om * 60);
	return 0;
}

static int
parse_iso(const char *s, const char *show, int64_t *out, char *err,
    size_t errlen)
{
	const char *p = s;
	unsigned y, mo, d, ms = 0;
	int64_t secs = 0, off = 0;

	if (digits(&p, 4, &y) == -1 || *p++ != '-' ||
	    digits(&p, 2, &mo) == -1 || *p++ != '-' ||
	    digits(&p, 2, &d) == -1)
		return iso_syntax(show, err, errlen);
	if (mo < 1 || mo > 12)
		return range_err(show, "month", mo, "01-12", err, errlen);
	if (d < 1 || d > month_days(y, mo)) {
		snprintf(err, errlen, "'%s': day %02u out of range (%04u-%02u "
		    "has %u days)", show, d, y, mo, month_days(y, mo));
		return -1;
	}
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (iso_clock(&p, show, &secs, &ms, err, errlen) == -1 ||
		    iso_offset(&p, show, &off, err, errlen) == -1)
			return -1;
	}
	if (*p != '\0')
		return iso_syntax(show, err, errlen);
	*out = ((obs_days_from_civil(y, mo, d) * 86400 + secs - off) * 1000) +
	    ms;
	if (*out < 0) {
		snprintf(err, errlen, "'%s' is before 1970-01-01T00:00:00Z",
		    show);
		return -1;
	}
	return 0;
}

static int
check_epoch(int64_t v, const char *show, int64_t *out, char *err,
    size_t errlen)
{
	if (v < OBS_TIME_MIN_MS && v >= 0) {
		snprintf(err, errlen, "'%s': epoch milliseconds expected; this "
		    "looks like seconds (%s000?)", show, show);
		return -1;
	}
	if (v < 0 || v > OBS_TIME_MAX_MS) {
		snprintf(err, errlen, "'%s': epoch milliseconds out of range "
		    "(%lld to %lld)", show, (long long)OBS_TIME_MIN_MS,
		    (long long)OBS_TIME_MAX_MS);
		return -1;
	}
	*out = v;
	return 0;
}

int
obs_duration_parse(const char *s, int64_t *out_ms, char *err, size_t errlen)
{
	static const struct { char u; int64_t ms; } units[] = {
		{ 's', 1000 }, { 'm', 60000 }, { 'h', 3600000 },
		{ 'd', 86400000 }, { 'w', 604800000 },
	};
	char show[OBS_TIME_MAX_INPUT + 1];
	const char *p = s + (s[0] == '-');
	int64_t n = 0;
	size_t i, nd = 0;

	shown(s, show, sizeof(show));
	for (; *p >= '0' && *p <= '9'; p++, nd++)
		if (nd < 13)
			n = n * 10 + (*p - '0');
	if (nd == 0) {
		snprintf(err, errlen, "'%s' is not a duration (a number and "
		    "a unit: %s, e.g. 15m)", show, UNITS);
		return -1;
	}
	if (*p == '\0') {
		snprintf(err, errlen, "'%s': a unit must follow the number "
		    "(%s)", show, UNITS);
		return -1;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (units[i].u == *p)
			break;
	if (i == sizeof(units) / sizeof(units[0]) || p[1] != '\0') {
		snprintf(err, errlen, "'%s': unknown unit '%s' (use %s)", show,
		    show + (p - s), UNITS);
		return -1;
	}
	if (n == 0) {
		snprintf(err, errlen, "'%s': a duration must be at least 1%c",
		    show, *p);
		return -1;
	}
	if (nd > 12 || n > OBS_TIME_MAX_DURATION_MS / units[i].ms) {
		snprintf(err, errlen, "'%s': longer than ten years", show);
		return -1;
	}
	*out_ms = n * units[i].ms;
	return 0;
}

int
obs_time_parse(const char *s, int64_t now_ms, int64_t *out, char *err,
    size_t errlen)
{
	char show[OBS_TIME_MAX_INPUT + 1];
	int64_t d, v = 0;
	size_t len = strlen(s), i;

	if (len == 0) {
		snprintf(err, errlen, "empty time: %s", HINT);
		return -1;
	}
	if (len > OBS_TIME_MAX_INPUT) {
		snprintf(err, errlen, "time too long (at most %d bytes): %s",
		    OBS_TIME_MAX_INPUT, HINT);
		return -1;
	}
	shown(s, show, sizeof(show));
	if (strcmp(s, "now") == 0) {
		*out = now_ms;
		return 0;
	}
	if (s[0] == '-' || strncmp(s, "now-", 4) == 0) {
		if (obs_duration_parse(s + (s[0] == 'n' ? 3 : 0), &d, err,
		    errlen) == -1)
			return -1;
		if (d > now_ms) {
			snprintf(err, errlen, "'%s' is before 1970", show);
			return -1;
		}
		*out = now_ms - d;
		return 0;
	}
	if (len >= 5 && s[4] == '-')
		return parse_iso(s, show, out, err, errlen);
	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			break;
	if (i < len) {
		snprintf(err, errlen, "'%s' is not a time: %s", show, HINT);
		return -1;
	}
	if (len > 15)
		return check_epoch(-1, show, out, err, errlen);
	for (i = 0; i < len; i++)
		v = v * 10 + (s[i] - '0');
	return check_epoch(v, show, out, err, errlen);
}

int
obs_time_json(const json_t *v, int64_t now_ms, int64_t *out, char *err,
    size_t errlen)
{
	char show[32];

	if (json_is_string(v))
		return obs_time_parse(json_string_value(v), now_ms, out, err,
		    errlen);
	if (json_is_integer(v)) {
		snprintf(show, sizeof(show), "%lld",
		    (long long)json_integer_value(v));
		return check_epoch(json_integer_value(v), show, out, err,
		    errlen);
	}
	snprintf(err, errlen, "not a time: %s", HINT);
	return -1;
}

char *
obs_time_format(int64_t ms, char *out, size_t outlen)
{
	int64_t days, z, era, y;
	unsigned doe, yoe, doy, mp, d, m, sod;

	if (ms < 0)
		ms = 0;
	if (ms > OBS_TIME_MAX_MS)
		ms = OBS_TIME_MAX_MS;
	days = ms / 86400000;
	sod = (unsigned)((ms % 86400000) / 1000);
	z = days + 719468;
	era = z / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = (int64_t)yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	snprintf(out, outlen, "%04lld-%02u-%02uT%02u:%02u:%02u.%03uZ",
	    (long long)y, m, d, sod / 3600, sod / 60 % 60, sod % 60,
	    (unsigned)(ms % 1000));
	return out;
}
