#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "log.h"
#include "redact.h"
#include "utf8.h"
#include "testutil.h"

#define TMO	2000
#define SECRET	"s3cr3t-Value-42"

static int cap[2] = { -1, -1 };

/* Route the logger into a pipe big enough for the longest line we log. */
static void
setup(void)
{
	unsetenv("AFU9_LOG_LEVEL");
	unsetenv("AFU9_LOG_FORMAT");
	unsetenv("AFU9_TRACE");
	redact_clear();
	ck_assert_int_eq(pipe2(cap, O_CLOEXEC), 0);
	ck_assert_int_ge(fcntl(cap[1], F_SETPIPE_SZ, 1 << 20), 1 << 20);
	log_set_fd(cap[1]);
	log_init("comp");
}

static void
teardown(void)
{
	char *l;

	log_set_fd(2);
	redact_clear();
	close(cap[1]);
	while ((l = t_read_line(cap[0], TMO)) != NULL)
		free(l);
	close(cap[0]);
}

static char *
next_line(void)
{
	char *l = t_read_line(cap[0], TMO);

	ck_assert_msg(l != NULL, "no log line");
	return l;
}

/* Parse one JSON log line; checks it is one object. */
static json_t *
next_json(char **raw)
{
	json_error_t e;
	char *l = next_line();
	json_t *j = json_loads(l, 0, &e);

	ck_assert_msg(j != NULL, "not JSON: %s (%s)", l, e.text);
	ck_assert(json_is_object(j));
	if (raw)
		*raw = l;
	else
		free(l);
	return j;
}

static const char *
sget(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	ck_assert_msg(s != NULL, "no string '%s'", k);
	return s;
}

/* A line at error level proves everything logged before it was seen. */
static void
expect_sentinel(void)
{
	json_t *j;

	log_error("sentinel");
	j = next_json(NULL);
	ck_assert_str_eq(sget(j, "msg"), "sentinel");
	json_decref(j);
}

static int
rx_match(const char *re, const char *s)
{
	regex_t r;
	int rc;

	ck_assert_int_eq(regcomp(&r, re, REG_EXTENDED | REG_NOSUB), 0);
	rc = regexec(&r, s, 0, NULL, 0) == 0;
	regfree(&r);
	return rc;
}

#define TS_RE "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z"

START_TEST(json_line_exact_bytes)
{
	char *raw, want[512];
	struct tm tm;
	json_t *j;
	const char *ts;

	log_info("hello %d", 42);
	j = next_json(&raw);
	ts = sget(j, "ts");
	ck_assert_msg(rx_match("^" TS_RE "$", ts), "ts %s", ts);
	snprintf(want, sizeof(want), "{\"ts\":\"%s\",\"level\":\"info\","
	    "\"component\":\"comp\",\"msg\":\"hello 42\"}", ts);
	ck_assert_str_eq(raw, want);
	/* The stamp is UTC and now (generous window). */
	memset(&tm, 0, sizeof(tm));
	ck_assert_ptr_nonnull(strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm));
	ck_assert_int_lt(labs((long)(timegm(&tm) - time(NULL))), 120);
	free(raw);
	json_decref(j);
}
END_TEST

START_TEST(json_fields_and_component)
{
	json_t *f = json_pack("{sisss[ib]}", "n", 1, "s", "x", "a", 2, 1);
	json_t *empty = json_object();
	char *raw, want[512];
	json_t *j;

	log_emit(LOG_LVL_WARN, "other", f, "with %s", "fields");
	j = next_json(&raw);
	snprintf(want, sizeof(want), "{\"ts\":\"%s\",\"level\":\"warn\","
	    "\"component\":\"other\",\"msg\":\"with fields\","
	    "\"fields\":{\"n\":1,\"s\":\"x\",\"a\":[2,true]}}", sget(j, "ts"));
	ck_assert_str_eq(raw, want);
	free(raw);
	json_decref(j);

	/* Empty fields are omitted; the caller's object is not touched. */
	log_emit(LOG_LVL_ERROR, NULL, empty, "none");
	j = next_json(NULL);
	ck_assert_ptr_null(json_object_get(j, "fields"));
	ck_assert_str_eq(sget(j, "component"), "comp");
	ck_assert_str_eq(sget(j, "level"), "error");
	json_decref(j);
	ck_assert_int_eq(json_object_size(f), 3);
	json_decref(f);
	json_decref(empty);
}
END_TEST

START_TEST(level_filtering)
{
	json_t *j;

	log_debug("hidden at info");
	expect_sentinel();
	log_set_level(LOG_LVL_WARN);
	ck_assert_int_eq(log_get_level(), LOG_LVL_WARN);
	log_info("hidden at warn");
	log_emit(LOG_LVL_INFO, NULL, NULL, "hidden too");
	log_warnx("shown");
	j = next_json(NULL);
	ck_assert_str_eq(sget(j, "msg"), "shown");
	ck_assert_str_eq(sget(j, "level"), "warn");
	json_decref(j);
	log_set_level(LOG_LVL_DEBUG);
	log_debug("now shown");
	j = next_json(NULL);
	ck_assert_str_eq(sget(j, "msg"), "now shown");
	ck_assert_str_eq(sget(j, "level"), "debug");
	json_decref(j);
}
END_TEST

