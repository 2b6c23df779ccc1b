#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "redact.h"
#include "utf8.h"

/*
 * One event is one line, built whole in memory and handed to one write(2)
 * (retried on EINTR and partial writes).  Limits: the message is cut at
 * LOG_MSG_MAX bytes (on a UTF-8 boundary) and marked with LOG_TRUNC_MARK;
 * fields whose JSON exceeds LOG_FIELDS_MAX bytes are replaced by
 * {"_truncated":true,"_bytes":N}.  Redaction runs on the whole message
 * before it is cut, so a cut can never leave the head of a secret behind.
 */
#define LOG_MSG_MAX		65536
#define LOG_FIELDS_MAX		65536
#define LOG_TRUNC_MARK		"...[truncated]"
#define LOG_COMPONENT_MAX	64
#define LOG_LINE_MAX		(8 * (LOG_MSG_MAX + LOG_FIELDS_MAX) + 1024)
#define LOG_BLOCK_MS		1000	/* wait on a full non-blocking fd */

/* Let the compiler check the format plumbing inside this file too. */
void	log_vemit(enum log_level, const char *, const json_t *, const char *,
	    va_list) __attribute__((format(printf, 4, 0)));
static char	*format_msg(const char *, va_list, int)
	    __attribute__((format(printf, 1, 0)));
static void	 log_vemit_force(enum log_level, const char *, const json_t *,
		    int, int, const char *, va_list);
static void	 log_vemit_err(enum log_level, const char *, const json_t *, int,
	    const char *, va_list) __attribute__((format(printf, 5, 0)));

enum log_format {
	LOG_FMT_JSON,
	LOG_FMT_TEXT,
};

static enum log_level	log_level = LOG_LVL_INFO;
unsigned		log_trace_mask;
static enum log_format	log_format = LOG_FMT_JSON;
static int		log_fd = 2;
static char		log_component[LOG_COMPONENT_MAX] = "afu9";

static const char *const level_names[] = { "debug", "info", "warn", "error" };
static const char *const level_upper[] = { "DEBUG", "INFO", "WARN", "ERROR" };

/*
 * Reads AFU9_LOG_LEVEL and AFU9_LOG_FORMAT; an unset variable means the
 * default (info, json), an unknown value keeps the default and is reported
 * once as a warning.  The output fd is left as it is.
 */
void
log_init(const char *component)
{
	const char *lv = getenv("AFU9_LOG_LEVEL");
	const char *fm = getenv("AFU9_LOG_FORMAT");
	const char *tr = getenv("AFU9_TRACE");
	enum log_level l = LOG_LVL_INFO;
	int badfmt = 0, badlvl = 0, badtrace = 0;

	if (component != NULL)
		snprintf(log_component, sizeof(log_component), "%s", component);
	if (lv != NULL && *lv != '\0' && log_level_parse(lv, &l) == -1)
		badlvl = 1;
	log_level = l;
	log_format = LOG_FMT_JSON;
	if (fm != NULL && *fm != '\0') {
		if (strcasecmp(fm, "text") == 0)
			log_format = LOG_FMT_TEXT;
		else if (strcasecmp(fm, "json") != 0)
			badfmt = 1;
	}
	log_trace_mask = 0;
	if (tr != NULL && log_trace_parse(tr, &log_trace_mask) == -1)
		badtrace = 1;
	if (badtrace)
		log_warnx("AFU9_TRACE=%s: each name must be one of mcp, http, "
		    "store, all; tracing %s", tr, log_trace_mask ? "the known "
		    "ones" : "nothing");
	if (badlvl)
		log_warnx("AFU9_LOG_LEVEL=%s is not one of debug, info, warn, "
		    "error; using info", lv);
	if (badfmt)
		log_warnx("AFU9_LOG_FORMAT=%s is not json or text; using json",
		    fm);
}

void
log_set_level(enum log_level l)
{
	if (l >= LOG_LVL_DEBUG && l <= LOG_LVL_ERROR)
		log_level = l;
}

enum log_level
log_get_level(void)
{
	return log_level;
}

