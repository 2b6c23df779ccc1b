/*
 * timeparse: the times and durations afu9-observability accepts from a
 * model, and the one way it writes times back.
 *
 * A time is one of:
 *   epoch milliseconds	"1714564800000" (or a JSON integer), from
 *			OBS_TIME_MIN_MS (1973-03-03) to OBS_TIME_MAX_MS
 *			(9999-12-31T23:59:59.999Z); a smaller number is
 *			refused as probably seconds;
 *   ISO 8601		"2024-05-01", "2024-05-01T12:00", "2024-05-01T12:00:00Z",
 *			"2024-05-01 12:00:00.250+02:00", "...-0530": a date,
 *			optionally 'T' or ' ' and hh:mm[:ss[.fraction]],
 *			optionally Z or an offset (+hh:mm, +hhmm, +hh).  No
 *			offset means UTC.  Fractions beyond milliseconds are
 *			dropped;
 *   relative		"now", "-15m", "now-15m", "-2h", "-1d", "-30s", "-1w":
 *			that long before now.
 * A duration is N followed by a unit: s, m, h, d or w ("15m", "1h"),
 * N from 1 to the bound of OBS_TIME_MAX_DURATION_MS.
 *
 * Every error names the input as given (cut to OBS_TIME_MAX_INPUT bytes,
 * non-printing bytes shown as '?') and says what is accepted; callers put
 * the argument's name in front.
 */
#ifndef AFU9_OBS_TIMEPARSE_H
#define AFU9_OBS_TIMEPARSE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define OBS_TIME_MAX_INPUT	64		/* bytes of a time string */
#define OBS_TIME_MIN_MS		100000000000LL	/* 1973-03-03T09:46:40Z */
#define OBS_TIME_MAX_MS		253402300799999LL /* 9999-12-31T23:59:59.999Z */
#define OBS_TIME_MAX_DURATION_MS (3650LL * 86400 * 1000)	/* ten years */
#define OBS_TIME_ISO_LEN	25	/* "2024-05-01T12:00:00.000Z" + NUL */

/*
 * Parse the time `s` relative to now_ms into *out (epoch milliseconds).
 * 0, or -1 with the reason in err (errlen bytes, NUL-terminated).
 */
int	obs_time_parse(const char *s, int64_t now_ms, int64_t *out, char *err,
	    size_t errlen);

/*
 * A time given as a JSON value (borrowed): a string as obs_time_parse()
 * takes, or an integer of epoch milliseconds.  0, or -1 with err filled.
 */
int	obs_time_json(const json_t *v, int64_t now_ms, int64_t *out, char *err,
	    size_t errlen);

/*
 * Parse the duration `s` ("15m"; a leading '-' is allowed and ignored) into
 * *out_ms.  0, or -1 with err filled.
 */
int	obs_duration_parse(const char *s, int64_t *out_ms, char *err,
	    size_t errlen);

/*
 * Write ms as "YYYY-MM-DDThh:mm:ss.mmmZ" into out (at least
 * OBS_TIME_ISO_LEN bytes).  Returns out; a time outside 0..OBS_TIME_MAX_MS
 * is clamped to that range.
 */
char	*obs_time_format(int64_t ms, char *out, size_t outlen);

/* Days from 1970-01-01 to the civil date y-m-d (proleptic Gregorian). */
int64_t	obs_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