START_TEST(env_level)
{
	json_t *j;

	setenv("AFU9_LOG_LEVEL", "debug", 1);
	log_init("envc");
	ck_assert_int_eq(log_get_level(), LOG_LVL_DEBUG);
	log_debug("dbg");
	j = next_json(NULL);
	ck_assert_str_eq(sget(j, "msg"), "dbg");
	ck_assert_str_eq(sget(j, "component"), "envc");
	json_decref(j);

	setenv("AFU9_LOG_LEVEL", "ERROR", 1);
	log_init(NULL);
	ck_assert_int_eq(log_get_level(), LOG_LVL_ERROR);
	log_warnx("filtered");
	expect_sentinel();

	/* Unknown value: default level, and the operator is told. */
	setenv("AFU9_LOG_LEVEL", "loud", 1);
	log_init(NULL);
	ck_assert_int_eq(log_get_level(), LOG_LVL_INFO);
	j = next_json(NULL);
	ck_assert_str_eq(sget(j, "level"), "warn");
	ck_assert_ptr_nonnull(strstr(sget(j, "msg"), "AFU9_LOG_LEVEL=loud"));
	json_decref(j);
}
END_TEST

START_TEST(env_text_format)
{
	json_t *f = json_pack("{sisssssn}", "n", 7, "s", "plain", "q", "a b",
	    "z");
	char *l;

	setenv("AFU9_LOG_FORMAT", "text", 1);
	log_init("txt");
	log_emit(LOG_LVL_WARN, NULL, f, "two\nlines");
	l = next_line();
	ck_assert_msg(rx_match("^" TS_RE " WARN txt: two\\\\nlines n=7 s=plain "
	    "q=\"a b\" z=null$", l), "%s", l);
	free(l);
	log_info("no fields");
	l = next_line();
	ck_assert_msg(rx_match("^" TS_RE " INFO txt: no fields$", l), "%s", l);
	free(l);
	json_decref(f);

	setenv("AFU9_LOG_FORMAT", "json", 1);
	log_init(NULL);
	log_info("back");
	l = next_line();
	ck_assert_msg(l[0] == '{', "%s", l);
	free(l);
}
END_TEST

START_TEST(secret_never_logged)
{
	json_t *f, *j, *fl;
	char *raw;

	ck_assert_int_eq(redact_add_secret(SECRET), 0);
	f = json_pack("{sss{si}sss[s]}", "note", "pre " SECRET " post",
	    "nested", "password", 5, "githubToken", "abc",
	    "list", "x" SECRET "x");
	log_emit(LOG_LVL_INFO, NULL, f, "token is %s!", SECRET);
	j = next_json(&raw);
	ck_assert_ptr_null(strstr(raw, SECRET));
	ck_assert_str_eq(sget(j, "msg"), "token is [REDACTED]!");
	fl = json_object_get(j, "fields");
	ck_assert_str_eq(sget(fl, "note"), "pre [REDACTED] post");
	ck_assert_str_eq(sget(fl, "githubToken"), "[REDACTED]");
	ck_assert_str_eq(sget(json_object_get(fl, "nested"), "password"),
	    "[REDACTED]");
	ck_assert_str_eq(json_string_value(json_array_get(
	    json_object_get(fl, "list"), 0)), "x[REDACTED]x");
	free(raw);
	json_decref(j);

	/* The caller's fields are not modified. */
	ck_assert_str_eq(json_string_value(json_object_get(f, "githubToken")),
	    "abc");

	/* Same in the text format, and through log_warn's errno text. */
	setenv("AFU9_LOG_FORMAT", "text", 1);
	log_init(NULL);
	errno = EPERM;
	log_warn("key %s", SECRET);
	raw = next_line();
	ck_assert_ptr_null(strstr(raw, SECRET));
	ck_assert_ptr_nonnull(strstr(raw, "key [REDACTED]: "));
	free(raw);
	log_emit(LOG_LVL_INFO, NULL, f, "m");
	raw = next_line();
	ck_assert_ptr_null(strstr(raw, SECRET));
	ck_assert_ptr_nonnull(strstr(raw, " githubToken=[REDACTED]"));
	free(raw);
	json_decref(f);
}
END_TEST

START_TEST(long_message_truncated)
{
	size_t n = 100000;
	char *big = malloc(n + 1), *raw;
	const char *msg;
	json_t *j;

	memset(big, 'a', n);
	big[n] = '\0';
	log_info("%s", big);
	j = next_json(NULL);
	msg = sget(j, "msg");
	ck_assert_uint_eq(strlen(msg), 65536 + strlen("...[truncated]"));
	ck_assert_str_eq(msg + 65536, "...[truncated]");
	json_decref(j);

	/* A 2-byte character across the cut is dropped whole. */
	memset(big, 'a', n);
	big[65535] = '\xc3';
	big[65536] = '\xa9';
	log_info("%s", big);
	j = next_json(NULL);
	msg = sget(j, "msg");
	ck_assert_uint_eq(strlen(msg), 65535 + strlen("...[truncated]"));
	ck_assert_str_eq(msg + 65535, "...[truncated]");
	json_decref(j);

	/* A secret across the cut: redacted before cutting, no prefix left. */
	ck_assert_int_eq(redact_add_secret(SECRET), 0);
	memset(big, 'a', n);
	memcpy(big + 65530, SECRET, strlen(SECRET));
	log_info("%s", big);
	raw = next_line();
	ck_assert_ptr_null(strstr(raw, "s3cr"));
	ck_assert_ptr_nonnull(strstr(raw, "aaa[REDAC...[truncated]\""));
	free(raw);

	/* With log_warn the errno text survives the cut. */
	errno = ENOENT;
	log_warn("%s", big);
	j = next_json(NULL);
	msg = sget(j, "msg");
	ck_assert_str_eq(msg + 65536, "...[truncated]: No such file or directory");
	json_decref(j);
	free(big);
}
END_TEST