/* Case-insensitive. */
int
log_level_parse(const char *s, enum log_level *out)
{
	size_t i;

	if (s == NULL)
		return -1;
	for (i = 0; i < sizeof(level_names) / sizeof(*level_names); i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (strcasecmp(s, "warning") == 0) {
		*out = LOG_LVL_WARN;
		return 0;
	}
	return -1;
}

/* Static string; "unknown" for a value outside the enum. */
const char *
log_level_name(enum log_level l)
{
	if (l < LOG_LVL_DEBUG || l > LOG_LVL_ERROR)
		return "unknown";
	return level_names[l];
}

/* Stdout carries protocol messages only: fd 1 (and fd < 0) is refused. */
void
log_set_fd(int fd)
{
	if (fd >= 0 && fd != STDOUT_FILENO)
		log_fd = fd;
}

/*
 * Append s[0..n) as the body of a JSON string: quotes, backslashes and
 * control characters escaped, invalid UTF-8 bytes replaced by U+FFFD so
 * the line always parses.
 */
static int
put_json_chars(struct buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;
	int rc = 0;

	while (i < n && rc == 0) {
		if (p[i] == '"' || p[i] == '\\') {
			rc = buf_printf(b, "\\%c", p[i]);
			k = 1;
		} else if (p[i] == '\n' || p[i] == '\t' || p[i] == '\r') {
			rc = buf_append(b, p[i] == '\n' ? "\\n" :
			    p[i] == '\t' ? "\\t" : "\\r", 2);
			k = 1;
		} else if (p[i] < 0x20 || p[i] == 0x7f) {
			rc = buf_printf(b, "\\u%04x", p[i]);
			k = 1;
		} else if ((k = u8_charlen(p + i, n - i)) == 0) {
			rc = buf_append(b, "\\ufffd", 6);
			k = 1;
		} else
			rc = buf_append(b, p + i, k);
		i += k;
	}
	return rc;
}

static int
put_json_str(struct buf *b, const char *s, size_t n)
{
	if (buf_append(b, "\"", 1) == -1 || put_json_chars(b, s, n) == -1)
		return -1;
	return buf_append(b, "\"", 1);
}

/*
 * Append s[0..n) for a human reader on one line: printable ASCII and valid
 * UTF-8 as they are, "\n" "\t" "\r" escaped, other bytes as \xNN.
 */
static int
put_text_chars(struct buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;
	int rc = 0;

	while (i < n && rc == 0) {
		k = 1;
		if (p[i] == '\n')
			rc = buf_append(b, "\\n", 2);
		else if (p[i] == '\t')
			rc = buf_append(b, "\\t", 2);
		else if (p[i] == '\r')
			rc = buf_append(b, "\\r", 2);
		else if (p[i] < 0x20 || p[i] == 0x7f ||
		    (k = u8_charlen(p + i, n - i)) == 0) {
			rc = buf_printf(b, "\\x%02x", p[i]);
			k = 1;
		} else
			rc = buf_append(b, p + i, k);
		i += k;
	}
	return rc;
}

/* "2026-11-27T19:47:19.123Z" into ts (at least 32 bytes). */
static void
format_ts(char *ts, size_t len)
{
	struct timespec now;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	n = strftime(ts, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, len - n, ".%03ldZ", now.tv_nsec / 1000000);
}

/*
 * Format the message, redact it, cut it to LOG_MSG_MAX (marking the cut)
 * and, when errnum >= 0, append ": strerror(errnum)" after the cut so the
 * reason is never lost.  Returns a malloc'd string, or NULL on ENOMEM.
 */
static char *
format_msg(const char *fmt, va_list ap, int errnum)
{
	char small[1024], *raw = small, *red, *out;
	size_t len, room;
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(small, sizeof(small), fmt, cp);
	va_end(cp);
	if (n < 0)
		snprintf(small, sizeof(small), "(bad log format: %s)", fmt);
	else if ((size_t)n >= sizeof(small)) {
		if ((raw = malloc((size_t)n + 1)) == NULL)
			return NULL;
		va_copy(cp, ap);
		vsnprintf(raw, (size_t)n + 1, fmt, cp);
		va_end(cp);
	}
	red = redact_str(raw);
	if (raw != small)
		free(raw);
	if (red == NULL)
		return NULL;
	len = u8_cut(red, strlen(red), LOG_MSG_MAX);
	room = len + sizeof(LOG_TRUNC_MARK) + 256;
	if ((out = malloc(room)) == NULL) {
		free(red);
		return NULL;
	}
	snprintf(out, room, "%.*s%s%s%s", (int)len, red,
	    red[len] != '\0' ? LOG_TRUNC_MARK : "",
	    errnum >= 0 ? ": " : "", errnum >= 0 ? strerror(errnum) : "");
	free(red);
	return out;
}

/*
 * Redacted copy of fields as compact JSON, or NULL when there is nothing
 * to print (NULL, empty object) or on ENOMEM.  *red receives the redacted
 * value (new reference, caller decrefs) for the text format.
 */
static char *
format_fields(const json_t *fields, json_t **red)
{
	char *s;
	size_t n;

	*red = NULL;
	if (fields == NULL || (json_is_object(fields) && json_object_size(fields) == 0))
		return NULL;
	if ((*red = redact_json(fields)) == NULL)
		return NULL;
	if ((s = json_dumps(*red, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL)
		return NULL;
	if ((n = strlen(s)) > LOG_FIELDS_MAX) {
		free(s);
		json_decref(*red);
		*red = json_pack("{sbsI}", "_truncated", 1, "_bytes", (json_int_t)n);
		if (*red == NULL)
			return NULL;
		s = json_dumps(*red, JSON_COMPACT);
	}
	return s;
}

static int
line_json(struct buf *b, const char *ts, enum log_level l, const char *comp,
    const char *msg, const char *fields)
{
	if (buf_printf(b, "{\"ts\":\"%s\",\"level\":\"%s\",\"component\":",
	    ts, level_names[l]) == -1 ||
	    put_json_str(b, comp, strlen(comp)) == -1 ||
	    buf_append(b, ",\"msg\":", 7) == -1 ||
	    put_json_str(b, msg, strlen(msg)) == -1)
		return -1;
	if (fields != NULL && buf_printf(b, ",\"fields\":%s", fields) == -1)
		return -1;
	return buf_append(b, "}\n", 2);
}

/* Does a string value need quoting in the text format? */
static int
text_needs_quotes(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 1;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == '"' || s[i] == '=' ||
		    s[i] == '\\' || s[i] == 0x7f)
			return 1;
	return 0;
}

/* " key=value": strings bare when safe, JSON-quoted otherwise. */
static int
text_field(struct buf *b, const char *key, const json_t *v)
{
	const char *s;
	char *d;
	size_t n;
	int rc;

	if (buf_append(b, " ", 1) == -1 ||
	    put_text_chars(b, key, strlen(key)) == -1 ||
	    buf_append(b, "=", 1) == -1)
		return -1;
	if (json_is_string(v)) {
		s = json_string_value(v);
		n = json_string_length(v);
		if (text_needs_quotes(s, n))
			return put_json_str(b, s, n);
		return put_text_chars(b, s, n);
	}
	if ((d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL)
		return -1;
	rc = buf_append(b, d, strlen(d));
	free(d);
	return rc;
}

static int
line_text(struct buf *b, const char *ts, enum log_level l, const char *comp,
    const char *msg, const json_t *red, const char *fields)
{
	const char *key;
	json_t *v;

	if (buf_printf(b, "%s %s ", ts, level_upper[l]) == -1 ||
	    put_text_chars(b, comp, strlen(comp)) == -1 ||
	    buf_append(b, ": ", 2) == -1 ||
	    put_text_chars(b, msg, strlen(msg)) == -1)
		return -1;
	if (fields != NULL && json_is_object(red)) {
		json_object_foreach((json_t *)red, key, v)
			if (text_field(b, key, v) == -1)
				return -1;
	} else if (fields != NULL &&
	    (buf_append(b, " fields=", 8) == -1 ||
	    buf_append(b, fields, strlen(fields)) == -1))
		return -1;
	return buf_append(b, "\n", 1);
}

/*
 * Write all of p[0..n) to fd: retried on EINTR and partial writes; on a
 * non-blocking fd that is full, waits up to LOG_BLOCK_MS for room and then
 * drops the rest (a stuck log reader must not stop the process forever).
 */
static void
write_all(int fd, const char *p, size_t n)
{
	struct pollfd pfd;
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			if (poll(&pfd, 1, LOG_BLOCK_MS) > 0)
				continue;
		}
		return;
	}
}

/*
 * The emitter behind every public entry point; errnum >= 0 appends
 * ": strerror(errnum)".  Never changes errno.
 */
static void
log_vemit_err(enum log_level l, const char *comp, const json_t *fields,
    int errnum, const char *fmt, va_list ap)
{
	log_vemit_force(l, comp, fields, errnum, 0, fmt, ap);
}

/* The one line writer; force: whatever the level (traces). */
static void
log_vemit_force(enum log_level l, const char *comp, const json_t *fields,
    int errnum, int force, const char *fmt, va_list ap)
{
	int saved = errno, rc;
	char ts[40], *msg, *fs;
	json_t *red;
	struct buf b;

	if (l < log_level && !force)
		return;
	if (l > LOG_LVL_ERROR)
		l = LOG_LVL_ERROR;
	if (comp == NULL)
		comp = log_component;
	format_ts(ts, sizeof(ts));
	msg = format_msg(fmt, ap, errnum);
	fs = format_fields(fields, &red);
	buf_init(&b, LOG_LINE_MAX);
	if (log_format == LOG_FMT_TEXT)
		rc = line_text(&b, ts, l, comp, msg ? msg : "(out of memory)",
		    red, fs);
	else
		rc = line_json(&b, ts, l, comp, msg ? msg : "(out of memory)",
		    fs);
	if (rc == 0)
		write_all(log_fd, buf_data(&b), buf_used(&b));
	buf_free(&b);
	free(fs);
	json_decref(red);
	free(msg);
	errno = saved;
}

void
log_vemit(enum log_level l, const char *comp, const json_t *fields,
    const char *fmt, va_list ap)
{
	log_vemit_err(l, comp, fields, -1, fmt, ap);
}

void
log_emit(enum log_level l, const char *comp, const json_t *fields,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit_err(l, comp, fields, -1, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit_err(LOG_LVL_DEBUG, NULL, NULL, -1, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit_err(LOG_LVL_INFO, NULL, NULL, -1, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vemit_err(LOG_LVL_WARN, NULL, NULL, saved, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit_err(LOG_LVL_WARN, NULL, NULL, -1, fmt, ap);
	va_end(ap);
}

void
log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit_err(LOG_LVL_ERROR, NULL, NULL, -1, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vemit_err(LOG_LVL_ERROR, NULL, NULL, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit_err(LOG_LVL_ERROR, NULL, NULL, -1, fmt, ap);
	va_end(ap);
	exit(1);
}

int
errfmt(char *err, size_t errlen, const char *fmt, ...)
{
	char raw[1024], *big = NULL, *clean;
	const char *text = raw;
	va_list ap;
	int n;

	if (err == NULL || errlen == 0)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(raw)) {	/* redact the whole text, then cut */
		va_start(ap, fmt);
		if (vasprintf(&big, fmt, ap) == -1)
			big = NULL;
		va_end(ap);
		/* raw, cut before redaction, may end in a secret's head */
		text = big != NULL ? big : "out of memory";
	}
	if (!redact_would_change(text, strlen(text)))
		snprintf(err, errlen, "%s", text);
	else if ((clean = redact_str(text)) == NULL)
		snprintf(err, errlen, "out of memory");
	else {
		snprintf(err, errlen, "%s", clean);
		redact_wipe_free(clean);
	}
	explicit_bzero(raw, sizeof(raw));
	redact_wipe_free(big);
	return -1;
}

static const char *const trace_names[] = { "mcp", "http", "store" };

int
log_trace_parse(const char *s, unsigned *mask)
{
	size_t i, n;
	int rc = 0;

	*mask = 0;
	while (*s != '\0') {
		n = strcspn(s, ",");
		if (n == 3 && strncasecmp(s, "all", 3) == 0)
			*mask |= LOG_TRACE_MCP | LOG_TRACE_HTTP | LOG_TRACE_STORE;
		else if (n > 0) {
			for (i = 0; i < 3; i++)
				if (strlen(trace_names[i]) == n &&
				    strncasecmp(s, trace_names[i], n) == 0)
					break;
			if (i < 3)
				*mask |= 1u << i;
			else
				rc = -1;
		}
		s += n;
		if (*s == ',')
			s++;
	}
	return rc;
}

void
log_set_trace(unsigned mask)
{
	log_trace_mask = mask;
}

/* Calls log_vemit_force() with a va_list. */
static void
trace_emit(const json_t *fields, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit_force(LOG_LVL_DEBUG, NULL, fields, -1, 1, fmt, ap);
	va_end(ap);
}

void
log_trace(unsigned sub, const char *dir, const char *peer, const void *data,
    size_t len)
{
	const char *name = "trace";
	char *text, *clean;
	json_t *f;
	size_t i, n;

	if (!log_tracing(sub))
		return;
	for (i = 0; i < 3; i++)
		if (sub == 1u << i)
			name = trace_names[i];
	if (peer == NULL)
		peer = "";
	/* Cut first (a frame may be megabytes), then repair and mark. */
	n = len < LOG_TRACE_MAX + 4 ? len : LOG_TRACE_MAX + 4;
	if ((text = malloc(n + 1)) == NULL)
		return;
	memcpy(text, data, n);
	text[n] = '\0';
	for (i = 0; i < n; i++)		/* the copy is a C string */
		if (text[i] == '\0')
			text[i] = ' ';
	clean = u8_clean(text, len > LOG_TRACE_MAX ? LOG_TRACE_MAX : SIZE_MAX,
	    "...");
	free(text);
	if (clean == NULL)
		return;
	f = json_pack("{s:s, s:s, s:s, s:I, s:s}", "trace", name, "dir", dir,
	    "peer", peer, "bytes", (json_int_t)len, "frame", clean);
	free(clean);
	if (f == NULL)
		return;
	trace_emit(f, "%s %s %s", name, dir, peer);
	json_decref(f);
}
