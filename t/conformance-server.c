/*
 * conformance-server: an MCP server on protocol/ for tests (not installed).
 *
 * Tools of the official conformance suite (@modelcontextprotocol/
 * conformance) that need no resources, prompts, sampling or elicitation:
 *   test_simple_text, test_image_content, test_audio_content,
 *   test_embedded_resource, test_multiple_content_types,
 *   test_tool_with_logging, test_tool_with_progress, test_error_handling,
 *   test_tool_slow {durationMs}, test_tool_fast.
 * Tools used by afu9's own tests and benchmarks:
 *   echo {text}        returns text
 *   sleep {ms}         answers after ms (timer), 4 progress steps, cancellable
 *   add {a, b}         integers in [-1000000, 1000000]; outputSchema {sum}
 *   fail {}            always an isError result
 *   big {bytes}        a text of that many 'x'
 *   count {name}       {n}: how many times count was called with name
 *                      (a value that changes, for wait steps)
 * With --ledger FILE, two more for the durability tests (t/test_wfdurable):
 *   record {key, ms, idempotencyKey}  a side effect: appends "effect KEY
 *                      IDEM PID" to FILE, unless an effect with that
 *                      idempotencyKey is there already (alreadyExisted);
 *                      every call first appends "call KEY IDEM PID"
 *                      (IDEM "-" without a key).  Neither read-only nor
 *                      idempotent: the engine may call it again only
 *                      with its key.
 *                      ms: half of it before the effect, half after.
 *   time {}            read-only: {ms} since the epoch
 *
 * stdin/stdout carry the protocol only; logs go to stderr.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <ev.h>
#include <jansson.h>

#include "common/srvmain.h"
#include "log.h"
#include "mcp_server.h"

/* A 1x1 red PNG and a minimal 16-bit mono WAV (one sample). */
static const char png_b64[] =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIA"
    "X8jx0gAAAABJRU5ErkJggg==";
static const char wav_b64[] =
    "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQIAAAAAAA==";

#define NO_ARGS		"{\"type\":\"object\",\"properties\":{}}"
#define BIG_MAX		(64 * 1024 * 1024)

/* ---- timed jobs: the asynchronous tools ---- */

struct job;
/* A step returns 1 to be called again after the interval, 0 once it has
   ended the job (job_end()). */
typedef int (*job_step_fn)(struct job *);

struct job {
	struct mcp_call	*call;
	struct ev_loop	*loop;
	ev_timer	 timer;
	job_step_fn	 step;
	int		 n;		/* steps done */
	int		 nsteps;
	double		 interval;	/* seconds between steps */
	long		 ms;
};

static void
job_cancel(struct mcp_call *call, void *arg)
{
	struct job *j = arg;

	/* the tests look for this line to see a cancel arrive */
	log_info("job cancelled after %d of %d steps", j->n, j->nsteps);
	ev_timer_stop(j->loop, &j->timer);
	free(j);
}

static void
job_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct job *j = w->data;

	j->n++;
	if (j->step(j)) {
		ev_timer_set(&j->timer, j->interval, 0.);
		ev_timer_start(loop, &j->timer);
	}
}

/* Release the job and hand back its call, which the caller completes. */
static struct mcp_call *
job_end(struct job *j)
{
	struct mcp_call *call = j->call;

	ev_timer_stop(j->loop, &j->timer);
	free(j);
	return call;
}

/* Start a job calling step() every `interval` seconds; NULL on ENOMEM
   (the call is then failed). */
static struct job *
job_start(struct mcp_call *call, job_step_fn step, int nsteps,
    double interval)
{
	struct job *j;

	if ((j = calloc(1, sizeof(*j))) == NULL) {
		mcp_call_fail(call, -32603, "internal error: out of memory");
		return NULL;
	}
	j->call = call;
	j->loop = mcp_server_loop(mcp_call_server(call));
	j->step = step;
	j->nsteps = nsteps;
	j->interval = interval;
	ev_timer_init(&j->timer, job_timer_cb, interval, 0.);
	j->timer.data = j;
	ev_timer_start(j->loop, &j->timer);
	mcp_call_on_cancel(call, job_cancel, j);
	return j;
}