START_TEST(big_fields_replaced)
{
	size_t n = 70000;
	char *big = malloc(n + 1);
	json_t *f, *j, *fl;

	memset(big, 'b', n);
	big[n] = '\0';
	f = json_pack("{ss}", "blob", big);
	log_emit(LOG_LVL_INFO, NULL, f, "big");
	j = next_json(NULL);
	fl = json_object_get(j, "fields");
	ck_assert(json_is_true(json_object_get(fl, "_truncated")));
	ck_assert_int_eq(json_integer_value(json_object_get(fl, "_bytes")),
	    (json_int_t)n + 11);
	json_decref(j);
	json_decref(f);
	free(big);
}
END_TEST

START_TEST(warn_appends_errno)
{
	json_t *j;
	char want[256];

	errno = ENOENT;
	log_warn("open %s", "/nope");
	ck_assert_int_eq(errno, ENOENT);	/* preserved */
	j = next_json(NULL);
	snprintf(want, sizeof(want), "open /nope: %s", strerror(ENOENT));
	ck_assert_str_eq(sget(j, "msg"), want);
	ck_assert_str_eq(sget(j, "level"), "warn");
	json_decref(j);

	errno = ENOENT;
	log_warnx("plain");
	j = next_json(NULL);
	ck_assert_str_eq(sget(j, "msg"), "plain");
	json_decref(j);
}
END_TEST

START_TEST(hostile_message_bytes)
{
	json_t *j;
	char *raw;

	log_info("a\"b\\c\nd\te\x01" "f\xff" "g\xc3\xa9");
	j = next_json(&raw);
	ck_assert_str_eq(sget(j, "msg"), "a\"b\\c\nd\te\x01" "f\xef\xbf\xbd"
	    "g\xc3\xa9");
	ck_assert_ptr_null(strchr(raw, '\n'));
	free(raw);
	json_decref(j);
}
END_TEST

/* Run fn in a child whose log goes to cap[1]; return its wait status. */
static int
in_child(void (*fn)(void))
{
	pid_t pid;
	int st;

	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		fn();
		_exit(99);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return st;
}

static void do_fatal(void) { errno = EACCES; fatal("cannot %s", "go"); }
static void do_fatalx(void) { fatalx("bad config %d", 3); }

static void
do_invariant(void)
{
	struct buf b;

	buf_init(&b, 64);
	(void)buf_append(&b, "abc", 3);
	buf_consume(&b, 4);
	_exit(0);		/* not reached when the check holds */
}

START_TEST(fatal_logs_and_exits_1)
{
	char want[256];
	json_t *j;
	int st;

	st = in_child(do_fatal);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 1);
	j = next_json(NULL);
	snprintf(want, sizeof(want), "cannot go: %s", strerror(EACCES));
	ck_assert_str_eq(sget(j, "msg"), want);
	ck_assert_str_eq(sget(j, "level"), "error");
	json_decref(j);

	st = in_child(do_fatalx);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 1);
	j = next_json(NULL);
	ck_assert_str_eq(sget(j, "msg"), "bad config 3");
	json_decref(j);

	/* A broken invariant (consuming more than a buffer holds) is fatal
	   and says where. */
	st = in_child(do_invariant);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 1);
	j = next_json(NULL);
	ck_assert_msg(rx_match("^invariant broken at .*buf\\.c:[0-9]+ "
	    "\\(buf_consume\\): n <= buf_used\\(b\\)$", sget(j, "msg")),
	    "%s", sget(j, "msg"));
	ck_assert_str_eq(sget(j, "level"), "error");
	json_decref(j);
}
END_TEST

START_TEST(default_fd_is_stderr_not_stdout)
{
	int out[2], err[2], st;
	char *o, *e;
	pid_t pid;
	int eof;

	ck_assert_int_eq(pipe(out), 0);
	ck_assert_int_eq(pipe(err), 0);
	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(out[0]);
		close(err[0]);
		log_set_fd(2);
		log_init("child");
		log_info("to stderr");
		log_error("also");
		_exit(0);
	}
	close(out[1]);
	close(err[1]);
	e = t_read_until(err[0], "also", TMO, &eof);
	o = t_read_until(out[0], "\n", TMO, &eof);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_ptr_nonnull(e);
	ck_assert_ptr_nonnull(strstr(e, "\"msg\":\"to stderr\""));
	ck_assert_msg(o == NULL || *o == '\0', "stdout got: %s", o);
	ck_assert_int_eq(eof, 1);
	free(e);
	free(o);
	close(out[0]);
	close(err[0]);
}
END_TEST

/* log_set_fd(1) is refused: the line still reaches the capture pipe. */
START_TEST(set_fd_refuses_stdout)
{
	json_t *j;

	log_set_fd(1);
	log_set_fd(-1);
	log_info("still captured");
	j = next_json(NULL);
	ck_assert_str_eq(sget(j, "msg"), "still captured");
	json_decref(j);
}
END_TEST

#define WRITERS	4
#define LINES	150

static void
writer(void)
{
	char pad[3000];
	int i;

	memset(pad, 'p', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	for (i = 0; i < LINES; i++)
		log_info("%d %s", i, pad);
	_exit(0);
}

/* Whole lines in one write(2): concurrent writers never interleave. */
START_TEST(concurrent_writers_whole_lines)
{
	pid_t pids[WRITERS];
	json_t *j;
	int i, st;
	char *l;

	fflush(NULL);
	for (i = 0; i < WRITERS; i++) {
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0)
			writer();
	}
	for (i = 0; i < WRITERS * LINES; i++) {
		l = next_line();
		j = json_loads(l, 0, NULL);
		ck_assert_msg(j != NULL, "interleaved line %d", i);
		ck_assert_uint_gt(strlen(sget(j, "msg")), 2999);
		json_decref(j);
		free(l);
	}
	for (i = 0; i < WRITERS; i++)
		ck_assert_int_eq(waitpid(pids[i], &st, 0), pids[i]);
}
END_TEST

