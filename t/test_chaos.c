/*
 * Allocation failure, everywhere it can happen.  Each operation below is
 * run again and again with allocation N failing, for N = 1, 2, 3 ...
 * until a run makes fewer than N allocations.  Every run must either do
 * exactly what the run without a failure does, or fail as documented
 * (NULL, -1 with ENOMEM, an "out of memory" error), and must leave nothing
 * allocated: what a run allocates and does not free is a leak, whatever
 * the result.
 *
 * Two ways to fail, each over every N:
 *  - once: allocation N fails and later ones succeed (memory came back),
 *    which shows a failure that is ignored, since the operation goes on;
 *  - from N on: allocation N and every later one fail (memory is gone),
 *    as jansson's own test_chaos.c does.
 * jansson's allocations (json_set_alloc_funcs()) fail only the second way:
 * jansson itself does not survive the first (its lexer drops the byte it
 * could not save and parses on, load.c lex_save()), so a "once" failure
 * inside jansson would only test jansson.
 *
 * Our own calls to malloc, calloc, realloc, reallocarray, strdup,
 * strndup, asprintf and vasprintf, and regcomp and regexec (which
 * allocate inside libc and then return REG_ESPACE), reach the wrappers
 * below through the linker's --wrap (Makefile.am): only calls made from
 * our objects are counted, never libc's, libev's or libcurl's own.  While
 * a run is armed every allocation is tracked by address, so a run that
 * frees what it got ends with nothing tracked.
 *
 * Nothing in an armed run may allocate on the test's behalf before it
 * calls chaos_hold() (no ck_assert: Check allocates too); the checks
 * come after, on what the run recorded in static storage.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>
#include <jansson.h>

#include "buf.h"
#include "frame.h"
#include "jschema.h"
#include "log.h"
#include "mcp_client.h"
#include "redact.h"
#include "rpc.h"
#include "utf8.h"
#include "conf/conf.h"
#include "engine/defn.h"
#include "engine/expr.h"
#include "testutil.h"

/* --- the allocator ------------------------------------------------------ */

void	*__real_malloc(size_t);
void	*__real_calloc(size_t, size_t);
void	*__real_realloc(void *, size_t);
void	 __real_free(void *);
int	 __real_regcomp(regex_t *, const char *, int);
int	 __real_regexec(const regex_t *, const char *, size_t, regmatch_t *,
	    int);

void	*__wrap_malloc(size_t);
void	*__wrap_calloc(size_t, size_t);
void	*__wrap_realloc(void *, size_t);
void	*__wrap_reallocarray(void *, size_t, size_t);
void	 __wrap_free(void *);
char	*__wrap_strdup(const char *);
char	*__wrap_strndup(const char *, size_t);
int	 __wrap_vasprintf(char **, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));
int	 __wrap_asprintf(char **, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	 __wrap_regcomp(regex_t *, const char *, int);
int	 __wrap_regexec(const regex_t *, const char *, size_t, regmatch_t *,
	    int);

enum chaos_mode {
	CHAOS_ONCE,		/* only allocation N fails */
	CHAOS_FROM,		/* allocation N and every later one fail */
};

static const char *const mode_names[] = { "once", "from N on" };

static struct {
	int		 armed;		/* tracking allocations */
	int		 failing;	/* counting, and failing the Nth */
	enum chaos_mode	 mode;
	unsigned long	 n;		/* 0: count only */
	unsigned long	 calls;		/* allocations counted this run */
	unsigned long	 injected;	/* failures injected this run */
	const char	*op;		/* for a crash report */
} C;

/*
 * Live allocations of the armed run, by address: linear probing with
 * backward-shift deletion (no tombstones), so the table is empty again
 * whenever nothing is live.
 */
#define TRACK_BITS	15
#define TRACK_SLOTS	(1u << TRACK_BITS)
static uintptr_t	track[TRACK_SLOTS];
static size_t		tracked;

static size_t
track_home(uintptr_t p)
{
	return (size_t)(((uint64_t)p * 0x9e3779b97f4a7c15ull) >>
	    (64 - TRACK_BITS));
}

static void
track_add(void *vp)
{
	uintptr_t p = (uintptr_t)vp;
	size_t i;

	if (tracked >= TRACK_SLOTS / 2) {
		static const char m[] = "test_chaos: tracking table full\n";

		(void)write(2, m, sizeof(m) - 1);
		abort();
	}
	for (i = track_home(p); track[i] != 0; i = (i + 1) & (TRACK_SLOTS - 1))
		if (track[i] == p)
			return;
	track[i] = p;
	tracked++;
}

/* 1 if p was tracked (it is not any more). */
static int
track_del(void *vp)
{
	uintptr_t p = (uintptr_t)vp;
	size_t i, j, k;

	if (tracked == 0 || p == 0)
		return 0;
	for (i = track_home(p); track[i] != p; i = (i + 1) & (TRACK_SLOTS - 1))
		if (track[i] == 0)
			return 0;
	tracked--;
	for (j = i;;) {
		track[i] = 0;
		for (;;) {
			j = (j + 1) & (TRACK_SLOTS - 1);
			if (track[j] == 0)
				return 1;
			k = track_home(track[j]);
			/* stays when its home lies cyclically in (i, j] */
			if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
				continue;
			break;
		}
		track[i] = track[j];
		i = j;
	}
}

/*
 * Does this allocation fail?  own: made by our code, not by jansson
 * (counted in both modes; jansson's only from N on).
 */
static int
chaos_fail_now(int own)
{
	if (!C.failing || (!own && C.mode == CHAOS_ONCE))
		return 0;
	C.calls++;
	if (C.n == 0 || C.calls < C.n ||
	    (C.calls > C.n && C.mode == CHAOS_ONCE))
		return 0;
	C.injected++;
	errno = ENOMEM;
	return 1;
}

static void *
chaos_alloc(size_t n, int own)
{
	void *p;

	if (chaos_fail_now(own))
		return NULL;
	if ((p = __real_malloc(n)) != NULL && C.armed)
		track_add(p);
	return p;
}

void *
__wrap_malloc(size_t n)
{
	return chaos_alloc(n, 1);
}

void *
__wrap_calloc(size_t nmemb, size_t size)
{
	void *p;

	if (chaos_fail_now(1))
		return NULL;
	if ((p = __real_calloc(nmemb, size)) != NULL && C.armed)
		track_add(p);
	return p;
}

/* What realloc() grew stays tracked if the old block was. */
void *
__wrap_realloc(void *old, size_t n)
{
	void *p;
	int was;

	if (chaos_fail_now(1))
		return NULL;
	if ((p = __real_realloc(old, n)) == NULL)
		return NULL;
	was = old == NULL ? C.armed : track_del(old);
	if (was)
		track_add(p);
	return p;
}

void *
__wrap_reallocarray(void *old, size_t nmemb, size_t size)
{
	if (size != 0 && nmemb > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	return __wrap_realloc(old, nmemb * size);
}

void
__wrap_free(void *p)
{
	track_del(p);
	__real_free(p);
}

char *
__wrap_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p;

	if ((p = chaos_alloc(n, 1)) != NULL)
		memcpy(p, s, n);
	return p;
}

char *
__wrap_strndup(const char *s, size_t max)
{
	size_t n = strnlen(s, max);
	char *p;

	if ((p = chaos_alloc(n + 1, 1)) != NULL) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

int
__wrap_vasprintf(char **out, const char *fmt, va_list ap)
{
	va_list cp;
	char *p;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0 || (p = chaos_alloc((size_t)n + 1, 1)) == NULL)
		return -1;
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	*out = p;
	return n;
}

int
__wrap_asprintf(char **out, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = __wrap_vasprintf(out, fmt, ap);
	va_end(ap);
	return n;
}

int
__wrap_regcomp(regex_t *re, const char *pat, int flags)
{
	if (chaos_fail_now(1))
		return REG_ESPACE;
	return __real_regcomp(re, pat, flags);
}

int
__wrap_regexec(const regex_t *re, const char *s, size_t nm, regmatch_t *m,
    int flags)
{
	if (chaos_fail_now(1))
		return REG_ESPACE;
	return __real_regexec(re, s, nm, m, flags);
}

static void *
chaos_json_malloc(size_t n)
{
	return chaos_alloc(n, 0);
}

static void
chaos_json_free(void *p)
{
	__wrap_free(p);
}

/* Start a run: track everything; with n > 0 allocation n fails (mode). */
static void
chaos_arm(unsigned long n, enum chaos_mode mode)
{
	C.armed = C.failing = 1;
	C.mode = mode;
	C.n = n;
	C.calls = C.injected = 0;
}

/* Nothing fails from here on; allocations are still tracked. */
static void
chaos_hold(void)
{
	C.failing = 0;
}

/* End the run: allocations still live (leaks), now forgotten. */
static size_t
chaos_end(void)
{
	size_t live = tracked;

	C.armed = C.failing = 0;
	if (tracked > 0) {
		memset(track, 0, sizeof(track));
		tracked = 0;
	}
	return live;
}

/* A crash names the run it happened in, then the old handler runs. */
static struct sigaction	old_segv, old_abrt;

static void
put_str(char *buf, size_t *o, size_t len, const char *s)
{
	while (*s != '\0' && *o + 1 < len)
		buf[(*o)++] = *s++;
}

static void
crash_handler(int sig)
{
	char buf[256], num[24], *p = num + sizeof(num);
	unsigned long n = C.n;
	size_t o = 0;

	*--p = '\0';
	do
		*--p = (char)('0' + n % 10);
	while ((n /= 10) != 0);
	put_str(buf, &o, sizeof(buf), "test_chaos: crashed in ");
	put_str(buf, &o, sizeof(buf), C.op != NULL ? C.op : "(setup)");
	put_str(buf, &o, sizeof(buf), " with allocation ");
	put_str(buf, &o, sizeof(buf), p);
	put_str(buf, &o, sizeof(buf), " failing ");
	put_str(buf, &o, sizeof(buf), mode_names[C.mode]);
	put_str(buf, &o, sizeof(buf), "\n");
	(void)write(2, buf, o);
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGABRT, &old_abrt, NULL);
	/* returning re-runs the fault (SIGSEGV); raise the rest */
	if (sig != SIGSEGV)
		raise(sig);
}