/* ---- conformance fixtures ---- */

static void
tool_simple_text(struct mcp_call *call, const json_t *args, void *u)
{
	mcp_call_return(call, NULL, "This is a simple text response for testing.");
}

static void
tool_image(struct mcp_call *call, const json_t *args, void *u)
{
	mcp_call_return_content(call, json_pack("[{s:s, s:s, s:s}]",
	    "type", "image", "data", png_b64, "mimeType", "image/png"), NULL, 0);
}

static void
tool_audio(struct mcp_call *call, const json_t *args, void *u)
{
	mcp_call_return_content(call, json_pack("[{s:s, s:s, s:s}]",
	    "type", "audio", "data", wav_b64, "mimeType", "audio/wav"), NULL, 0);
}

static void
tool_embedded(struct mcp_call *call, const json_t *args, void *u)
{
	mcp_call_return_content(call, json_pack("[{s:s, s:{s:s, s:s, s:s}}]",
	    "type", "resource", "resource",
	    "uri", "test://embedded-resource", "mimeType", "text/plain",
	    "text", "This is an embedded resource content."), NULL, 0);
}

static void
tool_multiple(struct mcp_call *call, const json_t *args, void *u)
{
	mcp_call_return_content(call, json_pack(
	    "[{s:s, s:s}, {s:s, s:s, s:s}, {s:s, s:{s:s, s:s, s:s}}]",
	    "type", "text", "text", "Multiple content types test:",
	    "type", "image", "data", png_b64, "mimeType", "image/png",
	    "type", "resource", "resource",
	    "uri", "test://mixed-content-resource",
	    "mimeType", "application/json",
	    "text", "{\"test\":\"data\",\"value\":123}"), NULL, 0);
}

static void
tlog(struct mcp_call *call, const char *level, const char *text)
{
	mcp_server_log(mcp_call_server(call), level, "conformance-test-server",
	    json_string(text));
}

/*
 * Three info messages 50 ms apart, as the suite asks; a debug and an error
 * message between them let the suite see logging/setLevel filtering.
 */
static int
logging_step(struct job *j)
{
	if (j->n == 1) {
		tlog(j->call, "info", "Tool processing data");
		tlog(j->call, "debug", "Processing details at debug level");
		return 1;
	}
	tlog(j->call, "error", "Sample error-level message");
	tlog(j->call, "info", "Tool execution completed");
	mcp_call_return(job_end(j), NULL,
	    "Tool with logging executed successfully");
	return 0;
}

static void
tool_with_logging(struct mcp_call *call, const json_t *args, void *u)
{
	tlog(call, "info", "Tool execution started");
	job_start(call, logging_step, 2, 0.05);
}

static int
progress_step(struct job *j)
{
	char msg[64];

	snprintf(msg, sizeof(msg), "Completed step %d of 100", j->n * 50);
	mcp_call_progress(j->call, j->n * 50, 100, msg);
	if (j->n < 2)
		return 1;
	mcp_call_return(job_end(j), NULL,
	    "Tool with progress executed successfully");
	return 0;
}

static void
tool_with_progress(struct mcp_call *call, const json_t *args, void *u)
{
	mcp_call_progress(call, 0, 100, "Completed step 0 of 100");
	job_start(call, progress_step, 2, 0.05);
}

static void
tool_error(struct mcp_call *call, const json_t *args, void *u)
{
	mcp_call_error(call, "This tool intentionally returns an error for testing");
}

/* ---- sleeping (test_tool_slow, sleep) ---- */

static int
sleep_step(struct job *j)
{
	char text[64];

	mcp_call_progress(j->call, j->n, j->nsteps, NULL);
	if (j->n < j->nsteps)
		return 1;
	snprintf(text, sizeof(text), "slept %ld ms", j->ms);
	mcp_call_return(job_end(j), NULL, text);
	return 0;
}