START_TEST(level_parse_and_name)
{
	static const struct { const char *s; int rc; enum log_level l; } t[] = {
		{ "debug", 0, LOG_LVL_DEBUG }, { "info", 0, LOG_LVL_INFO },
		{ "warn", 0, LOG_LVL_WARN }, { "warning", 0, LOG_LVL_WARN },
		{ "error", 0, LOG_LVL_ERROR }, { "INFO", 0, LOG_LVL_INFO },
		{ "", -1, 0 }, { "verbose", -1, 0 }, { "err", -1, 0 },
	};
	enum log_level l;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(*t); i++) {
		l = (enum log_level)99;
		ck_assert_int_eq(log_level_parse(t[i].s, &l), t[i].rc);
		if (t[i].rc == 0)
			ck_assert_int_eq(l, t[i].l);
	}
	ck_assert_str_eq(log_level_name(LOG_LVL_DEBUG), "debug");
	ck_assert_str_eq(log_level_name(LOG_LVL_WARN), "warn");
	ck_assert_str_eq(log_level_name(LOG_LVL_ERROR), "error");
	ck_assert_str_eq(log_level_name((enum log_level)9), "unknown");
}
END_TEST

/* ---- redact ---- */

START_TEST(sensitive_keys)
{
	static const char *const yes[] = {
		"token", "githubToken", "GITHUB_TOKEN", "x-api-key", "apiKey",
		"api_key", "AWS_SECRET_ACCESS_KEY", "aws_access_key_id",
		"Authorization", "proxy-authorization", "client_secret",
		"password", "PASSWD", "db.password", "credentials",
		"private_key", "privateKey", "Set-Cookie", "session_token",
		"X-Amz-Security-Token", "tokens_used", "max_tokens",
	};
	static const char *const no[] = {
		"author", "authored_by", "owner", "repo", "key", "keys",
		"title", "body", "session", "access", "pass", "api", "private",
		"sha", "state", "",
	};
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(*yes); i++)
		ck_assert_msg(redact_is_sensitive_key(yes[i]), "%s", yes[i]);
	for (i = 0; i < sizeof(no) / sizeof(*no); i++)
		ck_assert_msg(!redact_is_sensitive_key(no[i]), "%s", no[i]);
	ck_assert(!redact_is_sensitive_key(NULL));
}
END_TEST

static void
assert_redacts(const char *in, const char *want)
{
	char *out = redact_str(in);

	ck_assert_ptr_nonnull(out);
	ck_assert_str_eq(out, want);
	/* The allocation-free test agrees. */
	ck_assert_int_eq(redact_would_change(in, strlen(in)),
	    strcmp(in, want) != 0);
	free(out);
}

START_TEST(registry_bounds)
{
	char v[32];
	int i;

	errno = 0;
	ck_assert_int_eq(redact_add_secret("abc"), -1);
	ck_assert_int_eq(redact_add_secret(""), -1);
	ck_assert_int_eq(redact_add_secret(NULL), -1);
	ck_assert_int_eq(redact_add_secret("abcd"), 0);
	ck_assert_int_eq(redact_add_secret("abcd"), 0);	/* duplicate: no-op */
	for (i = 1; i < 64; i++) {
		snprintf(v, sizeof(v), "secret-%03d", i);
		ck_assert_int_eq(redact_add_secret(v), 0);
	}
	ck_assert_int_eq(redact_add_secret("one-too-many"), -1);
	ck_assert_int_eq(errno, ENOSPC);
	assert_redacts("abcd secret-063 secret-001.", "[REDACTED] [REDACTED] "
	    "[REDACTED].");
	assert_redacts("one-too-many", "one-too-many");
	redact_clear();
	assert_redacts("abcd", "abcd");
	ck_assert_int_eq(redact_add_secret("one-too-many"), 0);
}
END_TEST

/* Rotating secrets never exhaust the registry: the oldest is forgotten,
 * pinned ones stay. */
START_TEST(registry_rotating_evicts_oldest)
{
	char v[32];
	int i;

	ck_assert_int_eq(redact_add_secret("pinned-token"), 0);
	for (i = 0; i < 1000; i++) {
		snprintf(v, sizeof(v), "rotating-%04d", i);
		ck_assert_int_eq(redact_add_rotating_secret(v), 0);
	}
	/* 192 kept: 0808..0999; 0807 and older evicted */
	assert_redacts("rotating-0999 rotating-0808", "[REDACTED] [REDACTED]");
	assert_redacts("rotating-0807", "rotating-0807");
	assert_redacts("pinned-token", "[REDACTED]");
	/* pinning a rotating value moves it out of the eviction ring */
	ck_assert_int_eq(redact_add_secret("rotating-0808"), 0);
	for (i = 0; i < 200; i++) {
		snprintf(v, sizeof(v), "later-%04d", i);
		ck_assert_int_eq(redact_add_rotating_secret(v), 0);
	}
	assert_redacts("rotating-0808", "[REDACTED]");
	assert_redacts("rotating-0809", "rotating-0809");
	redact_clear();
}
END_TEST