static void
crash_report_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = crash_handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old_segv);
	sigaction(SIGABRT, &sa, &old_abrt);
}

/* --- the driver --------------------------------------------------------- */

/*
 * An operation: does its work (armed), calls chaos_hold(), checks what it
 * got, describes it into out, and frees everything.  Returns CH_OK when it
 * did its work (out: what a user sees, compared with the run without a
 * failure), CH_FAILED when it failed as documented, CH_BAD with the broken
 * rule in out.
 */
enum { CH_OK, CH_FAILED, CH_BAD };
typedef int (*chaos_fn)(void *arg, char *out, size_t len);

#define OUT_MAX		16384
#define CHAOS_MAX_N	100000

static char	ref_out[OUT_MAX], run_out[OUT_MAX];

/* Printf into out at its end; a helper for the describers. */
static void outf(char *out, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
outf(char *out, size_t len, const char *fmt, ...)
{
	size_t o = strlen(out);
	va_list ap;

	if (o + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(out + o, len - o, fmt, ap);
	va_end(ap);
}

/* CH_BAD with the reason in out. */
static int bad(char *out, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
bad(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, len, fmt, ap);
	va_end(ap);
	return CH_BAD;
}

static int
run_once(const char *name, chaos_fn fn, void *arg, unsigned long n,
    enum chaos_mode mode, char *out, size_t *live)
{
	int r;

	C.op = name;
	out[0] = '\0';
	chaos_arm(n, mode);
	r = fn(arg, out, OUT_MAX);
	*live = chaos_end();
	return r;
}

/*
 * Run fn without a failure (it must succeed: that is the reference), then
 * with allocation N failing for every N, both modes.  Returns the number
 * of allocations the operation makes (from-N-on count), which the caller
 * may bound from below so the test cannot pass by allocating nothing.
 */
static unsigned long
chaos_every_n(const char *name, chaos_fn fn, void *arg)
{
	unsigned long n, counted[2] = { 0, 0 }, failed[2] = { 0, 0 };
	enum chaos_mode mode;
	double t0 = t_now_ms();
	size_t live;
	int r;

	r = run_once(name, fn, arg, 0, CHAOS_FROM, ref_out, &live);
	ck_assert_msg(r == CH_OK, "%s without a failure: %s", name,
	    r == CH_BAD ? ref_out : "failed");
	ck_assert_msg(live == 0, "%s without a failure: %zu allocations "
	    "left", name, live);
	for (mode = CHAOS_ONCE; mode <= CHAOS_FROM; mode++) {
		for (n = 1; n < CHAOS_MAX_N; n++) {
			r = run_once(name, fn, arg, n, mode, run_out, &live);
			ck_assert_msg(r != CH_BAD, "%s, allocation %lu failing "
			    "%s: %s", name, n, mode_names[mode], run_out);
			ck_assert_msg(live == 0, "%s, allocation %lu failing "
			    "%s: %zu allocations left (leak)", name, n,
			    mode_names[mode], live);
			if (C.injected == 0) {
				ck_assert_msg(r == CH_OK, "%s: failed with no "
				    "allocation failing", name);
				break;
			}
			if (r == CH_OK)
				ck_assert_msg(strcmp(run_out, ref_out) == 0,
				    "%s, allocation %lu failing %s: succeeded "
				    "with a different result:\n%s\ninstead "
				    "of:\n%s", name, n, mode_names[mode],
				    run_out, ref_out);
			else
				failed[mode]++;
		}
		ck_assert_msg(n < CHAOS_MAX_N, "%s: no end", name);
		counted[mode] = n - 1;
	}
	C.op = NULL;
	fprintf(stderr, "# chaos: %s: %lu allocations, %lu of them ours; "
	    "failed cleanly/recovered: once %lu/%lu, from N on %lu/%lu "
	    "(%.0f ms)\n", name, counted[CHAOS_FROM], counted[CHAOS_ONCE],
	    failed[CHAOS_ONCE], counted[CHAOS_ONCE] - failed[CHAOS_ONCE],
	    failed[CHAOS_FROM], counted[CHAOS_FROM] - failed[CHAOS_FROM],
	    t_now_ms() - t0);
	return counted[CHAOS_FROM];
}

#define EVERY_N(fn, arg, min) do {					\
	unsigned long n_ = chaos_every_n(#fn, (fn), (arg));		\
	ck_assert_msg(n_ >= (min), #fn ": only %lu allocations", n_);	\
} while (0)

/* Compact, sorted-keys JSON of v into out (after chaos_hold()). */
static void
out_json(char *out, size_t len, const char *label, const json_t *v)
{
	char *d;

	if (v == NULL) {
		outf(out, len, "%s=(none)\n", label);
		return;
	}
	d = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	outf(out, len, "%s=%s\n", label, d != NULL ? d : "(dump failed)");
	free(d);
}

/* --- buf, utf8 ---------------------------------------------------------- */

static char	filler[120000];
static char	expect_buf[64 * 1024];

/*
 * Forty appends and printfs (past the 256-byte printf buffer, and the
 * buffer grown four times).  A refused one leaves what was there.
 */
static int
op_buf(void *arg, char *out, size_t len)
{
	struct buf b;
	size_t want = 0, piece;
	int i, rc = 0, saved = 0;

	buf_init(&b, 1u << 20);
	for (i = 0; i < 40 && rc == 0; i++) {
		piece = 400 + (size_t)i * 7;
		if (i % 2 == 0)
			rc = buf_append(&b, filler, piece);
		else
			rc = buf_printf(&b, "%d:%.*s;", i, (int)piece, filler);
		saved = errno;
		if (rc == 0 && i % 2 == 0) {
			memcpy(expect_buf + want, filler, piece);
			want += piece;
		} else if (rc == 0)
			want += (size_t)snprintf(expect_buf + want,
			    sizeof(expect_buf) - want, "%d:%.*s;", i,
			    (int)piece, filler);
	}
	chaos_hold();
	if (rc == -1 && saved != ENOMEM)
		return bad(out, len, "refused with errno %d, not ENOMEM", saved);
	if (buf_used(&b) != want ||
	    (want > 0 && memcmp(buf_data(&b), expect_buf, want) != 0))
		return bad(out, len, "holds %zu bytes, %zu expected (a refused "
		    "append changed the buffer)", buf_used(&b), want);
	outf(out, len, "%zu bytes\n", want);
	buf_free(&b);
	return rc == 0 ? CH_OK : CH_FAILED;
}

static int
op_u8_clean(void *arg, char *out, size_t len)
{
	char *s;

	s = u8_clean("caf\xc3\xa9 \xff and a long tail to cut", 24, "...");
	chaos_hold();
	if (s == NULL)
		return errno == ENOMEM ? CH_FAILED : bad(out, len, "errno %d",
		    errno);
	outf(out, len, "%s\n", s);
	free(s);
	return CH_OK;
}

START_TEST(buf_and_utf8)
{
	EVERY_N(op_buf, NULL, 20);
	EVERY_N(op_u8_clean, NULL, 1);
}
END_TEST

/* --- redact ------------------------------------------------------------- */

#define SECRET		"Zq9-secret-value-77"
#define SECRET_HEAD	"Zq9"
#define GH_TOKEN	"ghp_abcdefghijklmnopqrstuvwxyz0123"

static json_t	*redact_in;

/* Register a secret, scrub a string and a tree, forget the secret. */
static int
op_redact(void *arg, char *out, size_t len)
{
	char *s = NULL;
	json_t *r = NULL;
	int rc, e1 = 0, e2 = 0;

	rc = redact_add_secret(SECRET);
	e1 = errno;
	if (rc == 0) {
		s = redact_str("key " SECRET " then " GH_TOKEN " and Bearer "
		    "abcdefghijklmnopqrstuvwxyz in one line");
		e2 = errno;
		if (s != NULL)
			r = redact_json(redact_in);
	}
	chaos_hold();
	if (rc == -1 && (e1 != ENOMEM || redact_contains_secret(SECRET,
	    strlen(SECRET))))
		return bad(out, len, "redact_add_secret: -1 with errno %d, "
		    "registered %d", e1, redact_contains_secret(SECRET,
		    strlen(SECRET)));
	if (rc == 0 && s == NULL && e2 != ENOMEM)
		return bad(out, len, "redact_str: NULL with errno %d", e2);
	if (s != NULL) {
		outf(out, len, "%s\n", s);
		out_json(out, len, "json", r);
	}
	if (strstr(out, SECRET_HEAD) != NULL || strstr(out, GH_TOKEN) != NULL) {
		outf(out, len, "^ a secret is left in that\n");
		return CH_BAD;
	}
	free(s);
	json_decref(r);
	redact_clear();
	return rc == 0 && s != NULL && r != NULL ? CH_OK : CH_FAILED;
}

START_TEST(redact)
{
	redact_in = json_pack("{s:s, s:{s:s, s:[s, i, f, b, n]}, s:s}",
	    "githubToken", "anything", "nested", "x-" SECRET "-key", "v",
	    "list", "a " SECRET " b", 7, 1.5, 1, "plain", "not secret at all");
	ck_assert_ptr_nonnull(redact_in);
	EVERY_N(op_redact, NULL, 20);
	json_decref(redact_in);
}
END_TEST

/* --- log ---------------------------------------------------------------- */

static int	log_pipe[2];
static char	log_line[OUT_MAX];
static json_t	*log_fields;

/* What the logger wrote since the last call, into log_line. */
static size_t
log_read(void)
{
	ssize_t n;
	size_t o = 0;

	while (o + 1 < sizeof(log_line) &&
	    (n = read(log_pipe[0], log_line + o, sizeof(log_line) - 1 - o)) > 0)
		o += (size_t)n;
	log_line[o] = '\0';
	return o;
}

/*
 * One event with a secret in the message (past the 1024-byte format
 * buffer) and in the fields: either nothing is written or one whole
 * line, never the secret; a piece it could not build shows as
 * "(out of memory)" or is left out.
 */
static int
op_log_json(void *arg, char *out, size_t len)
{
	const char *msg;
	json_t *line, *f;
	size_t n;
	int degraded = 0, saved;

	errno = EACCES;
	log_emit(LOG_LVL_WARN, "chaos", log_fields, "call %s failed: %.1100s",
	    SECRET, filler);
	saved = errno;
	chaos_hold();
	n = log_read();
	if (saved != EACCES)
		return bad(out, len, "errno changed to %d", saved);
	if (strstr(log_line, SECRET_HEAD) != NULL)
		return bad(out, len, "the secret was logged: %.200s", log_line);
	if (n == 0)
		return CH_FAILED;
	if (log_line[n - 1] != '\n' || memchr(log_line, '\n', n - 1) != NULL)
		return bad(out, len, "not one line: %.200s", log_line);
	if ((line = json_loads(log_line, 0, NULL)) == NULL)
		return bad(out, len, "not JSON: %.200s", log_line);
	if (!json_is_string(json_object_get(line, "ts")))
		return bad(out, len, "no ts: %.200s", log_line);
	json_object_del(line, "ts");
	msg = json_string_value(json_object_get(line, "msg"));
	f = json_object_get(line, "fields");
	if (msg != NULL && strcmp(msg, "(out of memory)") == 0)
		degraded = 1;
	else if (msg == NULL || strncmp(msg, "call [REDACTED] failed: ff", 26))
		return bad(out, len, "msg is %.200s", msg ? msg : "(none)");
	if (f == NULL)
		degraded = 1;
	if (!degraded)
		out_json(out, len, "line", line);
	json_decref(line);
	return degraded ? CH_FAILED : CH_OK;
}

/* The same in the text format, with log_warn()'s strerror. */
static int
op_log_text(void *arg, char *out, size_t len)
{
	const char *sp;
	size_t n;
	int saved;

	errno = EACCES;
	log_warn("call %s to %s", SECRET, "github");
	saved = errno;
	chaos_hold();
	n = log_read();
	if (strstr(log_line, SECRET_HEAD) != NULL)
		return bad(out, len, "the secret was logged: %.200s", log_line);
	if (saved != EACCES)
		return bad(out, len, "errno changed to %d", saved);
	if (n == 0)
		return CH_FAILED;
	if (log_line[n - 1] != '\n' || (sp = strchr(log_line, ' ')) == NULL ||
	    strncmp(sp, " WARN chaos: ", 13) != 0)
		return bad(out, len, "not one text line: %.200s", log_line);
	if (strcmp(sp + 13, "(out of memory)\n") == 0)
		return CH_FAILED;
	outf(out, len, "%s", sp);
	return CH_OK;
}

/*
 * errfmt() redacts the whole text before it cuts it to its 1024-byte
 * buffer; a secret across the cut must not leave its head behind even
 * when the whole text cannot be had.
 */
static int
op_errfmt(void *arg, char *out, size_t len)
{
	char err[2048];

	errfmt(err, sizeof(err), "%.1020s%s%s", filler, SECRET, " tail");
	chaos_hold();
	if (strstr(err, SECRET_HEAD) != NULL)
		return bad(out, len, "the head of the secret is left: ...%s",
		    err + 1000);
	if (strcmp(err, "out of memory") == 0)
		return CH_FAILED;
	outf(out, len, "%s\n", err);
	return CH_OK;
}

START_TEST(log_lines)
{
	ck_assert_int_eq(pipe2(log_pipe, O_NONBLOCK | O_CLOEXEC), 0);
	ck_assert_int_eq(redact_add_secret(SECRET), 0);
	log_fields = json_pack("{s:s, s:s, s:i}", "authorization", "Bearer x",
	    "server", "github " SECRET, "n", 3);
	ck_assert_ptr_nonnull(log_fields);
	setenv("AFU9_LOG_FORMAT", "json", 1);
	log_init("chaos");
	log_set_fd(log_pipe[1]);
	EVERY_N(op_log_json, NULL, 8);
	setenv("AFU9_LOG_FORMAT", "text", 1);
	log_init("chaos");
	EVERY_N(op_log_text, NULL, 3);
	EVERY_N(op_errfmt, NULL, 3);
	unsetenv("AFU9_LOG_FORMAT");
	log_init("chaos");
	log_set_fd(2);
	json_decref(log_fields);
	redact_clear();
	close(log_pipe[0]);
	close(log_pipe[1]);
}
END_TEST

/* --- frame -------------------------------------------------------------- */

#define BIG_BODY	100000

static char	stream[2 * BIG_BODY];
static size_t	stream_len;
static const char *const small_msgs[] = {
	"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}",
	"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}",
};

/* Message i of the stream: small, big (BIG_BODY bytes of filler), small. */
static const char *
stream_msg(int i, size_t *n)
{
	if (i == 1) {
		*n = BIG_BODY;
		return filler;
	}
	*n = strlen(small_msgs[i / 2]);
	return small_msgs[i / 2];
}

/*
 * The reader over three Content-Length messages fed in 16 KiB pieces:
 * the messages come out whole and in order until a feed fails; then the
 * stream is fatal with -32603 "out of memory".
 */
static int
op_frame_reader(void *arg, char *out, size_t len)
{
	struct frame_reader r;
	enum frame_status st = FRAME_MORE;
	const char *msg, *want;
	size_t off = 0, piece, mlen, wlen;
	int got = 0, rc = 0, saved = 0, order_ok = 1;

	frame_reader_init(&r, FRAME_AUTO, 1u << 20);
	while (off < stream_len && rc == 0) {
		piece = stream_len - off < 16384 ? stream_len - off : 16384;
		if ((rc = frame_reader_feed(&r, stream + off, piece)) == -1) {
			saved = errno;
			break;
		}
		off += piece;
		while ((st = frame_reader_next(&r, &msg, &mlen)) == FRAME_MSG) {
			want = stream_msg(got, &wlen);
			if (got >= 3 || mlen != wlen || memcmp(msg, want, wlen))
				order_ok = 0;
			got++;
		}
		if (st != FRAME_MORE)
			break;
	}
	if (rc == -1)
		st = frame_reader_next(&r, &msg, &mlen);
	chaos_hold();
	if (!order_ok)
		return bad(out, len, "message %d is not the one sent", got);
	if (rc == -1 && (saved != ENOMEM || st != FRAME_FATAL ||
	    r.err_code != RPC_INTERNAL_ERROR ||
	    strstr(r.err, "out of memory") == NULL))
		return bad(out, len, "feed failed with errno %d, then status "
		    "%d code %d \"%s\"", saved, st, r.err_code, r.err);
	if (rc == 0 && st != FRAME_MORE)
		return bad(out, len, "status %d: %s", st, r.err);
	frame_reader_free(&r);
	outf(out, len, "%d messages\n", got);
	return rc == 0 && got == 3 ? CH_OK : CH_FAILED;
}

static char	wire[4 * BIG_BODY];

/* The writer (arg: the framing): a refused message queues nothing. */
static int
op_frame_writer(void *arg, char *out, size_t len)
{
	enum frame_mode mode = *(enum frame_mode *)arg;
	struct frame_writer w;
	size_t before = 0, mlen;
	const char *m;
	int i, rc = 0, saved = 0;

	frame_writer_init(&w, mode, 1u << 20);
	for (i = 0; i < 3 && rc == 0; i++) {
		m = stream_msg(i, &mlen);
		before = frame_writer_pending(&w);
		rc = frame_write(&w, m, mlen);
		saved = errno;
	}
	chaos_hold();
	if (rc == -1 && saved != ENOMEM)
		return bad(out, len, "frame_write: errno %d", saved);
	if (rc == -1 && frame_writer_pending(&w) != before)
		return bad(out, len, "a refused write queued %zu bytes",
		    frame_writer_pending(&w) - before);
	if (rc == 0) {
		mlen = frame_writer_pending(&w);
		memcpy(wire, buf_data(&w.out), mlen);
		outf(out, len, "%zu bytes, starts %.30s, ends %.10s\n", mlen,
		    wire, wire + mlen - 10);
	}
	frame_writer_free(&w);
	return rc == 0 ? CH_OK : CH_FAILED;
}

START_TEST(frames)
{
	enum frame_mode cl = FRAME_CL, nd = FRAME_NDJSON;
	size_t n, o = 0;
	const char *m;
	int i;

	for (i = 0; i < 3; i++) {
		m = stream_msg(i, &n);
		o += (size_t)snprintf(stream + o, sizeof(stream) - o,
		    "Content-Length: %zu\r\n\r\n", n);
		memcpy(stream + o, m, n);
		o += n;
	}
	stream_len = o;
	EVERY_N(op_frame_reader, NULL, 2);
	EVERY_N(op_frame_writer, &cl, 2);
	EVERY_N(op_frame_writer, &nd, 2);
}
END_TEST

/* --- rpc ---------------------------------------------------------------- */

struct parse_case {
	const char	*name;
	const char	*text;
	int		 flags;
	int		 code;		/* refused with this code; 0: parsed */
	/* what a failure for lack of memory must still tell */
	int		 is_response, is_notification;
	const char	*id;		/* the id it may recover, or NULL */
};

#define REQUEST_TEXT \
	"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":" \
	"{\"name\":\"echo\",\"arguments\":{\"text\":\"hello, a string of " \
	"more than sixteen bytes\",\"n\":[1,2.5,true,null]}}}"
#define RESULT_TEXT \
	"{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"content\":[{\"type\":" \
	"\"text\",\"text\":\"hello chaos, and some more text\"}]," \
	"\"isError\":false}}"

static char	many_members[8192];

static const struct parse_case parse_cases[] = {
	{ "request", REQUEST_TEXT, 0, 0, 0, 0, "7" },
	{ "request, raw params", REQUEST_TEXT, RPC_PARSE_RAW_PARAMS, 0, 0, 0,
	    "7" },
	{ "request, escaped id",
	    "{\"jsonrpc\":\"2.0\",\"id\":\"\\u0041bc\",\"method\":"
	    "\"tools/list\",\"params\":{}}", 0, 0, 0, 0, "\"\\u0041bc\"" },
	{ "notification",
	    "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\","
	    "\"params\":{\"progressToken\":3,\"progress\":0.5}}", 0, 0, 0, 1,
	    NULL },
	{ "result", RESULT_TEXT, 0, 0, 1, 0, "3" },
	{ "result, raw", RESULT_TEXT, RPC_PARSE_RAW_RESULT, 0, 1, 0, "3" },
	{ "error response",
	    "{\"jsonrpc\":\"2.0\",\"id\":4,\"error\":{\"code\":-32602,"
	    "\"message\":\"bad arguments here\",\"data\":{\"field\":"
	    "\"owner\"}}}", 0, 0, 1, 0, "4" },
	{ "members in another order",
	    "{\"method\":\"ping\", \"id\":5, \"jsonrpc\":\"2.0\"}", 0, 0,
	    0, 0, "5" },
	{ "duplicate key",
	    "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"a\",\"method\":\"b\"}",
	    0, RPC_INVALID_REQUEST, 0, 0, "9" },
	{ "notification with a bad jsonrpc",
	    "{\"jsonrpc\":\"1.0\",\"method\":\"notifications/message\"}", 0,
	    RPC_INVALID_REQUEST, 0, 1, NULL },
	{ "response with a duplicate key",
	    "{\"jsonrpc\":\"2.0\",\"id\":6,\"result\":{},\"result\":{}}", 0,
	    RPC_INVALID_REQUEST, 1, 0, "6" },
	{ "batch", "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]", 0,
	    RPC_INVALID_REQUEST, 0, 0, NULL },
	{ "malformed", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":", 0,
	    RPC_PARSE_ERROR, 0, 0, NULL },
	{ "many members, raw params", many_members, RPC_PARSE_RAW_PARAMS, 0,
	    0, 0, "11" },
};

/*
 * A parsed message as a user of it sees it: with RPC_PARSE_RAW_* the
 * value is the text when the fast path kept it, else the tree (both are
 * documented outcomes), so the value is shown as a tree either way.
 */
static void
out_value(char *out, size_t len, const char *label, const json_t *tree,
    const char *raw, size_t rawlen)
{
	json_t *v;

	if (tree != NULL || raw == NULL) {
		out_json(out, len, label, tree);
		return;
	}
	v = json_loadb(raw, rawlen, JSON_DECODE_ANY, NULL);
	out_json(out, len, label, v != NULL ? v : json_null());
	json_decref(v);
}

static int
op_rpc_parse(void *arg, char *out, size_t len)
{
	const struct parse_case *pc = arg;
	struct rpc_msg m;
	struct rpc_err e;
	json_t *rest;
	int rc;

	rc = rpc_parse_flags(pc->text, strlen(pc->text), pc->flags, &m, &e);
	chaos_hold();
	if (rc == 0) {
		outf(out, len, "kind %d id %s method %s error %d %s\n", m.kind,
		    m.id_raw ? m.id_raw : "-", m.method ? m.method : "-",
		    m.error_code, m.error_message ? m.error_message : "-");
		out_value(out, len, "params", m.params, m.params_raw,
		    m.params_len);
		out_value(out, len, "result", m.result, m.result_raw,
		    m.result_len);
		rest = json_deep_copy(m.root);
		json_object_del(rest, "params");
		json_object_del(rest, "result");
		out_json(out, len, "rest", rest);
		json_decref(rest);
		rpc_msg_free(&m);
		return CH_OK;
	}
	if (m.root != NULL || m.id_raw != NULL)
		return bad(out, len, "refused, but *m is not empty");
	outf(out, len, "refused %d id %s response %d notification %d: %s\n",
	    e.code, e.id_raw ? e.id_raw : "null", e.is_response,
	    e.is_notification, e.message);
	if (e.code != RPC_INTERNAL_ERROR) {
		rc = e.id_raw == NULL && pc->id != NULL;
		rpc_err_clear(&e);
		if (e.code != pc->code)
			return bad(out, len, "refused with %d, not %d", e.code,
			    pc->code);
		/*
		 * The id is lost when it cannot be copied: then null.  Text
		 * that is not JSON stays a parse error, but jansson reports
		 * where an allocation failed, inside a string, as the place
		 * of the syntax error.
		 */
		return rc || (e.code == RPC_PARSE_ERROR && C.injected > 0) ?
		    CH_FAILED : CH_OK;
	}
	rc = strstr(e.message, "out of memory") != NULL &&
	    e.is_response == pc->is_response &&
	    e.is_notification == pc->is_notification &&
	    (e.id_raw == NULL || (pc->id != NULL &&
	    strcmp(e.id_raw, pc->id) == 0)) ? CH_FAILED :
	    bad(out, len, "wanted out of memory, response %d, notification "
	    "%d, id %s or null; got response %d, notification %d, id %s: %s",
	    pc->is_response, pc->is_notification, pc->id ? pc->id : "null",
	    e.is_response, e.is_notification, e.id_raw ? e.id_raw : "null",
	    e.message);
	rpc_err_clear(&e);
	return rc;
}

static json_t	*build_result, *build_params, *build_data;

/* Every builder in turn, as far as memory lasts. */
static int
op_rpc_build(void *arg, char *out, size_t len)
{
	char *t[7] = { NULL };
	size_t n[7] = { 0 };
	int i, k = 0, saved = 0;

	if ((t[k++] = rpc_id_from_int(12345)) != NULL &&
	    (t[k++] = rpc_build_result(t[0], build_result, &n[1])) != NULL &&
	    (t[k++] = rpc_build_error("\"a\"", RPC_INVALID_PARAMS,
	    "bad \xff utf8", build_data, &n[2])) != NULL &&
	    (t[k++] = rpc_build_request(t[0], "tools/call", build_params,
	    &n[3])) != NULL &&
	    (t[k++] = rpc_build_notification("notifications/progress",
	    build_params, &n[4])) != NULL &&
	    (t[k++] = rpc_build_result_text(t[0], "{ \"a\" : [1, 2] }", 16,
	    &n[5])) != NULL)
		t[k++] = rpc_build_request_text(t[0], "tools/list",
		    "{\n  \"cursor\": \"x y\"\n}", 21, &n[6]);
	saved = errno;
	chaos_hold();
	for (i = 0; i < k; i++) {
		if (t[i] == NULL && saved != ENOMEM)
			return bad(out, len, "builder %d: NULL with errno %d",
			    i, saved);
		if (t[i] != NULL && i > 0 && n[i] != strlen(t[i]))
			return bad(out, len, "builder %d: length %zu for %zu "
			    "bytes", i, n[i], strlen(t[i]));
		if (t[i] != NULL)
			outf(out, len, "%s\n", t[i]);
		free(t[i]);
	}
	return k == 7 && t[6] != NULL ? CH_OK : CH_FAILED;
}

START_TEST(rpc_parse_every_case)
{
	char name[80];
	size_t i, o;

	o = (size_t)snprintf(many_members, sizeof(many_members),
	    "{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"tools/call\","
	    "\"params\":{");
	for (i = 0; i < 70; i++)
		o += (size_t)snprintf(many_members + o, sizeof(many_members) - o,
		    "%s\"key%zu\":%zu", i ? "," : "", i, i);
	snprintf(many_members + o, sizeof(many_members) - o, "}}");
	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		snprintf(name, sizeof(name), "rpc_parse: %s",
		    parse_cases[i].name);
		ck_assert_uint_ge(chaos_every_n(name, op_rpc_parse,
		    (void *)&parse_cases[i]), 8);
	}
}
END_TEST

START_TEST(rpc_builders)
{
	build_result = json_pack("{s:[{s:s, s:s#}], s:b}", "content", "type",
	    "text", "text", filler, 600, "isError", 0);
	build_params = json_pack("{s:s, s:{s:s, s:i}}", "name", "echo",
	    "arguments", "text", "caf\xc3\xa9", "n", 3);
	build_data = json_pack("{s:s}", "field", "owner");
	ck_assert(build_result && build_params && build_data);
	EVERY_N(op_rpc_build, NULL, 7);
	json_decref(build_result);
	json_decref(build_params);
	json_decref(build_data);
}
END_TEST

/* --- jschema ------------------------------------------------------------ */

static json_t	*schema, *args_good, *args_bad;

/*
 * Check a tool schema (compiling its patterns), validate good and bad
 * arguments, clear the pattern cache.  A failure for lack of memory says
 * so; it is never a verdict on the arguments.
 */
static int
op_jschema(void *arg, char *out, size_t len)
{
	char err[512];
	int rc, step = 0;

	if ((rc = jschema_check(schema, err, sizeof(err))) == 0) {
		step++;
		if ((rc = jschema_validate(schema, args_good, err,
		    sizeof(err))) == 0) {
			step++;
			rc = jschema_validate(schema, args_bad, err,
			    sizeof(err));
		}
	}
	chaos_hold();
	jschema_cache_clear();
	if (step == 2 && rc == -1 && strstr(err, "(enum)") != NULL &&
	    strncmp(err, "argument 'state': must be one of ", 33) == 0) {
		outf(out, len, "%s\n", err);
		/* an enum value it could not quote shows as "(value)" */
		return strstr(err, "(value)") != NULL ? CH_FAILED : CH_OK;
	}
	if (rc == -1 && (strstr(err, "out of memory") != NULL ||
	    strstr(err, "Memory exhausted") != NULL ||
	    strstr(err, strerror(ENOMEM)) != NULL))
		return CH_FAILED;
	return bad(out, len, "step %d: %d \"%s\"", step, rc, err);
}

START_TEST(jschema_patterns)
{
	schema = json_loads("{\"type\":\"object\",\"properties\":{"
	    "\"owner\":{\"type\":\"string\",\"pattern\":\"^[A-Za-z0-9-]+$\","
	    "\"minLength\":1},"
	    "\"labels\":{\"type\":\"array\",\"items\":{\"type\":\"string\","
	    "\"pattern\":\"^[a-z]+$\"},\"maxItems\":5},"
	    "\"state\":{\"type\":\"string\",\"enum\":[\"open\",\"closed\","
	    "\"all\"]},"
	    "\"per_page\":{\"type\":\"integer\",\"minimum\":1,"
	    "\"maximum\":100}},"
	    "\"required\":[\"owner\"],\"additionalProperties\":false}", 0,
	    NULL);
	args_good = json_loads("{\"owner\":\"afu9-org\",\"labels\":[\"bug\","
	    "\"ops\"],\"state\":\"open\",\"per_page\":30}", 0, NULL);
	args_bad = json_loads("{\"owner\":\"afu9-org\",\"state\":\"bogus\"}",
	    0, NULL);
	ck_assert(schema && args_good && args_bad);
	EVERY_N(op_jschema, NULL, 5);
	json_decref(schema);
	json_decref(args_good);
	json_decref(args_bad);
}
END_TEST

/* --- mcp_client --------------------------------------------------------- */

/*
 * One session against a peer played here over a socketpair: initialize,
 * a tools/call (tree params, progress) and a tools/list (text params,
 * raw reply, progress); the peer sends progress, a ping, a list_changed
 * notification and both results; then a third request is cancelled and
 * the session freed.  What each callback saw is recorded without
 * allocating, and checked after.
 */
#define MCP_CALLS	4	/* initialize, tools/call, tools/list, and a
				   tools/call cancelled */

/* What each call ends with when nothing fails. */
static const int want_code[MCP_CALLS] = { 0, 0, 0, MCP_ERR_CANCELLED };

struct mcp_rec {
	int		 replies[MCP_CALLS];	/* times each callback ran */
	int		 code[MCP_CALLS];	/* 0: success */
	json_t		*held[MCP_CALLS];	/* tree results, until hold */
	char		 result[MCP_CALLS][512]; /* ... then as text; raw
						   results as they came */
	char		 msg[MCP_CALLS][160];
	int		 progress;
	char		 notified[64];
	int		 closed;
	char		 reason[256];		/* why it closed */
	char		 wire[8192];		/* what the client wrote */
	size_t		 wlen;
};

static struct ev_loop	*mcp_loop;
static struct mcp_rec	 rec, mcp_ref;
static int		 have_mcp_ref;
static int64_t		 call_id[MCP_CALLS];

static void
rec_reply(int k, const json_t *result, const char *raw, size_t rawlen,
    const struct mcp_error *err)
{
	rec.replies[k]++;
	if (err != NULL) {
		rec.code[k] = err->code;
		snprintf(rec.msg[k], sizeof(rec.msg[k]), "%s", err->message);
		return;
	}
	if (result != NULL && rec.held[k] == NULL)
		rec.held[k] = json_incref((json_t *)result);
	if (raw != NULL)
		snprintf(rec.result[k], sizeof(rec.result[k]), "%.*s",
		    (int)rawlen, raw);
}

static void
on_init(struct mcp_client *c, int64_t id, const json_t *result,
    const struct mcp_error *err, void *arg)
{
	rec_reply(0, result, NULL, 0, err);
}

static void
on_call(struct mcp_client *c, int64_t id, const json_t *result,
    const struct mcp_error *err, void *arg)
{
	rec_reply(1, result, NULL, 0, err);
}

static void
on_list(struct mcp_client *c, int64_t id, const char *result, size_t len,
    const struct mcp_error *err, void *arg)
{
	rec_reply(2, NULL, result, len, err);
}

static void
on_cancelled(struct mcp_client *c, int64_t id, const json_t *result,
    const struct mcp_error *err, void *arg)
{
	rec_reply(3, result, NULL, 0, err);
}

static void
on_progress(struct mcp_client *c, int64_t id, const json_t *params,
    void *arg)
{
	rec.progress++;
}

static void
on_notify(struct mcp_client *c, const char *method, const json_t *params,
    void *arg)
{
	snprintf(rec.notified, sizeof(rec.notified), "%s", method);
}

static void
on_closed(struct mcp_client *c, const char *reason, void *arg)
{
	rec.closed++;
	snprintf(rec.reason, sizeof(rec.reason), "%s", reason);
}

static const struct mcp_client_cb mcp_cb = { on_notify, on_closed };

/* Turn the loop and take what the client wrote (peer end non-blocking). */
static void
mcp_pump(int peer)
{
	ssize_t n;
	int i;

	for (i = 0; i < 4; i++) {
		ev_run(mcp_loop, EVRUN_NOWAIT);
		while (rec.wlen + 1 < sizeof(rec.wire) &&
		    (n = read(peer, rec.wire + rec.wlen,
		    sizeof(rec.wire) - 1 - rec.wlen)) > 0)
			rec.wlen += (size_t)n;
	}
	rec.wire[rec.wlen] = '\0';
}

static void
peer_say(int peer, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
peer_say(int peer, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	line[n++] = '\n';
	(void)write(peer, line, (size_t)n);
}

/*
 * The client's output, line by line: every line a JSON-RPC message, no
 * error reply without an id (nothing the peer sends is malformed), the
 * ping answered with its own id.  Appends what it saw to out.
 */
static int
check_wire(char *out, size_t len)
{
	char *line = rec.wire, *nl;
	const char *method;
	json_t *m, *id, *err;

	for (; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
		if ((m = json_loadb(line, (size_t)(nl - line), 0, NULL)) == NULL)
			return bad(out, len, "the client wrote %.*s",
			    (int)(nl - line), line);
		id = json_object_get(m, "id");
		err = json_object_get(m, "error");
		method = json_string_value(json_object_get(m, "method"));
		if (err != NULL && (id == NULL || json_is_null(id))) {
			json_decref(m);
			return bad(out, len, "the client answered with id "
			    "null: %.*s", (int)(nl - line), line);
		}
		if (method == NULL && !(json_is_string(id) &&
		    strcmp(json_string_value(id), "p-1") == 0)) {
			json_decref(m);
			return bad(out, len, "a reply to nothing: %.*s",
			    (int)(nl - line), line);
		}
		if (method == NULL && err == NULL)
			outf(out, len, "wire: ping answered\n");
		else if (method == NULL)
			outf(out, len, "wire: ping failed\n");
		else
			outf(out, len, "wire: %s\n", method);
		json_decref(m);
	}
	if (*line != '\0')
		return bad(out, len, "a cut line: %s", line);
	return CH_OK;
}

/* Compare what the run recorded with the reference run; CH_OK or not. */
static int
mcp_verdict(char *out, size_t len)
{
	int k, failed = 0;

	for (k = 0; k < MCP_CALLS; k++) {
		if (call_id[k] <= 0) {
			if (rec.replies[k] != 0)
				return bad(out, len, "call %d was refused, yet "
				    "its callback ran", k);
			failed = 1;	/* refused, as documented */
			continue;
		}
		if (rec.replies[k] != 1)
			return bad(out, len, "callback %d ran %d times", k,
			    rec.replies[k]);
		if (rec.code[k] == want_code[k] && (!have_mcp_ref ||
		    (strcmp(rec.result[k], mcp_ref.result[k]) == 0 &&
		    strcmp(rec.msg[k], mcp_ref.msg[k]) == 0)))
			continue;
		/* failed for lack of memory, or cancelled all the same
		   with the message it could not copy */
		if (rec.code[k] == RPC_INTERNAL_ERROR ||
		    rec.code[k] == RPC_CONNECTION_CLOSED ||
		    (rec.code[k] == want_code[k] && k == 3 &&
		    strcmp(rec.msg[k], "request cancelled") == 0)) {
			failed = 1;
			continue;
		}
		return bad(out, len, "call %d: code %d \"%s\" result %s", k,
		    rec.code[k], rec.msg[k], rec.result[k]);
	}
	if (rec.closed != 1)
		return bad(out, len, "closed ran %d times", rec.closed);
	/* Closed before it was freed: it could not go on, for lack of
	   memory and for nothing else. */
	if (strcmp(rec.reason, "the session was freed") != 0) {
		if (strstr(rec.reason, "memory") == NULL)
			return bad(out, len, "closed: %s", rec.reason);
		failed = 1;
	}
	if (check_wire(out, len) == CH_BAD)
		return CH_BAD;
	if (rec.progress != 2 || strcmp(rec.notified,
	    "notifications/tools/list_changed") != 0)
		failed = 1;
	if (have_mcp_ref && rec.progress > mcp_ref.progress)
		return bad(out, len, "%d progress notifications", rec.progress);
	outf(out, len, "progress %d notified %s\n", rec.progress,
	    rec.notified);
	for (k = 0; k < MCP_CALLS; k++)
		outf(out, len, "call %d: %d %s %s\n", k, rec.code[k],
		    rec.msg[k], rec.result[k]);
	return failed ? CH_FAILED : CH_OK;
}

static int
op_mcp_client(void *arg, char *out, size_t len)
{
	struct mcp_client_opts o = {
		.mode = FRAME_NDJSON, .name = "chaos", .version = "1.0",
	};
	struct mcp_client *c;
	json_t *params;
	char *d;
	int sv[2], k, r;

	memset(&rec, 0, sizeof(rec));
	memset(call_id, 0, sizeof(call_id));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return bad(out, len, "socketpair: %s", strerror(errno));
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	if ((c = mcp_client_new(mcp_loop, sv[0], sv[0], &o, &mcp_cb,
	    NULL)) == NULL) {
		chaos_hold();
		close(sv[1]);
		if (fcntl(sv[0], F_GETFD) != -1)
			return bad(out, len, "mcp_client_new failed and left "
			    "its fd open");
		return CH_FAILED;
	}
	if (mcp_client_initialize(c, 30, on_init, NULL) == 0) {
		call_id[0] = 1;
		mcp_pump(sv[1]);
		peer_say(sv[1], "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":"
		    "{\"protocolVersion\":\"2025-06-18\",\"capabilities\":"
		    "{\"tools\":{\"listChanged\":true}},\"serverInfo\":"
		    "{\"name\":\"peer\",\"version\":\"1\"}}}");
		mcp_pump(sv[1]);
	}
	if (rec.code[0] == 0 && rec.replies[0] == 1) {
		params = json_pack("{s:s, s:{s:s}}", "name", "echo",
		    "arguments", "text", "hello chaos");
		if (params != NULL)
			call_id[1] = mcp_client_request(c, "tools/call",
			    params, 30, on_call, on_progress, NULL);
		call_id[2] = mcp_client_request_raw(c, "tools/list",
		    "{ \"cursor\": \"page 2\" }", 22, 30, on_list,
		    on_progress, NULL);
		mcp_pump(sv[1]);
		for (k = 1; k <= 2; k++)
			if (call_id[k] > 0)
				peer_say(sv[1], "{\"jsonrpc\":\"2.0\",\"method\":"
				    "\"notifications/progress\",\"params\":"
				    "{\"progressToken\":%lld,\"progress\":1}}",
				    (long long)call_id[k]);
		peer_say(sv[1], "{\"jsonrpc\":\"2.0\",\"id\":\"p-1\","
		    "\"method\":\"ping\"}");
		peer_say(sv[1], "{\"jsonrpc\":\"2.0\",\"method\":"
		    "\"notifications/tools/list_changed\"}");
		if (call_id[1] > 0)
			peer_say(sv[1], "{\"jsonrpc\":\"2.0\",\"id\":%lld,"
			    "\"result\":{\"content\":[{\"type\":\"text\","
			    "\"text\":\"hello chaos\"}]}}",
			    (long long)call_id[1]);
		if (call_id[2] > 0)
			peer_say(sv[1], "{\"jsonrpc\":\"2.0\",\"id\":%lld,"
			    "\"result\":{\"tools\":[{\"name\":\"echo\","
			    "\"inputSchema\":{\"type\":\"object\"}}]}}",
			    (long long)call_id[2]);
		mcp_pump(sv[1]);
		call_id[3] = mcp_client_request(c, "tools/call", NULL, 30,
		    on_cancelled, NULL, NULL);
		if (call_id[3] > 0 &&
		    mcp_client_cancel(c, call_id[3], "user stop") == -1) {
			chaos_hold();
			mcp_client_free(c);
			close(sv[1]);
			return bad(out, len, "a pending request could not be "
			    "cancelled");
		}
		mcp_pump(sv[1]);
	}
	mcp_client_free(c);
	mcp_pump(sv[1]);
	chaos_hold();
	close(sv[1]);
	for (k = 0; k < MCP_CALLS; k++) {
		if (rec.held[k] == NULL)
			continue;
		d = json_dumps(rec.held[k], JSON_COMPACT | JSON_SORT_KEYS);
		snprintf(rec.result[k], sizeof(rec.result[k]), "%s",
		    d != NULL ? d : "(dump failed)");
		free(d);
		json_decref(rec.held[k]);
		rec.held[k] = NULL;
	}
	r = mcp_verdict(out, len);
	if (!have_mcp_ref && r == CH_OK) {
		mcp_ref = rec;
		have_mcp_ref = 1;
	}
	return r;
}

/*
 * Seventy requests in flight (the pending table grows past its first 64
 * buckets), then the session is freed: each one that was queued fails
 * once with "connection closed", each refused one never calls back.
 */
#define MANY	70

static int	many_replies[MANY + 1], many_code[MANY + 1];

static void
on_many(struct mcp_client *c, int64_t id, const json_t *result,
    const struct mcp_error *err, void *arg)
{
	if (id >= 1 && id <= MANY) {
		many_replies[id]++;
		many_code[id] = err != NULL ? err->code : 0;
	}
}

static int
op_mcp_many(void *arg, char *out, size_t len)
{
	struct mcp_client *c;
	int64_t id, last = 0;
	int sv[2], i, queued = 0;

	memset(many_replies, 0, sizeof(many_replies));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return bad(out, len, "socketpair: %s", strerror(errno));
	if ((c = mcp_client_new(mcp_loop, sv[0], sv[0], NULL, NULL,
	    NULL)) == NULL) {
		chaos_hold();
		close(sv[1]);
		return CH_FAILED;
	}
	for (i = 0; i < MANY; i++)
		if ((id = mcp_client_request(c, "ping", NULL, 30, on_many, NULL,
		    NULL)) > 0) {
			if (id != last + 1) {
				chaos_hold();
				mcp_client_free(c);
				close(sv[1]);
				return bad(out, len, "id %lld after %lld",
				    (long long)id, (long long)last);
			}
			last = id;
			queued++;
		}
	i = (int)mcp_client_pending(c);
	mcp_client_free(c);
	chaos_hold();
	close(sv[1]);
	if (i != queued)
		return bad(out, len, "%d pending, %d queued", i, queued);
	for (id = 1; id <= MANY; id++)
		if (many_replies[id] != (id <= last) || (id <= last &&
		    many_code[id] != RPC_CONNECTION_CLOSED))
			return bad(out, len, "request %lld: %d callbacks, code "
			    "%d", (long long)id, many_replies[id], many_code[id]);
	outf(out, len, "%d queued\n", queued);
	return queued == MANY ? CH_OK : CH_FAILED;
}

START_TEST(mcp_client_session)
{
	signal(SIGPIPE, SIG_IGN);
	mcp_loop = ev_loop_new(EVFLAG_AUTO);
	ck_assert_ptr_nonnull(mcp_loop);
	log_set_fd(open("/dev/null", O_WRONLY | O_CLOEXEC));
	EVERY_N(op_mcp_client, NULL, 20);
	EVERY_N(op_mcp_many, NULL, 4 * MANY);
	have_mcp_ref = 0;
	ev_loop_destroy(mcp_loop);
}
END_TEST

/* --- the configuration -------------------------------------------------- */

#define LISTED_SECRET	"listed-secret-1"
#define GH_ENV_TOKEN	"tok-0123456789"
#define PASS_TOKEN	"ghp_passthrough0123456789abcdef"
#define PAT_VALUE	"pat-0123456789abcdef"
#define API_KEY_VALUE	"literal-api-key-value"

static char	exe_dir[PATH_MAX], orch_dir[PATH_MAX];
static char	full_json[PATH_MAX], host_json[PATH_MAX], keys_json[PATH_MAX];

static void
out_strv(char *out, size_t len, const char *label, char *const *v, size_t n)
{
	size_t i;

	outf(out, len, "  %s(%zu):", label, n);
	for (i = 0; v != NULL && v[i] != NULL; i++)
		outf(out, len, " [%s]", v[i]);
	outf(out, len, "%s\n", v == NULL ? " (null)" : "");
}

/* The whole configuration as afu9 would run it, and what it registered. */
static void
out_config(char *out, size_t len, const struct afu9_config *cfg)
{
	const struct config_server *s;
	size_t i;

	outf(out, len, "source %s listen %s (%d) grace %u\n",
	    cfg->source ? cfg->source : "(built-in)", cfg->listen,
	    cfg->listen_explicit, cfg->shutdown_grace_ms);
	out_strv(out, len, "secrets", cfg->secrets, cfg->nsecrets);
	for (i = 0; i < cfg->nservers; i++) {
		s = &cfg->servers[i];
		outf(out, len, "server %s command %s framing %s restart %s "
		    "required %d disabled %d ms %u/%u/%u max %zu\n", s->name,
		    s->command, config_framing_name(s->framing),
		    config_restart_name(s->restart), s->required, s->disabled,
		    s->call_timeout_ms, s->ping_interval_ms,
		    s->ping_timeout_ms, s->max_message_bytes);
		out_strv(out, len, "argv", s->argv, s->argc);
		out_strv(out, len, "env", s->env, s->nenv);
		out_strv(out, len, "pass", s->pass, s->npass);
	}
	outf(out, len, "registered: listed %d env %d passthrough %d pat %d "
	    "api key %d\n",
	    redact_contains_secret(LISTED_SECRET, strlen(LISTED_SECRET)),
	    redact_contains_secret(GH_ENV_TOKEN, strlen(GH_ENV_TOKEN)),
	    redact_contains_secret(PASS_TOKEN, strlen(PASS_TOKEN)),
	    redact_contains_secret(PAT_VALUE, strlen(PAT_VALUE)),
	    redact_contains_secret(API_KEY_VALUE, strlen(API_KEY_VALUE)));
}

/*
 * A failed load returns NULL with "LABEL: reason".  jansson reports an
 * allocation that failed inside a string as a syntax error ("string or
 * '}' expected near ..."), which the loader can only pass on as
 * "FILE:LINE:COLUMN: reason"; a reason is there all the same.
 */
#define REDACTOR_FULL	": cannot register a secret with the redactor: "

static int
config_failure(const char *label, const char *err, char *out, size_t len)
{
	size_t n = strlen(label);
	int line, col, k = 0;

	if (strncmp(err, label, n) != 0)
		return bad(out, len, "the error does not name %s: \"%s\"",
		    label, err);
	err += n;
	if (strcmp(err, ": out of memory") == 0)
		return CH_FAILED;
	if (strncmp(err, REDACTOR_FULL, sizeof(REDACTOR_FULL) - 1) == 0 &&
	    strcmp(err + sizeof(REDACTOR_FULL) - 1, strerror(ENOMEM)) == 0)
		return CH_FAILED;
	if (sscanf(err, ":%d:%d: %n", &line, &col, &k) == 2 && k > 0 &&
	    line >= 1 && col >= 1 && err[k] != '\0')
		return CH_FAILED;
	return bad(out, len, "error \"%s%s\"", label, err);
}

static int
config_result(struct afu9_config *cfg, const char *label, const char *err,
    char *out, size_t len)
{
	int r = CH_OK;

	chaos_hold();
	if (cfg == NULL)
		r = config_failure(label, err, out, len);
	else
		out_config(out, len, cfg);
	config_free(cfg);
	redact_clear();
	return r;
}

/* arg: the file (t/config/full.json, t/config/claude-desktop.json). */
static int
op_config_load_file(void *arg, char *out, size_t len)
{
	struct afu9_config *cfg;
	char err[1024];

	cfg = config_load_file(arg, exe_dir, err, sizeof(err));
	return config_result(cfg, arg, err, out, len);
}

static int
op_config_default(void *arg, char *out, size_t len)
{
	struct afu9_config *cfg;
	char err[1024];

	cfg = config_default(orch_dir, err, sizeof(err));
	return config_result(cfg, "built-in config", err, out, len);
}

static int
op_config_open(void *arg, char *out, size_t len)
{
	struct config_env env;
	struct afu9_config *cfg;
	char err[1024];

	memset(&env, 0, sizeof(env));
	env.config_path = full_json;
	cfg = config_open(NULL, &env, err, sizeof(err));
	return config_result(cfg, full_json, err, out, len);
}

/* The environment of one start of a server: all of it, or NULL. */
static const struct config_server *env_server;

static int
op_config_build_env(void *arg, char *out, size_t len)
{
	static char *const envp[] = {
		"PATH=/usr/bin:/bin", "HOME=/home/afu9", "NPM_CONFIG_CACHE=/tmp",
		"NPM_CONFIG_PREFIX=/opt", "GITHUB_TOKEN=" PASS_TOKEN,
		"NODE_OPTIONS=--inspect", NULL
	};
	char **env;
	size_t i;

	env = config_build_env(env_server, envp);
	chaos_hold();
	if (env == NULL)
		return errno == ENOMEM ? CH_FAILED : bad(out, len, "errno %d",
		    errno);
	for (i = 0; env[i] != NULL; i++)
		outf(out, len, "%s\n", env[i]);
	config_env_free(env);
	return CH_OK;
}

START_TEST(config_loads)
{
	struct afu9_config *cfg;
	char err[1024];

	snprintf(exe_dir, sizeof(exe_dir), "%s", t_builddir("servers/github"));
	snprintf(orch_dir, sizeof(orch_dir), "%s", t_builddir("orchestrator"));
	snprintf(full_json, sizeof(full_json), "%s",
	    t_srcdir("t/config/full.json"));
	snprintf(host_json, sizeof(host_json), "%s",
	    t_srcdir("t/config/claude-desktop.json"));
	snprintf(keys_json, sizeof(keys_json), "%s",
	    t_srcdir("t/config/host-secrets.json"));
	setenv("AFU9_T_ROOT", "/srv/data", 1);
	setenv("AFU9_T_LISTED", LISTED_SECRET, 1);
	setenv("AFU9_T_GH_TOKEN", GH_ENV_TOKEN, 1);
	setenv("GITHUB_TOKEN", PASS_TOKEN, 1);
	setenv("AFU9_T_PAT", PAT_VALUE, 1);
	unsetenv("AFU9_HTTP_LISTEN");
	unsetenv("AFU9_MAX_MESSAGE_BYTES");
	redact_clear();
	EVERY_N(op_config_load_file, full_json, 100);
	EVERY_N(op_config_load_file, host_json, 50);
	EVERY_N(op_config_load_file, keys_json, 30);
	EVERY_N(op_config_default, NULL, 50);
	EVERY_N(op_config_open, NULL, 100);

	cfg = config_load_file(full_json, NULL, err, sizeof(err));
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_ptr_nonnull(env_server = config_server_find(cfg, "fs"));
	EVERY_N(op_config_build_env, NULL, 2);
	config_free(cfg);
	redact_clear();
}
END_TEST

/* --- workflow definitions and expressions ------------------------------ */

static json_t	*wf_def, *wf_ctx;

/*
 * Parse and validate a definition (expressions, a pattern in its inputs
 * schema, retry, goto), check an input against it, then evaluate a
 * condition and resolve templated arguments (one reference keeping its
 * type, interpolation, nesting) in a context.  A failure for lack of
 * memory says so; it is never a verdict on the definition or the values.
 */
static int
op_workflow(void *arg, char *out, size_t len)
{
	struct defn *d;
	struct expr *e = NULL;
	json_t *args = NULL;
	char err[512];
	int step = 0, t = -1;

	(void)arg;
	err[0] = '\0';
	if ((d = defn_parse(wf_def, NULL, NULL, err, sizeof(err))) != NULL) {
		step++;
		if (defn_check_input(d, json_object_get(wf_ctx, "inputs"), err,
		    sizeof(err)) == 0) {
			step++;
			if ((e = expr_parse("${{ steps.a.output.sum > 2 && "
			    "startsWith(inputs.owner, 'afu') && !(inputs.n == "
			    "null) }}", err, sizeof(err))) != NULL &&
			    (t = expr_test(e, wf_ctx, err, sizeof(err))) != -1) {
				step++;
				if (expr_template(d->steps[1].arguments,
				    wf_ctx, &args, err, sizeof(err)) == 0)
					step++;
			}
		}
	}
	chaos_hold();
	jschema_cache_clear();
	expr_free(e);
	defn_free(d);
	if (step == 4) {
		outf(out, len, "%d ", t);
		out_json(out + strlen(out), len - strlen(out), "args", args);
		json_decref(args);
		return CH_OK;
	}
	if (strstr(err, "out of memory") != NULL ||
	    strstr(err, strerror(ENOMEM)) != NULL)
		return CH_FAILED;
	return bad(out, len, "step %d: \"%s\"", step, err);
}

START_TEST(workflow_exprs)
{
	wf_def = json_loads("{\"name\":\"w\",\"inputs\":{\"type\":"
	    "\"object\",\"properties\":{\"owner\":{\"type\":\"string\","
	    "\"pattern\":\"^[a-z0-9-]+$\"},\"n\":{\"type\":\"integer\"}},"
	    "\"required\":[\"owner\"]},\"steps\":["
	    "{\"id\":\"a\",\"type\":\"tool\",\"tool\":\"conf.add\","
	    "\"arguments\":{\"a\":\"${{ inputs.n }}\",\"b\":1},"
	    "\"retry\":{\"max_attempts\":3,\"initial_interval_ms\":10},"
	    "\"on_error\":{\"goto\":\"b\"}},"
	    "{\"id\":\"b\",\"type\":\"tool\",\"tool\":\"conf.echo\","
	    "\"if\":\"${{ steps.a.status == 'succeeded' }}\","
	    "\"arguments\":{\"text\":\"${{ inputs.owner }} has "
	    "${{ steps.a.output.sum }}\",\"n\":\"${{ steps.a.output.sum }}\","
	    "\"deep\":[{\"x\":\"${{ execution.id }}\"}, 1, null]}}]}", 0,
	    NULL);
	wf_ctx = json_loads("{\"inputs\":{\"owner\":\"afu9\",\"n\":2},"
	    "\"steps\":{\"a\":{\"status\":\"succeeded\",\"output\":"
	    "{\"sum\":3}}},\"execution\":{\"id\":\"e-1\"}}", 0, NULL);
	ck_assert(wf_def && wf_ctx);
	EVERY_N(op_workflow, NULL, 30);
	json_decref(wf_def);
	json_decref(wf_ctx);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("chaos");
	TCase *tc = tcase_create("chaos");

	/* before jansson allocates anything */
	json_set_alloc_funcs(chaos_json_malloc, chaos_json_free);
	memset(filler, 'f', sizeof(filler));
	crash_report_install();
	tcase_add_test(tc, buf_and_utf8);
	tcase_add_test(tc, redact);
	tcase_add_test(tc, log_lines);
	tcase_add_test(tc, frames);
	tcase_add_test(tc, rpc_parse_every_case);
	tcase_add_test(tc, rpc_builders);
	tcase_add_test(tc, jschema_patterns);
	tcase_add_test(tc, mcp_client_session);
	tcase_add_test(tc, config_loads);
	tcase_add_test(tc, workflow_exprs);
	suite_add_tcase(s, tc);
	return t_run(s);
}