static void
start_sleep(struct mcp_call *call, long ms)
{
	struct job *j;

	if ((j = job_start(call, sleep_step, 4, ms / 4000.)) != NULL)
		j->ms = ms;
}

static void
tool_slow(struct mcp_call *call, const json_t *args, void *u)
{
	start_sleep(call, (long)json_number_value(json_object_get(args,
	    "durationMs")));
}

static void
tool_fast(struct mcp_call *call, const json_t *args, void *u)
{
	mcp_call_return(call, NULL, "fast");
}

static void
tool_sleep(struct mcp_call *call, const json_t *args, void *u)
{
	start_sleep(call, (long)json_integer_value(json_object_get(args, "ms")));
}

/* ---- afu9 test tools ---- */

static void
tool_echo(struct mcp_call *call, const json_t *args, void *u)
{
	mcp_call_return(call, NULL, json_string_value(json_object_get(args,
	    "text")));
}

static void
tool_add(struct mcp_call *call, const json_t *args, void *u)
{
	json_int_t a = json_integer_value(json_object_get(args, "a"));
	json_int_t b = json_integer_value(json_object_get(args, "b"));

	mcp_call_return(call, json_pack("{s:I}", "sum", a + b), NULL);
}

static void
tool_fail(struct mcp_call *call, const json_t *args, void *u)
{
	mcp_call_error(call, "fail: this tool always fails");
}

static void
tool_big(struct mcp_call *call, const json_t *args, void *u)
{
	size_t n = (size_t)json_integer_value(json_object_get(args, "bytes"));
	char *s;

	if ((s = malloc(n + 1)) == NULL) {
		mcp_call_error(call, "big: cannot allocate %zu bytes", n);
		return;
	}
	memset(s, 'x', n);
	s[n] = '\0';
	mcp_call_return(call, NULL, s);
	free(s);
}

/* Names seen by count, with their calls (a short list: tests only). */
#define COUNT_NAMES	64

static void
tool_count(struct mcp_call *call, const json_t *args, void *u)
{
	static struct { char name[65]; json_int_t n; } seen[COUNT_NAMES];
	static size_t nseen;
	const char *name = json_string_value(json_object_get(args, "name"));
	size_t i;

	for (i = 0; i < nseen; i++)
		if (strcmp(seen[i].name, name) == 0)
			break;
	if (i == nseen) {
		if (nseen == COUNT_NAMES) {
			mcp_call_error(call, "count: more than %d names",
			    COUNT_NAMES);
			return;
		}
		snprintf(seen[nseen++].name, sizeof(seen[0].name), "%s", name);
	}
	mcp_call_return(call, json_pack("{s:I}", "n", ++seen[i].n), NULL);
}

