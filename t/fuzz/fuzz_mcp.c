/*
 * Fuzz target: the whole MCP server runtime.  Each input is the byte
 * stream a peer sends; a fresh server (synchronous tools like the test
 * server's) reads it from a pipe until EOF and writes to a memory file.
 * Oracle: no crash, no leak, the session ends, and every message the
 * server wrote is a framed JSON-RPC 2.0 object (checked by re-reading the
 * output with the frame reader).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <ev.h>
#include <jansson.h>

#include "frame.h"
#include "log.h"
#include "mcp_server.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_MAX_MSG	2048
#define FUZZ_MAX_OUT	(1u << 20)

static void
f_echo(struct mcp_call *c, const json_t *args, void *u)
{
	mcp_call_return(c, NULL, json_string_value(json_object_get(args,
	    "text")));
}

static void
f_add(struct mcp_call *c, const json_t *args, void *u)
{
	mcp_call_return(c, json_pack("{s:I}", "sum",
	    json_integer_value(json_object_get(args, "a")) +
	    json_integer_value(json_object_get(args, "b"))), NULL);
}

static void
f_fail(struct mcp_call *c, const json_t *args, void *u)
{
	mcp_call_error(c, "fail: this tool always fails");
}

static void
f_log(struct mcp_call *c, const json_t *args, void *u)
{
	mcp_server_log(mcp_call_server(c), "warning", "fuzz",
	    json_deep_copy(args));
	mcp_call_progress(c, 1, 2, "half");
	mcp_call_return(c, json_deep_copy(args), NULL);
}

static const struct mcp_tool ftools[] = {
	{ .name = "echo", .description = "echo", .input_schema =
	    "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":"
	    "\"string\",\"maxLength\":64}},\"required\":[\"text\"],"
	    "\"additionalProperties\":false}", .fn = f_echo },
	{ .name = "add", .description = "add", .input_schema =
	    "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\","
	    "\"minimum\":-1000000,\"maximum\":1000000},\"b\":{\"type\":"
	    "\"integer\",\"minimum\":-1000000,\"maximum\":1000000}},"
	    "\"required\":[\"a\",\"b\"]}",
	    .output_schema = "{\"type\":\"object\",\"properties\":{\"sum\":"
	    "{\"type\":\"integer\"}},\"required\":[\"sum\"]}", .fn = f_add },
	{ .name = "fail", .description = "fail", .input_schema =
	    "{\"type\":\"object\"}", .fn = f_fail },
	{ .name = "log", .description = "log", .input_schema =
	    "{\"type\":\"object\"}", .fn = f_log },
};

/* Every message in out[0..len) must be a JSON-RPC 2.0 object. */
static void
check_output(const char *out, size_t len)
{
	struct frame_reader r;
	enum frame_status st;
	const char *msg;
	size_t mlen;
	json_t *v;

	frame_reader_init(&r, FRAME_AUTO, len + 1024);
	if (len > 0 && frame_reader_feed(&r, out, len) == -1)
		abort();
	while ((st = frame_reader_next(&r, &msg, &mlen)) == FRAME_MSG) {
		v = json_loadb(msg, mlen, JSON_REJECT_DUPLICATES, NULL);
		if (!json_is_object(v) || !json_is_string(json_object_get(v,
		    "jsonrpc")))
			abort();
		json_decref(v);
	}
	if (st != FRAME_MORE || frame_reader_eof(&r))
		abort();
	frame_reader_free(&r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ev_loop *loop;
	struct mcp_server_opts opts = {
		.name = "fuzz", .version = "1", .max_msg = FUZZ_MAX_MSG,
		.max_out = FUZZ_MAX_OUT, .page_size = 2, .shutdown_grace = 1,
	};
	struct mcp_server *srv;
	char err[256], *out;
	int p[2], ofd, cap;
	size_t i, n;
	off_t olen;

	if (loop == NULL) {
		log_set_level(LOG_LVL_ERROR);
		loop = ev_default_loop(0);
	}
	if (pipe(p) == -1)
		abort();
	/* The whole input must fit the pipe: only the prefix that does is
	   fed (libFuzzer inputs are small; the pipe can grow to 1 MiB). */
	cap = fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
	if (cap < 0)
		cap = 65536;
	n = size < (size_t)cap ? size : (size_t)cap;
	if (n > 0 && write(p[1], data, n) != (ssize_t)n)
		abort();
	close(p[1]);
	if ((ofd = memfd_create("fuzz-out", MFD_CLOEXEC)) == -1)
		abort();

	if ((srv = mcp_server_new(loop, &opts, p[0], ofd)) == NULL)
		abort();
	for (i = 0; i < sizeof(ftools) / sizeof(ftools[0]); i++)
		if (mcp_server_add_tool(srv, &ftools[i], NULL, err,
		    sizeof(err)) == -1)
			abort();
	(void)mcp_server_run(srv);
	mcp_server_free(srv);
	close(p[0]);

	olen = lseek(ofd, 0, SEEK_END);
	if (olen > 0) {
		if ((out = malloc((size_t)olen)) == NULL)
			abort();
		if (pread(ofd, out, (size_t)olen, 0) != olen)
			abort();
		check_output(out, (size_t)olen);
		free(out);
	}
	close(ofd);
	return 0;
}