START_TEST(scrub_every_occurrence)
{
	ck_assert_int_eq(redact_add_secret("hunter2"), 0);
	assert_redacts("hunter2", "[REDACTED]");
	assert_redacts("a hunter2 b hunter2hunter2 c", "a [REDACTED] b "
	    "[REDACTED] c");
	assert_redacts("hunter", "hunter");
	assert_redacts("", "");
	/* Overlapping registrations: nothing of either survives. */
	ck_assert_int_eq(redact_add_secret("abcdef"), 0);
	ck_assert_int_eq(redact_add_secret("cdefgh"), 0);
	ck_assert_int_eq(redact_add_secret("cdefghijkl"), 0);
	assert_redacts("xxabcdefghyy", "xx[REDACTED]yy");
	assert_redacts("xxabcdefghijklyy", "xx[REDACTED]yy");
	assert_redacts("--cdefgh--abcdef--", "--[REDACTED]--[REDACTED]--");
	/* Overlapping occurrences of one secret. */
	ck_assert_int_eq(redact_add_secret("aaaa"), 0);
	assert_redacts("baaaaab", "b[REDACTED]b");
	ck_assert(redact_contains_secret("zzhunter2zz", 11));
	ck_assert(!redact_contains_secret("zzhunter2zz", 8));
	ck_assert(!redact_contains_secret("nothing", 7));
}
END_TEST

/* A secret that cuts a UTF-8 character takes the whole character. */
START_TEST(scrub_keeps_utf8_whole)
{
	ck_assert_int_eq(redact_add_secret("\xa9tail"), 0);
	ck_assert_int_eq(redact_add_secret("ab\xe2\x82"), 0);
	assert_redacts("caf\xc3\xa9tail!", "caf[REDACTED]!");
	assert_redacts("xab\xe2\x82\xacy", "x[REDACTED]y");
}
END_TEST

START_TEST(scrub_token_shapes)
{
	assert_redacts("t=ghp_abcdefghijABCDEFGHIJ0123456789wxyz;",
	    "t=[REDACTED];");
	assert_redacts("github_pat_11ABCDEFG0abcdefghij_klmnopqrstuv end",
	    "[REDACTED] end");
	assert_redacts("ghs_0123456789abcdefghij", "[REDACTED]");
	assert_redacts("gho_short ghx_abcdefghijABCDEFGHIJ01",
	    "gho_short ghx_abcdefghijABCDEFGHIJ01");
	assert_redacts("ghp_0123456789abcdefghi", "ghp_0123456789abcdefghi");
	assert_redacts("Authorization: Bearer eyJhbGciOi.JIUzI1NiJ9-x_y==, ok",
	    "Authorization: Bearer [REDACTED], ok");
	assert_redacts("bearer abc", "bearer abc");
	assert_redacts("the bearer authentication", "the bearer authentication");
}
END_TEST

START_TEST(redact_json_rules)
{
	json_t *in, *out, *want;

	ck_assert_int_eq(redact_add_secret("p4ssw0rd!"), 0);
	in = json_pack("{s:s, s:i, s:[s,f,b,n], s:{s:s, s:{s:i}}, s:s}",
	    "user", "bob p4ssw0rd!", "count", 3,
	    "list", "p4ssw0rd!", 1.5, 1,
	    "deep", "x-api-key", "abc", "inner", "client_secret", 9,
	    "k-p4ssw0rd!", "v");
	out = redact_json(in);
	want = json_pack("{s:s, s:i, s:[s,f,b,n], s:{s:s, s:{s:s}}, s:s}",
	    "user", "bob [REDACTED]", "count", 3,
	    "list", "[REDACTED]", 1.5, 1,
	    "deep", "x-api-key", "[REDACTED]", "inner", "client_secret",
	    "[REDACTED]", "k-[REDACTED]", "v");
	ck_assert_ptr_nonnull(out);
	ck_assert_msg(json_equal(out, want), "got %s",
	    json_dumps(out, JSON_COMPACT));
	ck_assert_str_eq(json_string_value(json_object_get(in, "user")),
	    "bob p4ssw0rd!");
	json_decref(in);
	json_decref(out);
	json_decref(want);
}
END_TEST

/* Deeper than the bound: the subtree is hidden, not walked. */
START_TEST(redact_json_depth_bound)
{
	json_t *root = json_array(), *cur = root, *n, *out;
	int i;

	for (i = 0; i < 500; i++) {
		n = json_array();
		json_array_append_new(cur, n);
		cur = n;
	}
	json_array_append_new(cur, json_string("leaf"));
	out = redact_json(root);
	ck_assert_ptr_nonnull(out);
	for (cur = out, i = 0; json_is_array(cur); i++)
		cur = json_array_get(cur, 0);
	ck_assert_str_eq(json_string_value(cur), "[REDACTED]");
	ck_assert_int_lt(i, 500);
	json_decref(root);
	json_decref(out);
}
END_TEST

/* u8_charlen on exactly n malloc'd bytes, so ASan sees any over-read. */
static size_t
charlen_exact(const char *s, size_t n)
{
	unsigned char *p;
	size_t k;

	ck_assert_ptr_nonnull(p = malloc(n));
	memcpy(p, s, n);
	k = u8_charlen(p, n);
	free(p);
	return k;
}