static const struct mcp_tool tools[] = {
	{ .name = "test_simple_text", .description =
	    "Tests simple text content response", .input_schema = NO_ARGS,
	    .read_only = 1, .idempotent = 1, .fn = tool_simple_text },
	{ .name = "test_image_content", .description =
	    "Tests image content response", .input_schema = NO_ARGS,
	    .read_only = 1, .idempotent = 1, .fn = tool_image },
	{ .name = "test_audio_content", .description =
	    "Tests audio content response", .input_schema = NO_ARGS,
	    .read_only = 1, .idempotent = 1, .fn = tool_audio },
	{ .name = "test_embedded_resource", .description =
	    "Tests embedded resource content response",
	    .input_schema = NO_ARGS, .read_only = 1, .idempotent = 1,
	    .fn = tool_embedded },
	{ .name = "test_multiple_content_types", .description =
	    "Tests response with multiple content types (text, image, "
	    "resource)", .input_schema = NO_ARGS, .read_only = 1,
	    .idempotent = 1, .fn = tool_multiple },
	{ .name = "test_tool_with_logging", .description =
	    "Tests tool that emits log messages during execution",
	    .input_schema = NO_ARGS, .read_only = 1, .fn = tool_with_logging },
	{ .name = "test_tool_with_progress", .description =
	    "Tests tool that reports progress notifications",
	    .input_schema = NO_ARGS, .read_only = 1, .fn = tool_with_progress },
	{ .name = "test_error_handling", .description =
	    "Tests error response handling", .input_schema = NO_ARGS,
	    .read_only = 1, .fn = tool_error },
	{ .name = "test_tool_slow", .description =
	    "Sleeps durationMs milliseconds before answering; cancellable",
	    .input_schema = "{\"type\":\"object\",\"properties\":{\"durationMs\":"
	    "{\"type\":\"number\",\"minimum\":0,\"maximum\":600000}},"
	    "\"required\":[\"durationMs\"]}",
	    .read_only = 1, .fn = tool_slow },
	{ .name = "test_tool_fast", .description = "Answers at once",
	    .input_schema = NO_ARGS, .read_only = 1, .fn = tool_fast },
	{ .name = "echo", .title = "Echo", .description =
	    "Returns its text argument",
	    .input_schema = "{\"type\":\"object\",\"properties\":{\"text\":"
	    "{\"type\":\"string\"}},\"required\":[\"text\"],"
	    "\"additionalProperties\":false}",
	    .read_only = 1, .idempotent = 1, .fn = tool_echo },
	{ .name = "sleep", .title = "Sleep", .description =
	    "Answers after ms milliseconds, reporting progress in 4 steps",
	    .input_schema = "{\"type\":\"object\",\"properties\":{\"ms\":"
	    "{\"type\":\"integer\",\"minimum\":0,\"maximum\":600000}},"
	    "\"required\":[\"ms\"],\"additionalProperties\":false}",
	    .read_only = 1, .idempotent = 1, .fn = tool_sleep },
	{ .name = "add", .title = "Add", .description =
	    "Adds two integers between -1000000 and 1000000",
	    .input_schema = "{\"type\":\"object\",\"properties\":{"
	    "\"a\":{\"type\":\"integer\",\"minimum\":-1000000,"
	    "\"maximum\":1000000},"
	    "\"b\":{\"type\":\"integer\",\"minimum\":-1000000,"
	    "\"maximum\":1000000}},"
	    "\"required\":[\"a\",\"b\"],\"additionalProperties\":false}",
	    .output_schema = "{\"type\":\"object\",\"properties\":{\"sum\":"
	    "{\"type\":\"integer\"}},\"required\":[\"sum\"]}",
	    .read_only = 1, .idempotent = 1, .fn = tool_add },
	{ .name = "fail", .title = "Fail", .description =
	    "Always returns a tool error", .input_schema = NO_ARGS,
	    .read_only = 1, .idempotent = 1, .fn = tool_fail },
	{ .name = "big", .title = "Big", .description =
	    "Returns a text of the given number of bytes",
	    .input_schema = "{\"type\":\"object\",\"properties\":{\"bytes\":"
	    "{\"type\":\"integer\",\"minimum\":0,\"maximum\":67108864}},"
	    "\"required\":[\"bytes\"],\"additionalProperties\":false}",
	    .read_only = 1, .idempotent = 1, .fn = tool_big },
	{ .name = "count", .title = "Count", .description =
	    "Counts its calls with a name: n is 1 at the first",
	    .input_schema = "{\"type\":\"object\",\"properties\":{\"name\":"
	    "{\"type\":\"string\",\"minLength\":1,\"maxLength\":64}},"
	    "\"required\":[\"name\"],\"additionalProperties\":false}",
	    .output_schema = "{\"type\":\"object\",\"properties\":{\"n\":"
	    "{\"type\":\"integer\"}},\"required\":[\"n\"]}",
	    .read_only = 1, .fn = tool_count },
};

/* ---- the ledger: record and time (--ledger) ---- */

