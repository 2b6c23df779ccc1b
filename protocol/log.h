/*
 * log: JSON lines on stderr (never stdout: stdout carries protocol only).
 *
 *   {"ts":"2026-11-27T19:47:19.123Z","level":"info","component":"afu9-github",
 *    "msg":"...", "fields":{...}}
 *
 * AFU9_LOG_LEVEL = debug|info|warn|error (default info).
 * AFU9_LOG_FORMAT = json (default) | text (one human line per event).
 * AFU9_TRACE = a comma-separated list of mcp, http, store (or all): a wire
 * trace, one line for every frame in and out of that subsystem, whatever
 * the level (see log_trace()).
 * Every message and every field value passes through redact_str()/
 * redact_json() before it is written, so a registered secret never reaches
 * the log.  Writes are single write(2) calls of a whole line.
 *
 * log_warn() and fatal() append strerror(errno); the -x variants do not.
 * Helpers below the top layer return errors instead of logging (STYLE.md).
 */
#ifndef AFU9_LOG_H
#define AFU9_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <jansson.h>

enum log_level {
	LOG_LVL_DEBUG = 0,
	LOG_LVL_INFO,
	LOG_LVL_WARN,
	LOG_LVL_ERROR,
};

/* Reads AFU9_LOG_LEVEL and AFU9_LOG_FORMAT; component names the process. */
void	log_init(const char *component);
void	log_set_level(enum log_level);
enum log_level log_get_level(void);
/* "debug"|"info"|"warn"|"warning"|"error" -> 0 and *out; else -1. */
int	log_level_parse(const char *, enum log_level *out);
const char *log_level_name(enum log_level);
/* Redirect output (tests); fd 2 by default. */
void	log_set_fd(int fd);

/*
 * The one emitter.  `component` NULL means the process component set by
 * log_init().  `fields` is borrowed and may be NULL; it is redacted before
 * it is printed.
 */
void	log_emit(enum log_level, const char *component, const json_t *fields,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void	log_vemit(enum log_level, const char *component, const json_t *fields,
	    const char *fmt, va_list);

void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_error(const char *, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void fatal(const char *, ...) __attribute__((format(printf, 1, 2)));

/* Wire-trace subsystems (AFU9_TRACE). */
#define LOG_TRACE_MCP	0x1u	/* MCP frames to and from a child */
#define LOG_TRACE_HTTP	0x2u	/* HTTP requests in, responses out */
#define LOG_TRACE_STORE	0x4u	/* statements to the database, answers */
#define LOG_TRACE_MAX	4096	/* bytes of one frame shown */

extern unsigned log_trace_mask;	/* set by log_init() or log_set_trace() */

/* Is sub traced?  Cheap: test it before building what to trace. */
static inline int
log_tracing(unsigned sub)
{
	return (log_trace_mask & sub) != 0;
}
/* Parse "mcp,http" / "all" / "" into *mask: 0, or -1 on an unknown name. */
int	log_trace_parse(const char *, unsigned *mask);
void	log_set_trace(unsigned mask);
/*
 * One trace line when sub is traced: {"msg":"<sub> <dir> <peer>",
 * "fields":{"trace":sub,"dir":"in"|"out","peer":peer,"bytes":len,
 * "frame":text}}; the frame is redacted like every log line, repaired
 * to UTF-8 (a NUL byte shows as a space; CR, LF and other control bytes
 * are escaped by the line's format) and cut to LOG_TRACE_MAX bytes
 * ("..." marks a cut; "bytes" is the whole length).  Written at any log
 * level.
 */
void	log_trace(unsigned sub, const char *dir, const char *peer,
	    const void *data, size_t len);
_Noreturn void fatalx(const char *, ...) __attribute__((format(printf, 1, 2)));

/*
 * A broken invariant is a bug, never tolerated: fatalx() with where and
 * what ("invariant broken at store.c:1203 (op_done): s->opn > 0"), as
 * sniproxy and Redis assert theirs.  For conditions only a bug in afu9
 * itself can break; input, peers and the system get errors instead.
 */
#define INVARIANT(cond) do {						\
	if (!(cond))							\
		fatalx("invariant broken at %s:%d (%s): %s", __FILE__,	\
		    __LINE__, __func__, #cond);				\
} while (0)

/*
 * What helpers below the top layer use instead, the one error formatter:
 * format a reason into the caller's error buffer err[errlen], with every
 * registered secret and token shape redacted (redact_str(), applied to
 * the whole text before it is cut to fit; always NUL-terminated).  When
 * memory for the whole text or its redaction runs out, err says "out of
 * memory" instead.  err NULL or errlen 0 writes nothing.  Always returns
 * -1, so a helper can `return errfmt(err, errlen, ...);`.
 */
int	errfmt(char *err, size_t errlen, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

#endif