/* Each length at both ends of its range, NUL included. */
START_TEST(utf8_valid_lengths)
{
	ck_assert_uint_eq(charlen_exact("\0", 1), 1);
	ck_assert_uint_eq(charlen_exact("\x7f", 1), 1);
	ck_assert_uint_eq(charlen_exact("\xc2\x80", 2), 2);		/* U+0080 */
	ck_assert_uint_eq(charlen_exact("\xdf\xbf", 2), 2);		/* U+07FF */
	ck_assert_uint_eq(charlen_exact("\xe0\xa0\x80", 3), 3);	/* U+0800 */
	ck_assert_uint_eq(charlen_exact("\xed\x9f\xbf", 3), 3);	/* U+D7FF */
	ck_assert_uint_eq(charlen_exact("\xee\x80\x80", 3), 3);	/* U+E000 */
	ck_assert_uint_eq(charlen_exact("\xef\xbf\xbf", 3), 3);	/* U+FFFF */
	ck_assert_uint_eq(charlen_exact("\xf0\x90\x80\x80", 4), 4);	/* U+10000 */
	ck_assert_uint_eq(charlen_exact("\xf4\x8f\xbf\xbf", 4), 4);	/* U+10FFFF */
	/* only the first character counts */
	ck_assert_uint_eq(charlen_exact("\xc3\xa9\xc3\xa9", 4), 2);
}
END_TEST

START_TEST(utf8_invalid_classes)
{
	/* a continuation byte, or a lead byte no character starts with */
	ck_assert_uint_eq(charlen_exact("\x80", 1), 0);
	ck_assert_uint_eq(charlen_exact("\xbf\x80", 2), 0);
	ck_assert_uint_eq(charlen_exact("\xc0\x80", 2), 0);	/* overlong NUL */
	ck_assert_uint_eq(charlen_exact("\xc1\xbf", 2), 0);
	ck_assert_uint_eq(charlen_exact("\xf5\x80\x80\x80", 4), 0);
	ck_assert_uint_eq(charlen_exact("\xff", 1), 0);
	/* overlong 3- and 4-byte forms */
	ck_assert_uint_eq(charlen_exact("\xe0\x80\xaf", 3), 0);
	ck_assert_uint_eq(charlen_exact("\xe0\x9f\xbf", 3), 0);
	ck_assert_uint_eq(charlen_exact("\xf0\x80\x80\xaf", 4), 0);
	ck_assert_uint_eq(charlen_exact("\xf0\x8f\xbf\xbf", 4), 0);
	/* surrogates */
	ck_assert_uint_eq(charlen_exact("\xed\xa0\x80", 3), 0);	/* U+D800 */
	ck_assert_uint_eq(charlen_exact("\xed\xbf\xbf", 3), 0);	/* U+DFFF */
	/* past U+10FFFF */
	ck_assert_uint_eq(charlen_exact("\xf4\x90\x80\x80", 4), 0);
	ck_assert_uint_eq(charlen_exact("\xf4\xbf\xbf\xbf", 4), 0);
	/* a bad continuation byte at each position */
	ck_assert_uint_eq(charlen_exact("\xc3\x41", 2), 0);
	ck_assert_uint_eq(charlen_exact("\xe2\x82\xc0", 3), 0);
	ck_assert_uint_eq(charlen_exact("\xf0\x9f\x98\x7f", 4), 0);
	/* truncated: the bytes are right, the buffer ends early */
	ck_assert_uint_eq(charlen_exact("\xc3", 1), 0);
	ck_assert_uint_eq(charlen_exact("\xe2\x82", 2), 0);
	ck_assert_uint_eq(charlen_exact("\xe2", 1), 0);
	ck_assert_uint_eq(charlen_exact("\xf0\x9f\x98", 3), 0);
	ck_assert_uint_eq(charlen_exact("\xf0\x9f", 2), 0);
	ck_assert_uint_eq(charlen_exact("\xf0", 1), 0);
}
END_TEST

/*
 * The range tables in u8_charlen against a decoder that builds the code
 * point (the way the copies it replaced did), for every pair of leading
 * bytes and each length of buffer.
 */
static size_t
ref_charlen(const unsigned char *s, size_t n)
{
	size_t len, i;
	unsigned long cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc0 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf7)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

START_TEST(utf8_matches_decoder)
{
	static const unsigned char tail[] = { 0x7f, 0x80, 0xbf, 0xc0 };
	unsigned char b[4];
	size_t n, want;
	unsigned i, t;

	for (i = 0; i < 256 * 256; i++)
		for (t = 0; t < 16; t++) {
			b[0] = (unsigned char)(i >> 8);
			b[1] = (unsigned char)i;
			b[2] = tail[t & 3];
			b[3] = tail[t >> 2];
			for (n = 1; n <= 4; n++)
				if (u8_charlen(b, n) != (want =
				    ref_charlen(b, n)))
					ck_abort_msg("%02x %02x %02x %02x "
					    "n=%zu: %zu, want %zu", b[0], b[1],
					    b[2], b[3], n, u8_charlen(b, n),
					    want);
		}
}
END_TEST

START_TEST(utf8_whole_buffer)
{
	ck_assert(u8_valid("", 0));
	ck_assert(u8_valid("plain", 5));
	ck_assert(u8_valid("a\0b", 3));		/* NUL is a character */
	ck_assert(u8_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14));
	ck_assert(!u8_valid("caf\xc3\xa9 \xe2\x82", 8));	/* cut at the end */
	ck_assert(u8_valid("caf\xc3\xa9 \xe2\x82", 6));	/* n is the bound */
	ck_assert(!u8_valid("ok\xed\xa0\x80ok", 7));
	ck_assert(!u8_valid("\xc0\xaf", 2));
	ck_assert(!u8_valid("x\x80", 2));
}
END_TEST

/* u8_fix(): each bad byte becomes '?', good characters stay whole. */
START_TEST(utf8_fix_in_place)
{
	char s[] = "a\xff\xc3\xa9\xed\xa0\x80\xe2\x82\xac\xe2\x82";
	char t[] = "plain";

	u8_fix(s);
	ck_assert_str_eq(s, "a?\xc3\xa9???\xe2\x82\xac??");
	u8_fix(t);
	ck_assert_str_eq(t, "plain");
}
END_TEST