/*
 * The ledger is shared by every conformance-server of a test (each
 * orchestrator forks its own, and a killed orchestrator's child may
 * still finish a call): every look-up and append happens under flock(),
 * and each server keeps the idempotency keys of the effects it has read
 * so far, reading only what was appended since.
 */
static struct {
	int	 fd;
	off_t	 off;		/* bytes read into keys */
	char	**keys;		/* open addressing, NULL: free */
	size_t	 cap, n;
} ledger = { -1, 0, NULL, 0, 0 };

static uint64_t
key_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

static int
key_find(const char *k)
{
	size_t i;

	if (ledger.cap == 0)
		return 0;
	for (i = key_hash(k) & (ledger.cap - 1); ledger.keys[i] != NULL;
	    i = (i + 1) & (ledger.cap - 1))
		if (strcmp(ledger.keys[i], k) == 0)
			return 1;
	return 0;
}

/* Add k (copied); 0, or -1 on ENOMEM. */
static int
key_add(const char *k)
{
	char **old = ledger.keys;
	size_t i, j, ocap = ledger.cap;

	if (key_find(k))
		return 0;
	if ((ledger.n + 1) * 2 > ledger.cap) {
		ledger.cap = ocap ? ocap * 2 : 1024;
		if ((ledger.keys = calloc(ledger.cap, sizeof(char *))) ==
		    NULL) {
			ledger.keys = old;
			ledger.cap = ocap;
			return -1;
		}
		for (j = 0; j < ocap; j++) {
			if (old[j] == NULL)
				continue;
			for (i = key_hash(old[j]) & (ledger.cap - 1);
			    ledger.keys[i] != NULL;
			    i = (i + 1) & (ledger.cap - 1))
				;
			ledger.keys[i] = old[j];
		}
		free(old);
	}
	for (i = key_hash(k) & (ledger.cap - 1); ledger.keys[i] != NULL;
	    i = (i + 1) & (ledger.cap - 1))
		;
	if ((ledger.keys[i] = strdup(k)) == NULL)
		return -1;
	ledger.n++;
	return 0;
}

/* Read the lines appended since ledger.off (the lock held). */
static int
ledger_catch_up(char *err, size_t errlen)
{
	struct stat sb;
	char *b, *l, *nl, kind[16], key[256], idem[256];
	size_t len;
	ssize_t n;

	if (fstat(ledger.fd, &sb) == -1) {
		snprintf(err, errlen, "ledger: %s", strerror(errno));
		return -1;
	}
	if (sb.st_size <= ledger.off)
		return 0;
	len = (size_t)(sb.st_size - ledger.off);
	if ((b = malloc(len + 1)) == NULL) {
		snprintf(err, errlen, "ledger: out of memory");
		return -1;
	}
	if ((n = pread(ledger.fd, b, len, ledger.off)) != (ssize_t)len) {
		snprintf(err, errlen, "ledger: short read");
		free(b);
		return -1;
	}
	b[len] = '\0';
	for (l = b; (nl = strchr(l, '\n')) != NULL; l = nl + 1) {
		*nl = '\0';
		if (sscanf(l, "%15s %255s %255s", kind, key, idem) == 3 &&
		    strcmp(kind, "effect") == 0 && strcmp(idem, "-") != 0 &&
		    key_add(idem) == -1) {
			snprintf(err, errlen, "ledger: out of memory");
			free(b);
			return -1;
		}
	}
	ledger.off += l - b;	/* only whole lines are ever written */
	free(b);
	return 0;
}

/* Append line (the lock held): one write, so lines never interleave. */
static int
ledger_append(const char *line, char *err, size_t errlen)
{
	size_t len = strlen(line);

	if (write(ledger.fd, line, len) != (ssize_t)len) {
		snprintf(err, errlen, "ledger: %s", strerror(errno));
		return -1;
	}
	ledger.off += (off_t)len;
	return 0;
}

/*
 * Note a call of record and, unless its idempotencyKey already has an
 * effect, make the effect.  *existed: whether it had.  0, or -1 with err.
 */
static int
ledger_record(const char *key, const char *idem, int phase, int *existed,
    char *err, size_t errlen)
{
	char line[600];
	int rc = -1;

	if (flock(ledger.fd, LOCK_EX) == -1) {
		snprintf(err, errlen, "ledger: flock: %s", strerror(errno));
		return -1;
	}
	if (ledger_catch_up(err, errlen) == -1)
		goto out;
	snprintf(line, sizeof(line), "%s %s %s %ld\n", phase ? "effect" :
	    "call", key, idem ? idem : "-", (long)getpid());
	*existed = phase && idem != NULL && key_find(idem);
	if (!*existed && ledger_append(line, err, errlen) == -1)
		goto out;
	if (phase && idem != NULL && !*existed && key_add(idem) == -1) {
		snprintf(err, errlen, "ledger: out of memory");
		goto out;
	}
	rc = 0;
out:
	flock(ledger.fd, LOCK_UN);
	return rc;
}

struct rec {
	struct mcp_call	*call;
	struct ev_loop	*loop;
	ev_timer	 timer;
	int		 phase;		/* 1: before the effect, 2: after */
	int		 existed;
	double		 half;
	char		 key[256];
	char		 idem[256];	/* "": none */
};

static void
rec_cancel(struct mcp_call *call, void *arg)
{
	struct rec *r = arg;

	(void)call;
	ev_timer_stop(r->loop, &r->timer);
	free(r);
}

/* The effect (phase 1), then the answer (phase 2); frees r at the end. */
static void
rec_go(struct rec *r)
{
	struct mcp_call *call = r->call;
	char err[256];

	if (r->phase == 1) {
		if (ledger_record(r->key, r->idem[0] ? r->idem : NULL, 1,
		    &r->existed, err, sizeof(err)) == -1) {
			ev_timer_stop(r->loop, &r->timer);
			free(r);
			mcp_call_error(call, "record: %s", err);
			return;
		}
		r->phase = 2;
		if (r->half > 0) {
			ev_timer_set(&r->timer, r->half, 0.);
			ev_timer_start(r->loop, &r->timer);
			return;
		}
	}
	ev_timer_stop(r->loop, &r->timer);
	mcp_call_return(call, json_pack("{s:s,s:b}", "key", r->key,
	    "alreadyExisted", r->existed), NULL);
	free(r);
}

static void
rec_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	rec_go(w->data);
}

static void
tool_record(struct mcp_call *call, const json_t *args, void *u)
{
	const char *key = json_string_value(json_object_get(args, "key"));
	const char *idem = json_string_value(json_object_get(args,
	    "idempotencyKey"));
	json_int_t ms = json_integer_value(json_object_get(args, "ms"));
	char err[256];
	struct rec *r;
	int existed;

	(void)u;
	if (ledger_record(key, idem, 0, &existed, err, sizeof(err)) == -1) {
		mcp_call_error(call, "record: %s", err);
		return;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		mcp_call_fail(call, -32603, "internal error: out of memory");
		return;
	}
	r->call = call;
	r->loop = mcp_server_loop(mcp_call_server(call));
	r->phase = 1;
	r->half = ms / 2000.;
	snprintf(r->key, sizeof(r->key), "%s", key);
	snprintf(r->idem, sizeof(r->idem), "%s", idem ? idem : "");
	ev_timer_init(&r->timer, rec_timer_cb, r->half, 0.);
	r->timer.data = r;
	if (r->half <= 0) {
		rec_go(r);
		return;
	}
	ev_timer_start(r->loop, &r->timer);
	mcp_call_on_cancel(call, rec_cancel, r);
}

static void
tool_time(struct mcp_call *call, const json_t *args, void *u)
{
	struct timespec ts;

	(void)args;
	(void)u;
	clock_gettime(CLOCK_REALTIME, &ts);
	mcp_call_return(call, json_pack("{s:I}", "ms", (json_int_t)ts.tv_sec *
	    1000 + ts.tv_nsec / 1000000), NULL);
}