/* u8_cut(): never inside a character, never at 0, at most 3 back. */
START_TEST(utf8_cut_boundaries)
{
	static const char e[] = "ab\xe2\x82\xac";	/* "ab€" */

	ck_assert_uint_eq(u8_cut(e, 5, 5), 5);
	ck_assert_uint_eq(u8_cut(e, 5, 9), 5);
	ck_assert_uint_eq(u8_cut(e, 5, 4), 2);
	ck_assert_uint_eq(u8_cut(e, 5, 3), 2);
	ck_assert_uint_eq(u8_cut(e, 5, 2), 2);
	ck_assert_uint_eq(u8_cut(e, 5, 1), 1);
	/* Nothing but continuation bytes: the bound, not 0. */
	ck_assert_uint_eq(u8_cut("\x80\x80\x80\x80\x80\x80", 6, 5), 5);
	ck_assert_uint_eq(u8_cut("\xe2\x82\xac", 3, 2), 2);
}
END_TEST

/* u8_clean(): invalid bytes become U+FFFD; a cut lands on a character
   boundary with the mark inside the bound; a fitting text is unmarked. */
START_TEST(utf8_clean_rule)
{
	char *c;

	ck_assert_str_eq(c = u8_clean("plain", 100, "..."), "plain");
	free(c);
	ck_assert_str_eq(c = u8_clean("a\xff" "b", 100, NULL), "a\xef\xbf\xbd" "b");
	free(c);
	ck_assert_str_eq(c = u8_clean("\xed\xa0\x80", 100, NULL),
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	free(c);
	ck_assert_str_eq(c = u8_clean("abcdef", 6, "..."), "abcdef");
	free(c);
	ck_assert_str_eq(c = u8_clean("abcdefg", 6, "..."), "abc...");
	free(c);
	ck_assert_str_eq(c = u8_clean("ab\xe2\x82\xac" "cd", 6, "..."), "ab...");
	free(c);
	ck_assert_str_eq(c = u8_clean("ab\xe2\x82\xac" "cd", 5, NULL), "ab\xe2\x82\xac");
	free(c);
	/* A replacement that would cross the bound is left out whole. */
	ck_assert_str_eq(c = u8_clean("a\xff", 3, NULL), "a");
	free(c);
	ck_assert_str_eq(c = u8_clean("", 0, "..."), "");
	free(c);
}
END_TEST

/* errfmt(): the one error formatter redacts registered secrets, also one
   the buffer cuts through, and an over-long text is cut, not overrun. */
START_TEST(errfmt_redacts_and_cuts)
{
	char err[64], cut[1510], big[3000];

	ck_assert_int_eq(redact_add_secret("hunter2-secret"), 0);
	ck_assert_int_eq(errfmt(err, sizeof(err), "login %s failed", "x"), -1);
	ck_assert_str_eq(err, "login x failed");
	errfmt(err, sizeof(err), "password=%s!", "hunter2-secret");
	ck_assert_ptr_null(strstr(err, "hunter2"));
	ck_assert_ptr_nonnull(strstr(err, "password="));
	/* The secret straddles the cut: no prefix of it may show. */
	memset(big, 'a', sizeof(big));
	memcpy(big + 1500, "hunter2-secret", 14);
	big[sizeof(big) - 1] = '\0';
	errfmt(cut, sizeof(cut), "%s", big);
	ck_assert_uint_eq(strlen(cut), sizeof(cut) - 1);
	ck_assert_ptr_null(strstr(cut, "hunt"));
	errfmt(err, sizeof(err), "%s", big);
	ck_assert_uint_eq(strlen(err), sizeof(err) - 1);
	errfmt(NULL, 0, "nothing %d", 1);
}
END_TEST

/* AFU9_TRACE names: a list, "all", case-insensitive; an unknown name is
   an error but the known ones still count. */
START_TEST(trace_parse_names)
{
	unsigned m = 99;

	ck_assert_int_eq(log_trace_parse("", &m), 0);
	ck_assert_uint_eq(m, 0);
	ck_assert_int_eq(log_trace_parse("mcp", &m), 0);
	ck_assert_uint_eq(m, LOG_TRACE_MCP);
	ck_assert_int_eq(log_trace_parse("HTTP,store", &m), 0);
	ck_assert_uint_eq(m, LOG_TRACE_HTTP | LOG_TRACE_STORE);
	ck_assert_int_eq(log_trace_parse("all", &m), 0);
	ck_assert_uint_eq(m, LOG_TRACE_MCP | LOG_TRACE_HTTP | LOG_TRACE_STORE);
	ck_assert_int_eq(log_trace_parse(",mcp,,", &m), 0);
	ck_assert_uint_eq(m, LOG_TRACE_MCP);
	ck_assert_int_eq(log_trace_parse("mcp,sql", &m), -1);
	ck_assert_uint_eq(m, LOG_TRACE_MCP);
	ck_assert_int_eq(log_trace_parse("mc", &m), -1);
	ck_assert_int_eq(log_trace_parse("mcpx", &m), -1);
	ck_assert_uint_eq(m, 0);
}
END_TEST

/* AFU9_TRACE read by log_init(): a bad name is reported, not fatal. */
START_TEST(trace_env)
{
	json_t *j;

	setenv("AFU9_TRACE", "store,bogus", 1);
	log_init(NULL);
	unsetenv("AFU9_TRACE");
	ck_assert_uint_eq(log_trace_mask, LOG_TRACE_STORE);
	ck_assert(log_tracing(LOG_TRACE_STORE));
	ck_assert(!log_tracing(LOG_TRACE_MCP));
	j = next_json(NULL);
	ck_assert_str_eq(sget(j, "level"), "warn");
	ck_assert_ptr_nonnull(strstr(sget(j, "msg"), "AFU9_TRACE=store,bogus"));
	json_decref(j);
	log_init(NULL);
	ck_assert_uint_eq(log_trace_mask, 0);
}
END_TEST

/* One line per frame, at any level, only for traced subsystems; the
   frame is redacted, a NUL shown as a space, and a long one cut on a
   character boundary with its whole length in "bytes". */
START_TEST(trace_lines)
{
	char big[LOG_TRACE_MAX + 100], *raw;
	const char *fr, *frame = "{\"t\":\"" SECRET "\"}\r\n";
	json_t *j, *f;
	size_t i;

	log_set_level(LOG_LVL_ERROR);
	log_set_trace(LOG_TRACE_MCP);
	ck_assert_int_eq(redact_add_secret(SECRET), 0);
	log_trace(LOG_TRACE_HTTP, "in", "peer", "GET /", 5);	/* not traced */
	log_trace(LOG_TRACE_MCP, "out", "github", frame, strlen(frame));
	j = next_json(&raw);
	ck_assert_ptr_null(strstr(raw, SECRET));
	ck_assert_str_eq(sget(j, "msg"), "mcp out github");
	f = json_object_get(j, "fields");
	ck_assert_str_eq(sget(f, "trace"), "mcp");
	ck_assert_str_eq(sget(f, "dir"), "out");
	ck_assert_str_eq(sget(f, "peer"), "github");
	ck_assert_str_eq(sget(f, "frame"), "{\"t\":\"[REDACTED]\"}\r\n");
	ck_assert_int_eq(json_integer_value(json_object_get(f, "bytes")),
	    (json_int_t)strlen(frame));
	free(raw);
	json_decref(j);

	/* A frame longer than LOG_TRACE_MAX, with a 2-byte character
	   across the cut. */
	for (i = 0; i < sizeof(big); i++)
		big[i] = 'x';
	big[1] = '\0';
	/* The cut leaves room for "..." in LOG_TRACE_MAX: at 4093, inside
	   the character, so it moves back one byte. */
	big[LOG_TRACE_MAX - 4] = (char)0xc3;
	big[LOG_TRACE_MAX - 3] = (char)0xa9;
	log_trace(LOG_TRACE_MCP, "in", NULL, big, sizeof(big));
	j = next_json(NULL);
	f = json_object_get(j, "fields");
	fr = sget(f, "frame");
	ck_assert_uint_eq(strlen(fr), LOG_TRACE_MAX - 1);
	ck_assert_str_eq(fr + LOG_TRACE_MAX - 4, "...");
	ck_assert_int_eq(fr[LOG_TRACE_MAX - 5], 'x');
	ck_assert_int_eq(strncmp(fr, "x x", 3), 0);
	ck_assert_str_eq(sget(f, "peer"), "");
	ck_assert_int_eq(json_integer_value(json_object_get(f, "bytes")),
	    (json_int_t)sizeof(big));
	json_decref(j);
	log_set_trace(0);
	log_trace(LOG_TRACE_MCP, "in", "x", "y", 1);
	expect_sentinel();
	log_set_level(LOG_LVL_INFO);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("log");
	TCase *tl = tcase_create("log");
	TCase *tr = tcase_create("redact");
	TCase *tu = tcase_create("utf8");

	tcase_add_checked_fixture(tl, setup, teardown);
	tcase_add_test(tl, json_line_exact_bytes);
	tcase_add_test(tl, json_fields_and_component);
	tcase_add_test(tl, level_filtering);
	tcase_add_test(tl, env_level);
	tcase_add_test(tl, env_text_format);
	tcase_add_test(tl, secret_never_logged);
	tcase_add_test(tl, long_message_truncated);
	tcase_add_test(tl, big_fields_replaced);
	tcase_add_test(tl, warn_appends_errno);
	tcase_add_test(tl, hostile_message_bytes);
	tcase_add_test(tl, fatal_logs_and_exits_1);
	tcase_add_test(tl, default_fd_is_stderr_not_stdout);
	tcase_add_test(tl, set_fd_refuses_stdout);
	tcase_add_test(tl, concurrent_writers_whole_lines);
	tcase_add_test(tl, level_parse_and_name);
	tcase_add_test(tl, trace_parse_names);
	tcase_add_test(tl, trace_env);
	tcase_add_test(tl, trace_lines);
	suite_add_tcase(s, tl);

	tcase_add_checked_fixture(tr, setup, teardown);
	tcase_add_test(tr, sensitive_keys);
	tcase_add_test(tr, registry_bounds);
	tcase_add_test(tr, registry_rotating_evicts_oldest);
	tcase_add_test(tr, scrub_every_occurrence);
	tcase_add_test(tr, scrub_keeps_utf8_whole);
	tcase_add_test(tr, scrub_token_shapes);
	tcase_add_test(tr, redact_json_rules);
	tcase_add_test(tr, redact_json_depth_bound);
	tcase_add_test(tr, errfmt_redacts_and_cuts);
	suite_add_tcase(s, tr);

	tcase_add_test(tu, utf8_valid_lengths);
	tcase_add_test(tu, utf8_invalid_classes);
	tcase_add_test(tu, utf8_matches_decoder);
	tcase_add_test(tu, utf8_whole_buffer);
	tcase_add_test(tu, utf8_fix_in_place);
	tcase_add_test(tu, utf8_cut_boundaries);
	tcase_add_test(tu, utf8_clean_rule);
	suite_add_tcase(s, tu);

	return t_run(s);
}