#define LEDGER_KEY	"{\"type\":\"string\",\"pattern\":" \
	"\"^[A-Za-z0-9._:-]{1,255}$\"}"

static const struct mcp_tool ledger_tools[] = {
	{ .name = "record", .title = "Record", .description =
	    "Appends one effect line for key to the ledger, once per "
	    "idempotencyKey",
	    .input_schema = "{\"type\":\"object\",\"properties\":{"
	    "\"key\":" LEDGER_KEY ",\"ms\":{\"type\":\"integer\","
	    "\"minimum\":0,\"maximum\":60000}," SRV_P_IDEMPOTENCY_KEY("") "},"
	    "\"required\":[\"key\"],\"additionalProperties\":false}",
	    .output_schema = "{\"type\":\"object\",\"properties\":{"
	    "\"key\":{\"type\":\"string\"},\"alreadyExisted\":"
	    "{\"type\":\"boolean\"}},\"required\":[\"key\","
	    "\"alreadyExisted\"]}",
	    .fn = tool_record },
	{ .name = "time", .title = "Time", .description =
	    "The time: milliseconds since the epoch", .input_schema = NO_ARGS,
	    .output_schema = "{\"type\":\"object\",\"properties\":{\"ms\":"
	    "{\"type\":\"integer\"}},\"required\":[\"ms\"]}",
	    .read_only = 1, .fn = tool_time },
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: conformance-server [--ndjson | --content-length] "
	    "[--ledger FILE]\n"
	    "MCP test server on stdin/stdout (framing detected from the input\n"
	    "unless forced); --ledger adds the tools record and time.\n"
	    "Environment: AFU9_MAX_MESSAGE_BYTES,\n"
	    "AFU9_LOG_LEVEL, AFU9_LOG_FORMAT.\n");
}

int
main(int argc, char **argv)
{
	struct mcp_server_opts opts = {
		.name = "afu9-conformance-server",
		.title = "afu9 conformance test server",
		.version = AFU9_VERSION,
		.instructions = "Test server: conformance fixtures plus echo, "
		    "sleep, add, fail, big and count.",
	};
	struct mcp_server *srv;
	struct ev_loop *loop;
	char err[256];
	size_t i;
	int status;

	for (i = 1; i < (size_t)argc; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--ndjson") == 0)
			opts.mode = FRAME_NDJSON;
		else if (strcmp(argv[i], "--content-length") == 0)
			opts.mode = FRAME_CL;
		else if (strcmp(argv[i], "--ledger") == 0 && i + 1 <
		    (size_t)argc) {
			ledger.fd = open(argv[++i], O_RDWR | O_APPEND | O_CREAT |
			    O_CLOEXEC, 0600);
			if (ledger.fd == -1)
				fatal("%s", argv[i]);
		} else {
			usage(stderr);
			return 2;
		}
	}
	log_init("conformance-server");
	if ((loop = ev_default_loop(0)) == NULL)
		fatalx("cannot initialise the event loop");
	if ((srv = mcp_server_new(loop, &opts, 0, 1)) == NULL)
		fatalx("out of memory");
	for (i = 0; i < sizeof(tools) / sizeof(tools[0]); i++)
		if (mcp_server_add_tool(srv, &tools[i], NULL, err,
		    sizeof(err)) == -1)
			fatalx("tool %s: %s", tools[i].name, err);
	for (i = 0; ledger.fd != -1 && i < sizeof(ledger_tools) /
	    sizeof(ledger_tools[0]); i++)
		if (mcp_server_add_tool(srv, &ledger_tools[i], NULL, err,
		    sizeof(err)) == -1)
			fatalx("tool %s: %s", ledger_tools[i].name, err);
	status = mcp_server_run(srv);
	mcp_server_free(srv);
	ev_loop_destroy(loop);
	return status;
}
