/*
 * provider: the model providers' side of the agent runner.  Tool names
 * mapped and back (collisions, long names, order); request bodies of a
 * fixed conversation compared as JSON with what each provider's API
 * documents; the streams of t/fixtures/sse/ fed whole, cut at every byte
 * and byte by byte (the same reply each time); the whole replies and
 * error bodies of t/fixtures/llm-responses/; every error class and the
 * rate-limit headers; the bounds; headers and the key's redaction;
 * price tables and cost.
 */
#include "config.h"

#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <jansson.h>

#include "buf.h"
#include "redact.h"
#include "sse.h"
#include "strv.h"
#include "agent/provider.h"
#include "testutil.h"

static char *
slurp(const char *dir, const char *name, size_t *len)
{
	char path[1024];
	FILE *fp;
	char *s;
	long n;

	snprintf(path, sizeof(path), "%s/%s", t_srcdir(dir), name);
	fp = fopen(path, "rb");
	ck_assert_msg(fp != NULL, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	rewind(fp);
	s = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(fread(s, 1, (size_t)n, fp), (size_t)n);
	s[n] = '\0';
	fclose(fp);
	*len = (size_t)n;
	return s;
}

static json_t *
js(const char *text)
{
	json_error_t je;
	json_t *v = json_loads(text, 0, &je);

	ck_assert_msg(v != NULL, "bad JSON in test: %s: %s", je.text, text);
	return v;
}

static void
tools_of(struct prov_conv *c, const char *list)
{
	char err[256] = "";
	json_t *v = js(list);

	ck_assert_msg(prov_conv_add_tools(c, v, err, sizeof(err)) == 0, "%s",
	    err);
	json_decref(v);
}

static const char TOOLS[] =
    "[{\"name\":\"github.getIssue\",\"description\":\"Read an issue\","
    "\"inputSchema\":{\"type\":\"object\",\"properties\":{\"owner\":"
    "{\"type\":\"string\"},\"number\":{\"type\":\"integer\"}},"
    "\"required\":[\"owner\"]}},"
    "{\"name\":\"github.getFileContents\",\"inputSchema\":"
    "{\"type\":\"object\"}}]";

/* ---- names ---- */

static int
name_ok(const char *s)
{
	regex_t re;
	int ok;

	ck_assert_int_eq(regcomp(&re, "^[a-zA-Z0-9_-]{1,64}$",
	    REG_EXTENDED | REG_NOSUB), 0);
	ok = regexec(&re, s, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

START_TEST(names_simple)
{
	struct prov_conv c;
	char out[PROV_NAME_MAX + 1];

	prov_name_map("github.getIssue", out);
	ck_assert_str_eq(out, "github__getIssue");
	prov_name_map("deploy.update-service", out);
	ck_assert_str_eq(out, "deploy__update-service");
	prov_name_map("x.caf\xc3\xa9 tool", out);	/* UTF-8 and a space */
	ck_assert_str_eq(out, "x__caf___tool");	/* per byte */
	prov_conv_init(&c);
	tools_of(&c, TOOLS);
	ck_assert_str_eq(prov_conv_name(&c, "github.getIssue"),
	    "github__getIssue");
	ck_assert_str_eq(prov_conv_tool(&c, "github__getFileContents"),
	    "github.getFileContents");
	ck_assert_ptr_null(prov_conv_tool(&c, "github__nope"));
	ck_assert_ptr_null(prov_conv_tool(&c, "github.getIssue"));
	ck_assert_ptr_null(prov_conv_name(&c, "github__getIssue"));
	prov_conv_free(&c);
}
END_TEST

START_TEST(names_collide)
{
	struct prov_conv c, d;
	char long1[200], long2[200];
	char list[1024];
	const char *n[5], *tools[5] = { "a.b", "a__b", "a_b", NULL, NULL };
	size_t i, j;

	memset(long1, 'x', 150);
	strcpy(long1 + 150, ".one");
	memset(long2, 'x', 150);
	strcpy(long2 + 150, ".two");
	tools[3] = long1;
	tools[4] = long2;
	snprintf(list, sizeof(list), "[{\"name\":\"%s\"},{\"name\":\"%s\"},"
	    "{\"name\":\"%s\"},{\"name\":\"%s\"},{\"name\":\"%s\"}]",
	    tools[0], tools[1], tools[2], tools[3], tools[4]);
	prov_conv_init(&c);
	tools_of(&c, list);
	for (i = 0; i < 5; i++) {
		n[i] = prov_conv_name(&c, tools[i]);
		ck_assert_ptr_nonnull(n[i]);
		ck_assert_msg(name_ok(n[i]), "%s", n[i]);
		ck_assert_str_eq(prov_conv_tool(&c, n[i]), tools[i]);
		for (j = 0; j < i; j++)
			ck_assert_str_ne(n[i], n[j]);
	}
	/* "a.b" and "a__b" share a form: both hashed; "a_b" is alone. */
	ck_assert_int_eq(strncmp(n[0], "a__b_", 5), 0);
	ck_assert_int_eq(strlen(n[0]), 4 + 1 + 12);
	ck_assert_int_eq(strncmp(n[1], "a__b_", 5), 0);
	ck_assert_str_eq(n[2], "a_b");
	ck_assert_int_eq(strlen(n[3]), 64);
	/* The same names whatever the order of the list. */
	snprintf(list, sizeof(list), "[{\"name\":\"%s\"},{\"name\":\"%s\"},"
	    "{\"name\":\"%s\"},{\"name\":\"%s\"},{\"name\":\"%s\"}]",
	    tools[4], tools[2], tools[1], tools[3], tools[0]);
	prov_conv_init(&d);
	tools_of(&d, list);
	for (i = 0; i < 5; i++)
		ck_assert_str_eq(prov_conv_name(&d, tools[i]), n[i]);
	prov_conv_free(&d);
	prov_conv_free(&c);
}
END_TEST

START_TEST(names_refused)
{
	static const char *const bad[] = {
		"{}", "[1]", "[{}]", "[{\"name\":\"\"}]",
		"[{\"name\":\"a.b\"},{\"name\":\"a.b\"}]",
		"[{\"name\":\"a\",\"inputSchema\":[]}]",
		"[{\"name\":\"a\",\"description\":5}]",
		/* a tool literally named as another's hashed form */
		"[{\"name\":\"a.b\"},{\"name\":\"a__b\"},"
		"{\"name\":\"a__b_",
	};
	struct prov_conv c;
	char err[256], text[512], hashed[PROV_NAME_MAX + 1];
	size_t i;
	json_t *v;

	prov_conv_init(&c);
	tools_of(&c, TOOLS);
	/* The hash "a.b" gets, for the last case. */
	{
		struct prov_conv h;

		prov_conv_init(&h);
		tools_of(&h, "[{\"name\":\"a.b\"},{\"name\":\"a__b\"}]");
		snprintf(hashed, sizeof(hashed), "%s",
		    prov_conv_name(&h, "a.b") + 5);
		prov_conv_free(&h);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "%s", bad[i]);
		if (i + 1 == sizeof(bad) / sizeof(bad[0]))
			snprintf(text, sizeof(text), "%s%s\"}]", bad[i], hashed);
		v = js(text);
		err[0] = '\0';
		ck_assert_msg(prov_conv_add_tools(&c, v, err, sizeof(err)) == -1,
		    "accepted %s", text);
		ck_assert_msg(err[0] != '\0', "%s", text);
		json_decref(v);
		/* refused: the tools before are still there */
		ck_assert_ptr_nonnull(prov_conv_name(&c, "github.getIssue"));
	}
	prov_conv_free(&c);
}
END_TEST

START_TEST(names_bound)
{
	struct prov_conv c;
	char err[256];
	json_t *a = json_array();
	char name[32];
	int i;

	for (i = 0; i <= PROV_MAX_TOOLS; i++) {
		snprintf(name, sizeof(name), "s.t%d", i);
		json_array_append_new(a, json_pack("{s:s}", "name", name));
	}
	prov_conv_init(&c);
	ck_assert_int_eq(prov_conv_add_tools(&c, a, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "more than"));
	json_array_remove(a, 0);
	ck_assert_int_eq(prov_conv_add_tools(&c, a, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.ntools, PROV_MAX_TOOLS);
	json_decref(a);
	prov_conv_free(&c);
}
END_TEST

/* ---- the fixed conversation and its requests ---- */

/* A reply as if parsed: text and calls (name, id, raw arguments). */
static void
reply_calls(struct prov_conv *c, const char *text, int n,
    const char *const *spec)
{
	struct prov_reply r;
	char err[256];
	int i;

	prov_reply_init(&r);
	r.text = strdup(text);
	r.textlen = strlen(text);
	r.calls = calloc((size_t)n, sizeof(*r.calls));
	for (i = 0; i < n; i++) {
		r.calls[i].id = strdup(spec[3 * i]);
		r.calls[i].name = strdup(spec[3 * i + 1]);
		r.calls[i].raw = strdup(spec[3 * i + 2]);
		r.calls[i].args = json_loads(spec[3 * i + 2], 0, NULL);
		if (r.calls[i].args == NULL)
			r.calls[i].error = strdup("not JSON");
		r.ncalls++;
	}
	ck_assert_msg(prov_conv_add_reply(c, &r, err, sizeof(err)) == 0, "%s",
	    err);
	prov_reply_free(&r);
}

static void
conversation(struct prov_conv *c)
{
	static const char *const calls[] = {
		"call_1", "github__getIssue", "{\"owner\":\"octo\",\"number\":7}",
		"call_2", "github__getFileContents", "{\"path\":",
	};
	char err[256];

	prov_conv_init(c);
	tools_of(c, TOOLS);
	ck_assert(prov_conv_add_system(c, "You are afu9.", err,
	    sizeof(err)) == 0);
	ck_assert(prov_conv_add_system(c, "Repository: octo/hello.", err,
	    sizeof(err)) == 0);
	ck_assert(prov_conv_add_user(c, "Fix issue 7.", err, sizeof(err)) == 0);
	reply_calls(c, "Reading it.", 2, calls);
	ck_assert(prov_conv_add_result(c, "call_1", "{\"title\":\"crash\"}", 0,
	    err, sizeof(err)) == 0);
	ck_assert(prov_conv_add_result(c, "call_2", "arguments are not JSON", 1,
	    err, sizeof(err)) == 0);
	ck_assert(prov_conv_add_user(c, "Be brief.", err, sizeof(err)) == 0);
	reply_calls(c, "Done.", 0, NULL);
}

static void
assert_json(json_t *got, const char *want)
{
	json_t *w = js(want);
	char *g, *ws;

	g = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
	ws = json_dumps(w, JSON_SORT_KEYS | JSON_COMPACT);
	ck_assert_msg(json_equal(got, w), "got\n%s\nwant\n%s", g, ws);
	free(g);
	free(ws);
	json_decref(w);
}

static const char SCHEMA[] = "{\"type\":\"object\",\"properties\":{\"owner\":"
    "{\"type\":\"string\"},\"number\":{\"type\":\"integer\"}},"
    "\"required\":[\"owner\"]}";

START_TEST(request_openai)
{
	struct prov_opts o = { PROV_OPENAI, "gpt-4o", 1024, 1, 0 };
	struct prov_conv c;
	char err[256], want[4096];
	json_t *body;

	conversation(&c);
	body = prov_request(&c, &o, err, sizeof(err));
	ck_assert_msg(body != NULL, "%s", err);
	snprintf(want, sizeof(want), "{\"model\":\"gpt-4o\",\"messages\":["
	    "{\"role\":\"system\",\"content\":\"You are afu9.\\n\\nRepository: "
	    "octo/hello.\"},"
	    "{\"role\":\"user\",\"content\":\"Fix issue 7.\"},"
	    "{\"role\":\"assistant\",\"content\":\"Reading it.\",\"tool_calls\":["
	    "{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":"
	    "\"github__getIssue\",\"arguments\":\"{\\\"owner\\\":\\\"octo\\\","
	    "\\\"number\\\":7}\"}},"
	    "{\"id\":\"call_2\",\"type\":\"function\",\"function\":{\"name\":"
	    "\"github__getFileContents\",\"arguments\":\"{\\\"path\\\":\"}}]},"
	    "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":"
	    "\"{\\\"title\\\":\\\"crash\\\"}\"},"
	    "{\"role\":\"tool\",\"tool_call_id\":\"call_2\",\"content\":"
	    "\"arguments are not JSON\"},"
	    "{\"role\":\"user\",\"content\":\"Be brief.\"},"
	    "{\"role\":\"assistant\",\"content\":\"Done.\"}],"
	    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
	    "\"github__getIssue\",\"description\":\"Read an issue\","
	    "\"parameters\":%s}},"
	    "{\"type\":\"function\",\"function\":{\"name\":"
	    "\"github__getFileContents\",\"parameters\":{\"type\":\"object\"}}}],"
	    "\"tool_choice\":\"auto\",\"max_tokens\":1024,\"stream\":true,"
	    "\"stream_options\":{\"include_usage\":true}}", SCHEMA);
	assert_json(body, want);
	json_decref(body);
	/* Not streamed, the newer models' key. */
	o.stream = 0;
	o.max_completion_tokens = 1;
	body = prov_request(&c, &o, err, sizeof(err));
	ck_assert_ptr_null(json_object_get(body, "stream"));
	ck_assert_ptr_null(json_object_get(body, "stream_options"));
	ck_assert_ptr_null(json_object_get(body, "max_tokens"));
	ck_assert_int_eq(json_integer_value(json_object_get(body,
	    "max_completion_tokens")), 1024);
	json_decref(body);
	prov_conv_free(&c);
}
END_TEST

START_TEST(request_anthropic)
{
	struct prov_opts o = { PROV_ANTHROPIC, "claude-sonnet-4-5", 2048, 1, 0 };
	struct prov_conv c;
	char err[256], want[4096];
	json_t *body;

	conversation(&c);
	body = prov_request(&c, &o, err, sizeof(err));
	ck_assert_msg(body != NULL, "%s", err);
	snprintf(want, sizeof(want), "{\"model\":\"claude-sonnet-4-5\","
	    "\"max_tokens\":2048,\"stream\":true,"
	    "\"system\":[{\"type\":\"text\",\"text\":\"You are afu9.\"},"
	    "{\"type\":\"text\",\"text\":\"Repository: octo/hello.\","
	    "\"cache_control\":{\"type\":\"ephemeral\"}}],"
	    "\"tools\":[{\"name\":\"github__getIssue\",\"description\":"
	    "\"Read an issue\",\"input_schema\":%s},"
	    "{\"name\":\"github__getFileContents\",\"input_schema\":"
	    "{\"type\":\"object\"},\"cache_control\":{\"type\":\"ephemeral\"}}],"
	    "\"messages\":["
	    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
	    "\"Fix issue 7.\"}]},"
	    "{\"role\":\"assistant\",\"content\":["
	    "{\"type\":\"text\",\"text\":\"Reading it.\"},"
	    "{\"type\":\"tool_use\",\"id\":\"call_1\",\"name\":"
	    "\"github__getIssue\",\"input\":{\"owner\":\"octo\",\"number\":7}},"
	    "{\"type\":\"tool_use\",\"id\":\"call_2\",\"name\":"
	    "\"github__getFileContents\",\"input\":{}}]},"
	    "{\"role\":\"user\",\"content\":["
	    "{\"type\":\"tool_result\",\"tool_use_id\":\"call_1\",\"content\":"
	    "\"{\\\"title\\\":\\\"crash\\\"}\"},"
	    "{\"type\":\"tool_result\",\"tool_use_id\":\"call_2\",\"content\":"
	    "\"arguments are not JSON\",\"is_error\":true},"
	    "{\"type\":\"text\",\"text\":\"Be brief.\"}]},"
	    "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":"
	    "\"Done.\"}]}]}", SCHEMA);
	assert_json(body, want);
	json_decref(body);
	prov_conv_free(&c);
}
END_TEST

/*
 * prov_request_text() against json_dumps(prov_request()): the same bytes
 * for every option set, asked after each message so that what is kept
 * from one request to the next is what the next one sends.
 */
static void
same_text(struct prov_conv *c)
{
	static const struct prov_opts opts[] = {
		{ PROV_OPENAI, "gpt-4o", 1024, 1, 0 },
		{ PROV_OPENAI, "gpt-\"5\"\u00e9", 0, 0, 0 },
		{ PROV_OPENAI, "o3", 77, 0, 1 },
		{ PROV_ANTHROPIC, "claude-sonnet-4-5", 2048, 1, 0 },
		{ PROV_ANTHROPIC, "claude", 1, 0, 0 },
	};
	char err[256], err2[256], *want, *got;
	json_t *body;
	size_t i, len;

	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		body = prov_request(c, &opts[i], err, sizeof(err));
		got = prov_request_text(c, &opts[i], &len, err2, sizeof(err2));
		if (body == NULL) {
			ck_assert_ptr_null(got);
			ck_assert_str_eq(err2, err);
			continue;
		}
		want = json_dumps(body, JSON_COMPACT);
		ck_assert_msg(got != NULL, "%s", err2);
		ck_assert_uint_eq(len, strlen(got));
		ck_assert_msg(strcmp(got, want) == 0, "opts %zu: got\n%s\nwant\n"
		    "%s", i, got, want);
		free(want);
		free(got);
		json_decref(body);
	}
}

START_TEST(request_text)
{
	static const char *const calls[] = {
		"call_1", "github__getIssue", "{\"owner\":\"octo\",\"number\":7}",
		"call_2", "github__getFileContents", "{\"path\":",
		"call_3", "github__getIssue", "{\"x\":[1.5,null,\"\\u2028\"]}",
	};
	struct prov_conv c;
	char err[256];

	prov_conv_init(&c);
	tools_of(&c, TOOLS);
	ck_assert(prov_conv_add_system(&c, "You are afu9.", err,
	    sizeof(err)) == 0);
	same_text(&c);			/* no message: refused alike */
	/* an assistant turn first: Anthropic refuses it, every time */
	reply_calls(&c, "Hello.", 0, NULL);
	same_text(&c);
	same_text(&c);
	prov_conv_free(&c);

	prov_conv_init(&c);
	ck_assert(prov_conv_add_user(&c, "Fix issue 7: \"crash\" \\ \t\x01 "
	    "\xe2\x80\xae.", err, sizeof(err)) == 0);
	same_text(&c);			/* no system, no tools */
	tools_of(&c, TOOLS);
	ck_assert(prov_conv_add_system(&c, "You are afu9.", err,
	    sizeof(err)) == 0);
	same_text(&c);
	ck_assert(prov_conv_add_user(&c, "Both of them.", err,
	    sizeof(err)) == 0);
	same_text(&c);			/* two user messages: one turn */
	reply_calls(&c, "Reading it.", 2, calls);
	same_text(&c);
	ck_assert(prov_conv_add_result(&c, "call_1", "{\"title\":\"crash\"}", 0,
	    err, sizeof(err)) == 0);
	same_text(&c);
	ck_assert(prov_conv_add_result(&c, "call_2", "", 1, err,
	    sizeof(err)) == 0);
	same_text(&c);
	reply_calls(&c, "", 0, NULL);	/* an empty turn: skipped */
	same_text(&c);
	ck_assert(prov_conv_add_user(&c, "Be brief.", err, sizeof(err)) == 0);
	same_text(&c);
	reply_calls(&c, "", 1, calls + 6);
	ck_assert(prov_conv_add_result(&c, "call_3", "ok", 0, err,
	    sizeof(err)) == 0);
	/* the system and the tools change after messages were kept */
	ck_assert(prov_conv_add_system(&c, "Repository: octo/hello.", err,
	    sizeof(err)) == 0);
	same_text(&c);
	tools_of(&c, "[{\"name\":\"conf.echo\",\"inputSchema\":{\"type\":"
	    "\"object\"}}]");
	same_text(&c);
	tools_of(&c, "[]");
	same_text(&c);
	reply_calls(&c, "Done.", 0, NULL);
	same_text(&c);
	prov_conv_free(&c);
}
END_TEST

START_TEST(request_refused)
{
	struct prov_opts o = { PROV_ANTHROPIC, "claude-sonnet-4-5", 0, 0, 0 };
	struct prov_conv c;
	char err[256];

	conversation(&c);
	ck_assert_ptr_null(prov_request(&c, &o, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "max_tokens"));
	o.max_tokens = 10;
	o.model = "";
	ck_assert_ptr_null(prov_request(&c, &o, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "model"));
	prov_conv_free(&c);
	prov_conv_init(&c);
	o.model = "m";
	ck_assert_ptr_null(prov_request(&c, &o, err, sizeof(err)));
	ck_assert_str_eq(err, "request: no message");
	/* Results only answer the calls of the turn before them, once. */
	ck_assert_int_eq(prov_conv_add_result(&c, "call_1", "x", 0, err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "no assistant turn"));
	prov_conv_free(&c);
	conversation(&c);
	ck_assert_int_eq(prov_conv_add_result(&c, "call_1", "x", 0, err,
	    sizeof(err)), -1);		/* a user turn came between */
	prov_conv_free(&c);
	prov_conv_init(&c);
	{
		static const char *const calls[] = { "c1", "t", "{}" };

		ck_assert(prov_conv_add_user(&c, "hi", err, sizeof(err)) == 0);
		reply_calls(&c, "", 1, calls);
	}
	ck_assert_int_eq(prov_conv_add_result(&c, "c2", "x", 0, err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "no call 'c2'"));
	ck_assert_int_eq(prov_conv_add_result(&c, "c1", "x", 0, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(prov_conv_add_result(&c, "c1", "x", 0, err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "already"));
	ck_assert_int_eq(prov_conv_add_user(&c, "", err, sizeof(err)), -1);
	ck_assert_int_eq(prov_conv_add_user(&c, "\xff", err, sizeof(err)), -1);
	prov_conv_free(&c);
}
END_TEST

START_TEST(headers)
{
	char err[256], **h;

	redact_clear();
	h = prov_headers(PROV_OPENAI, "sk-test-0123456789abcdef", 1, err,
	    sizeof(err));
	ck_assert_ptr_nonnull(h);
	ck_assert_int_eq(strv_len((const char *const *)h), 3);
	ck_assert_str_eq(h[0], "content-type: application/json");
	ck_assert_str_eq(h[1], "accept: text/event-stream");
	ck_assert_str_eq(h[2], "authorization: Bearer sk-test-0123456789abcdef");
	strv_free(h);
	/* Registered: it is redacted wherever it would be logged. */
	ck_assert(redact_contains_secret("key sk-test-0123456789abcdef", 28));
	h = prov_headers(PROV_ANTHROPIC, "sk-ant-api03-xyz", 0, err,
	    sizeof(err));
	ck_assert_int_eq(strv_len((const char *const *)h), 3);
	ck_assert_str_eq(h[1], "x-api-key: sk-ant-api03-xyz");
	ck_assert_str_eq(h[2], "anthropic-version: 2023-06-01");
	strv_free(h);
	h = prov_headers(PROV_OPENAI, NULL, 0, err, sizeof(err));
	ck_assert_int_eq(strv_len((const char *const *)h), 1);
	strv_free(h);
	ck_assert_ptr_null(prov_headers(PROV_ANTHROPIC, NULL, 0, err,
	    sizeof(err)));
	ck_assert_ptr_null(prov_headers(PROV_OPENAI, "sk-a\r\nX-Evil: 1", 0,
	    err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "control"));
	ck_assert_ptr_null(strstr(err, "Evil"));	/* the key is not echoed */
	ck_assert_ptr_null(prov_headers(PROV_OPENAI, "ab", 0, err,
	    sizeof(err)));
	ck_assert_str_eq(prov_path(PROV_OPENAI), "/v1/chat/completions");
	ck_assert_str_eq(prov_path(PROV_ANTHROPIC), "/v1/messages");
	redact_clear();
}
END_TEST

/* ---- replies ---- */

/* What a reply says, in one comparable line. */
static char *
summary(const struct prov_reply *r)
{
	struct buf b;
	char *s, *a;
	size_t i;

	buf_init(&b, 1 << 24);
	buf_printf(&b, "err=%s", prov_err_name(r->err));
	if (r->err != PROV_OK)
		buf_printf(&b, " type=%s msg=%s retry=%d", r->err_type ?
		    r->err_type : "-", r->err_msg ? r->err_msg : "-",
		    r->retryable);
	else
		buf_printf(&b, " text=%.*s", (int)r->textlen, r->text);
	buf_printf(&b, " stop=%s(%s)", prov_stop_name(r->stop),
	    r->stop_raw ? r->stop_raw : "-");
	if (r->has_usage)
		buf_printf(&b, " usage=%llu/%llu/%llu/%llu",
		    (unsigned long long)r->usage.input,
		    (unsigned long long)r->usage.output,
		    (unsigned long long)r->usage.cache_read,
		    (unsigned long long)r->usage.cache_write);
	for (i = 0; i < r->ncalls; i++) {
		a = r->calls[i].args ? json_dumps(r->calls[i].args,
		    JSON_SORT_KEYS | JSON_COMPACT) : NULL;
		buf_printf(&b, " call=%s:%s:%s:%s", r->calls[i].id,
		    r->calls[i].tool ? r->calls[i].tool : r->calls[i].name,
		    a ? a : "-", r->calls[i].error ? r->calls[i].error : "");
		free(a);
	}
	buf_append(&b, "", 1);
	s = strdup(buf_data(&b));
	buf_free(&b);
	return s;
}

/* Feed in[0..len) cut at cut (len: whole), or byte by byte (cut -1). */
static char *
stream_run(enum prov_kind k, const struct prov_conv *c, const char *in,
    size_t len, long cut)
{
	struct prov_stream *s = prov_stream_new(k, c);
	struct prov_reply r;
	struct sse p;
	size_t i;
	char *sum;

	ck_assert_ptr_nonnull(s);
	sse_init(&p, 0, prov_stream_sse, s);
	if (cut < 0) {
		for (i = 0; i < len; i++)
			if (sse_feed(&p, in + i, 1, NULL) != 0)
				break;
	} else if (sse_feed(&p, in, (size_t)cut, NULL) == 0)
		sse_feed(&p, in + cut, len - (size_t)cut, NULL);
	sse_finish(&p);
	sse_free(&p);
	prov_reply_init(&r);
	prov_stream_finish(s, &r);
	prov_stream_free(s);
	sum = summary(&r);
	prov_reply_free(&r);
	return sum;
}

static void
stream_fixture(enum prov_kind k, const char *name, const char *want)
{
	struct prov_conv c;
	size_t len, cut;
	char *in, *whole, *got;

	prov_conv_init(&c);
	tools_of(&c, TOOLS);
	in = slurp("t/fixtures/sse", name, &len);
	whole = stream_run(k, &c, in, len, (long)len);
	ck_assert_msg(strcmp(whole, want) == 0, "%s:\ngot  %s\nwant %s", name,
	    whole, want);
	for (cut = 0; cut < len; cut++) {
		got = stream_run(k, &c, in, len, (long)cut);
		ck_assert_msg(strcmp(got, whole) == 0, "%s cut at %zu:\n%s",
		    name, cut, got);
		free(got);
	}
	got = stream_run(k, &c, in, len, -1);
	ck_assert_str_eq(got, whole);
	free(got);
	free(whole);
	free(in);
	prov_conv_free(&c);
}

START_TEST(stream_openai_tools)
{
	stream_fixture(PROV_OPENAI, "openai-parallel-tools.sse",
	    "err=ok text= stop=tool_use(tool_calls) usage=180/61/1024/0"
	    " call=call_Qa1:github.getIssue:{\"number\":7,\"owner\":\"octo\","
	    "\"repo\":\"hello\"}:"
	    " call=call_Qb2:github.getFileContents:{\"owner\":\"octo\","
	    "\"path\":\"README.md\",\"repo\":\"hello\"}:");
}
END_TEST

START_TEST(stream_openai_text)
{
	stream_fixture(PROV_OPENAI, "openai-text-no-usage.sse",
	    "err=ok text=Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln \xf0\x9f\x9a\x80 "
	    "\xe2\x80\x94 fertig. stop=end_turn(stop)");
}
END_TEST

START_TEST(stream_anthropic_tools)
{
	stream_fixture(PROV_ANTHROPIC, "anthropic-tool-use.sse",
	    "err=ok text=I'll read the issue and the README first."
	    " stop=tool_use(tool_use) usage=2113/89/0/1800"
	    " call=toolu_01X:github.getIssue:{\"number\":7,\"owner\":\"octo\","
	    "\"repo\":\"hello\"}:"
	    " call=toolu_01Y:github.getFileContents:{\"owner\":\"octo\","
	    "\"path\":\"README.md\",\"repo\":\"hello\"}:");
}
END_TEST

START_TEST(stream_anthropic_error)
{
	stream_fixture(PROV_ANTHROPIC, "anthropic-error-midstream.sse",
	    "err=stream_error type=overloaded_error msg=Overloaded retry=1"
	    " stop=none(-) usage=512/1/1800/0");
}
END_TEST

/* A stream from text: events separated by blank lines. */
static char *
stream_text(enum prov_kind k, const char *text)
{
	struct prov_conv c;
	char *s;

	prov_conv_init(&c);
	tools_of(&c, TOOLS);
	s = stream_run(k, &c, text, strlen(text), (long)strlen(text));
	prov_conv_free(&c);
	return s;
}

#define OA_CHUNK(delta) "data: {\"choices\":[{\"index\":0,\"delta\":" delta \
	",\"finish_reason\":null}]}\n\n"

START_TEST(stream_cases)
{
	static const struct { enum prov_kind k; const char *in, *want; } t[] = {
		/* truncated: no [DONE] / message_stop */
		{ PROV_OPENAI, OA_CHUNK("{\"content\":\"hi\"}"),
		  "err=truncated type=- msg=the stream ended before [DONE] "
		  "retry=1 stop=none(-)" },
		{ PROV_ANTHROPIC, "event: message_start\ndata: {\"type\":"
		  "\"message_start\",\"message\":{\"id\":\"m\"}}\n\n",
		  "err=truncated type=- msg=the stream ended before "
		  "message_stop retry=1 stop=none(-)" },
		{ PROV_OPENAI, "",
		  "err=truncated type=- msg=the stream ended before [DONE] "
		  "retry=1 stop=none(-)" },
		/* an error chunk mid-stream */
		{ PROV_OPENAI, OA_CHUNK("{\"content\":\"hi\"}") "data: {\"error\":"
		  "{\"message\":\"The server had an error\",\"type\":"
		  "\"server_error\"}}\n\ndata: [DONE]\n\n",
		  "err=stream_error type=server_error msg=The server had an "
		  "error retry=1 stop=none(-)" },
		/* unparseable arguments: a per-call error; an unknown tool */
		{ PROV_OPENAI, OA_CHUNK("{\"tool_calls\":[{\"index\":0,\"id\":"
		  "\"c1\",\"function\":{\"name\":\"github__getIssue\","
		  "\"arguments\":\"{\\\"a\\\":\"}}]}")
		  OA_CHUNK("{\"tool_calls\":[{\"index\":1,\"id\":\"c2\","
		  "\"function\":{\"name\":\"nope\",\"arguments\":\"\"}}]}")
		  OA_CHUNK("{\"tool_calls\":[{\"index\":2,\"id\":\"c3\","
		  "\"function\":{\"name\":\"github__getIssue\",\"arguments\":"
		  "\"[1]\"}}]}")
		  "data: [DONE]\n\n",
		  "err=ok text= stop=none(-) call=c1:github__getIssue:-:the "
		  "arguments are not JSON: unexpected token near end of file "
		  "(at byte 5) call=c2:nope:{}:there is no tool named 'nope' "
		  "call=c3:github__getIssue:-:the arguments are not a JSON "
		  "object" },
		/* "error": null is no error */
		{ PROV_OPENAI, "data: {\"error\":null,\"choices\":[{\"index\":0,"
		  "\"delta\":{\"content\":\"ok\"},\"finish_reason\":\"stop\"}]}"
		  "\n\ndata: [DONE]\n\n", "err=ok text=ok stop=end_turn(stop)" },
		/* a name that changes mid-stream */
		{ PROV_OPENAI, OA_CHUNK("{\"tool_calls\":[{\"index\":0,\"id\":"
		  "\"c1\",\"function\":{\"name\":\"a\"}}]}")
		  OA_CHUNK("{\"tool_calls\":[{\"index\":0,\"function\":{\"name\":"
		  "\"b\"}}]}") "data: [DONE]\n\n",
		  "err=malformed type=- msg=tool call name changed mid-stream "
		  "('a', then 'b') retry=0 stop=none(-)" },
		{ PROV_OPENAI, "data: {nope\n\n",
		  "err=malformed type=- msg=a chunk that is not a JSON object: "
		  "string or '}' expected near 'nope' retry=0 stop=none(-)" },
		{ PROV_OPENAI, OA_CHUNK("{\"tool_calls\":[{\"index\":64}]}"),
		  "err=malformed type=- msg=tool call index missing or outside "
		  "0..63 retry=0 stop=none(-)" },
		/* a call without an id */
		{ PROV_OPENAI, OA_CHUNK("{\"tool_calls\":[{\"index\":0,"
		  "\"function\":{\"name\":\"a\"}}]}") "data: [DONE]\n\n",
		  "err=malformed type=- msg=tool call 0 has no id or no name "
		  "retry=0 stop=none(-)" },
		{ PROV_OPENAI, OA_CHUNK("{\"tool_calls\":[{\"index\":0,\"id\":"
		  "\"c1\",\"function\":{\"name\":\"a\"}},{\"index\":1,\"id\":"
		  "\"c1\",\"function\":{\"name\":\"b\"}}]}") "data: [DONE]\n\n",
		  "err=malformed type=- msg=two tool calls with the id 'c1' "
		  "retry=0 stop=none(-)" },
		/* Anthropic: events out of order, unknown, after the end */
		{ PROV_ANTHROPIC, "data: {\"type\":\"content_block_start\","
		  "\"index\":0,\"content_block\":{\"type\":\"text\"}}\n\n",
		  "err=malformed type=- msg='content_block_start' before "
		  "message_start retry=0 stop=none(-)" },
		{ PROV_ANTHROPIC, "data: {\"type\":\"message_start\",\"message\":"
		  "{}}\n\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
		  "\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n\n",
		  "err=malformed type=- msg=an event for content block 0, which "
		  "did not start retry=0 stop=none(-)" },
		{ PROV_ANTHROPIC, "data: {\"type\":\"message_start\",\"message\":"
		  "{}}\n\ndata: {\"type\":\"content_block_start\",\"index\":0,"
		  "\"content_block\":{\"type\":\"tool_use\",\"id\":\"t1\","
		  "\"name\":\"github__getIssue\",\"input\":{}}}\n\n"
		  "data: {\"type\":\"message_stop\"}\n\n",
		  "err=malformed type=- msg=tool call 't1' never stopped retry=0 "
		  "stop=none(-)" },
		{ PROV_ANTHROPIC, "data: {\"type\":\"message_start\",\"message\":"
		  "{}}\n\ndata: {\"type\":\"content_block_start\",\"index\":0,"
		  "\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}\n\n"
		  "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
		  "{\"type\":\"thinking_delta\",\"thinking\":\"hm\"}}\n\n"
		  "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
		  "data: {\"type\":\"content_block_start\",\"index\":1,"
		  "\"content_block\":{\"type\":\"tool_use\",\"id\":\"t1\","
		  "\"name\":\"github__getIssue\",\"input\":{}}}\n\n"
		  "data: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
		  "event: future\ndata: {\"type\":\"future\"}\n\n"
		  "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
		  "\"refusal\"},\"usage\":{\"output_tokens\":5}}\n\n"
		  "data: {\"type\":\"message_stop\"}\n\n"
		  "data: {\"type\":\"error\",\"error\":{}}\n\n",
		  "err=ok text= stop=other(refusal) usage=0/5/0/0 "
		  "call=t1:github.getIssue:{}:" },
		{ PROV_ANTHROPIC, "data: {\"type\":\"message_start\",\"message\":"
		  "{\"usage\":{\"input_tokens\":-1}}}\n\n",
		  "err=malformed type=- msg=usage: not counts of tokens "
		  "(0..100000000) retry=0 stop=none(-)" },
	};
	size_t i;
	char *got;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		got = stream_text(t[i].k, t[i].in);
		ck_assert_msg(strcmp(got, t[i].want) == 0, "case %zu:\ngot  %s\n"
		    "want %s", i, got, t[i].want);
		free(got);
	}
}
END_TEST

START_TEST(stream_bounds)
{
	struct buf b;
	char *got;
	int i;

	/* 65 calls in one turn */
	buf_init(&b, 1 << 24);
	for (i = 0; i < PROV_MAX_CALLS; i++)
		buf_printf(&b, OA_CHUNK("{\"tool_calls\":[{\"index\":%d,\"id\":"
		    "\"c%d\",\"function\":{\"name\":\"a\"}}]}"), i, i);
	buf_printf(&b, "data: [DONE]\n\n");
	buf_append(&b, "", 1);
	got = stream_text(PROV_OPENAI, buf_data(&b));
	ck_assert_msg(strncmp(got, "err=ok", 6) == 0, "%s", got);
	free(got);
	/* Anthropic counts blocks, not indexes: one more call is refused. */
	buf_reset(&b);
	buf_printf(&b, "data: {\"type\":\"message_start\",\"message\":{}}\n\n");
	for (i = 0; i <= PROV_MAX_CALLS; i++)
		buf_printf(&b, "data: {\"type\":\"content_block_start\","
		    "\"index\":%d,\"content_block\":{\"type\":\"tool_use\","
		    "\"id\":\"t%d\",\"name\":\"a\"}}\n\n", i, i);
	buf_append(&b, "", 1);
	got = stream_text(PROV_ANTHROPIC, buf_data(&b));
	ck_assert_str_eq(got, "err=malformed type=- msg=more than 64 tool "
	    "calls in one turn retry=0 stop=none(-)");
	free(got);
	/* arguments of one call over PROV_MAX_ARGS, in two fragments */
	buf_reset(&b);
	buf_printf(&b, OA_CHUNK("{\"tool_calls\":[{\"index\":0,\"id\":\"c\","
	    "\"function\":{\"name\":\"a\",\"arguments\":\"%0*d\"}}]}"),
	    (int)PROV_MAX_ARGS, 0);
	buf_printf(&b, OA_CHUNK("{\"tool_calls\":[{\"index\":0,\"function\":"
	    "{\"arguments\":\"1\"}}]}"));
	buf_append(&b, "", 1);
	got = stream_text(PROV_OPENAI, buf_data(&b));
	ck_assert_str_eq(got, "err=malformed type=- msg=the arguments of a "
	    "tool call are over 1048576 bytes retry=0 stop=none(-)");
	free(got);
	/* text over PROV_MAX_TEXT */
	buf_reset(&b);
	buf_printf(&b, OA_CHUNK("{\"content\":\"%0*d\"}"), (int)PROV_MAX_TEXT,
	    0);
	buf_printf(&b, OA_CHUNK("{\"content\":\"x\"}"));
	buf_append(&b, "", 1);
	got = stream_text(PROV_OPENAI, buf_data(&b));
	ck_assert_str_eq(got, "err=malformed type=- msg=the reply's text is "
	    "over 4194304 bytes retry=0 stop=none(-)");
	free(got);
	buf_free(&b);
}
END_TEST

static char *
parse_fixture(enum prov_kind k, const char *name, int status,
    const char *const *hdr, struct prov_reply *r)
{
	struct prov_conv c;
	size_t len;
	char *in, *s;

	prov_conv_init(&c);
	tools_of(&c, TOOLS);
	in = slurp("t/fixtures/llm-responses", name, &len);
	prov_reply_init(r);
	prov_parse(k, &c, status, hdr, in, len, 1796636000, r);
	s = summary(r);
	free(in);
	prov_conv_free(&c);
	return s;
}

START_TEST(parse_whole)
{
	struct prov_reply r;
	char *s;

	s = parse_fixture(PROV_OPENAI, "openai-tool-calls.json", 200, NULL, &r);
	ck_assert_str_eq(s, "err=ok text=Reading the issue first. "
	    "stop=tool_use(tool_calls) usage=180/61/1024/0 "
	    "call=call_Qa1:github.getIssue:{\"number\":7,\"owner\":\"octo\","
	    "\"repo\":\"hello\"}: call=call_Qb2:github__getIssue:-:the "
	    "arguments are not JSON: ':' expected near end of file (at "
	    "byte 22)");
	ck_assert_str_eq(r.id, "chatcmpl-AB1");
	ck_assert_str_eq(r.model, "gpt-4o-2024-08-06");
	ck_assert_str_eq(r.calls[1].raw, "{\"owner\":\"octo\",\"repo\"");
	ck_assert_int_eq(r.status, 200);
	prov_reply_free(&r);
	free(s);
	s = parse_fixture(PROV_OPENAI, "openai-text-length.json", 200, NULL, &r);
	ck_assert_str_eq(s, "err=ok text=The deploy finished but the "
	    "stop=max_tokens(length) usage=40/8/0/0");
	prov_reply_free(&r);
	free(s);
	s = parse_fixture(PROV_ANTHROPIC, "anthropic-tool-use.json", 200, NULL,
	    &r);
	ck_assert_str_eq(s, "err=ok text=I'll read the issue. "
	    "stop=tool_use(tool_use) usage=2113/89/0/1800 "
	    "call=toolu_01X:github.getIssue:{\"number\":7,\"owner\":\"octo\","
	    "\"repo\":\"hello\"}:");
	ck_assert_str_eq(r.calls[0].raw,
	    "{\"owner\":\"octo\",\"repo\":\"hello\",\"number\":7}");
	prov_reply_free(&r);
	free(s);
}
END_TEST

START_TEST(parse_errors)
{
	static const char *const oa429[] = {
		"x-ratelimit-reset-requests: 1s",
		"X-RateLimit-Reset-Tokens:  6m0.5s ",
		"retry-after: 3",
		"retry-after-ms: 2300", NULL
	};
	static const char *const an429[] = {
		"retry-after: 12",
		"anthropic-ratelimit-requests-reset: 2026-12-07T09:33:30Z",
		"anthropic-ratelimit-tokens-reset: 2026-12-07T10:33:40.250+01:00",
		"anthropic-ratelimit-input-tokens-reset: garbage", NULL
	};
	static const char *const date[] = {
		"Retry-After: Mon, 07 Dec 2026 09:33:50 GMT", NULL
	};
	static const struct {
		enum prov_kind k;
		const char *file;
		int status;
		const char *const *hdr;
		const char *want;
		long retry, reset;
		int too_long;
	} t[] = {
		{ PROV_OPENAI, "openai-error-rate-limit.json", 429, oa429,
		  "err=rate_limited type=rate_limit_exceeded msg=Rate limit "
		  "reached for gpt-4o in organization org-x on tokens per min "
		  "(TPM): Limit 30000, Used 29950, Requested 1200. Please try "
		  "again in 2.3s. retry=1 stop=none(-)", 2300, 360500, 0 },
		{ PROV_OPENAI, "openai-error-quota.json", 429, NULL,
		  "err=rate_limited type=insufficient_quota msg=You exceeded "
		  "your current quota, please check your plan and billing "
		  "details. retry=0 stop=none(-)", -1, -1, 0 },
		{ PROV_OPENAI, "openai-error-context.json", 400, NULL,
		  "err=invalid_request type=context_length_exceeded msg=This "
		  "model's maximum context length is 128000 tokens. However, "
		  "your messages resulted in 130412 tokens. Please reduce the "
		  "length of the messages. retry=0 stop=none(-)", -1, -1, 1 },
		{ PROV_OPENAI, "openai-error-auth.json", 401, NULL,
		  "err=auth type=invalid_api_key msg=Incorrect API key provided: "
		  "sk-test****cdef. You can find your API key at "
		  "https://platform.openai.com/account/api-keys. retry=0 "
		  "stop=none(-)", -1, -1, 0 },
		{ PROV_OPENAI, "openai-error-server.json", 500, NULL,
		  "err=server type=server_error msg=The server had an error "
		  "while processing your request. Sorry about that! retry=1 "
		  "stop=none(-)", -1, -1, 0 },
		{ PROV_OPENAI, "openai-error-server.json", 200, NULL,
		  "err=server type=server_error msg=The server had an error "
		  "while processing your request. Sorry about that! retry=1 "
		  "stop=none(-)", -1, -1, 0 },
		{ PROV_ANTHROPIC, "anthropic-error-overloaded.json", 529, NULL,
		  "err=overloaded type=overloaded_error msg=Overloaded retry=1 "
		  "stop=none(-)", -1, -1, 0 },
		{ PROV_ANTHROPIC, "anthropic-error-overloaded.json", 503, NULL,
		  "err=overloaded type=overloaded_error msg=Overloaded retry=1 "
		  "stop=none(-)", -1, -1, 0 },
		{ PROV_ANTHROPIC, "anthropic-error-rate-limit.json", 429, an429,
		  "err=rate_limited type=rate_limit_error msg=This request would "
		  "exceed the rate limit for your organization of 50,000 input "
		  "tokens per minute. retry=1 stop=none(-)", 12000, 20250, 0 },
		{ PROV_ANTHROPIC, "anthropic-error-rate-limit.json", 429, date,
		  "err=rate_limited type=rate_limit_error msg=This request would "
		  "exceed the rate limit for your organization of 50,000 input "
		  "tokens per minute. retry=1 stop=none(-)", 30000, -1, 0 },
		{ PROV_ANTHROPIC, "anthropic-error-prompt-too-long.json", 400,
		  NULL, "err=invalid_request type=invalid_request_error "
		  "msg=prompt is too long: 208451 tokens > 200000 maximum "
		  "retry=0 stop=none(-)", -1, -1, 1 },
		{ PROV_ANTHROPIC, "anthropic-error-api.json", 500, NULL,
		  "err=server type=api_error msg=Internal server error retry=1 "
		  "stop=none(-)", -1, -1, 0 },
		{ PROV_ANTHROPIC, "anthropic-error-auth.json", 401, NULL,
		  "err=auth type=authentication_error msg=invalid x-api-key "
		  "retry=0 stop=none(-)", -1, -1, 0 },
		{ PROV_ANTHROPIC, "anthropic-error-permission.json", 403, NULL,
		  "err=auth type=permission_error msg=Your API key does not have "
		  "permission to use the specified resource. retry=0 "
		  "stop=none(-)", -1, -1, 0 },
	};
	struct prov_reply r;
	size_t i;
	char *s;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		s = parse_fixture(t[i].k, t[i].file, t[i].status, t[i].hdr, &r);
		ck_assert_msg(strcmp(s, t[i].want) == 0, "case %zu:\ngot  %s\n"
		    "want %s", i, s, t[i].want);
		ck_assert_int_eq(r.status, t[i].status);
		ck_assert_msg(r.retry_after_ms == t[i].retry, "case %zu: retry "
		    "%ld", i, r.retry_after_ms);
		ck_assert_msg(r.reset_ms == t[i].reset, "case %zu: reset %ld",
		    i, r.reset_ms);
		ck_assert_int_eq(r.context_too_long, t[i].too_long);
		ck_assert_ptr_null(r.text);
		prov_reply_free(&r);
		free(s);
	}
}
END_TEST

START_TEST(parse_odd)
{
	static const struct {
		enum prov_kind k;
		int status;
		const char *body, *want;
	} t[] = {
		{ PROV_OPENAI, 502, "<html>Bad Gateway</html>",
		  "err=server type=- msg=HTTP 502: <html>Bad Gateway</html> "
		  "retry=1 stop=none(-)" },
		{ PROV_ANTHROPIC, 404, "", "err=invalid_request type=- msg=HTTP "
		  "404:  retry=0 stop=none(-)" },
		{ PROV_OPENAI, 418, "{}", "err=other type=- msg=HTTP 418 retry=0 "
		  "stop=none(-)" },
		{ PROV_OPENAI, 200, "[]", "err=malformed type=- msg=the body is "
		  "not a JSON object: another value retry=0 stop=none(-)" },
		{ PROV_OPENAI, 200, "{\"choices\":[]}", "err=malformed type=- "
		  "msg=the reply has no choice retry=0 stop=none(-)" },
		{ PROV_ANTHROPIC, 200, "{\"content\":{}}", "err=malformed type=- "
		  "msg=the reply has no content array retry=0 stop=none(-)" },
		{ PROV_ANTHROPIC, 200, "{\"content\":[],\"stop_reason\":"
		  "\"end_turn\",\"usage\":{\"input_tokens\":1,\"output_tokens\":"
		  "100000001}}", "err=malformed type=- msg=usage: not counts of "
		  "tokens (0..100000000) retry=0 stop=none(-)" },
		{ PROV_ANTHROPIC, 200, "{\"content\":[],\"stop_reason\":"
		  "\"end_turn\"}", "err=ok text= stop=end_turn(end_turn)" },
		{ PROV_OPENAI, 200, "{\"error\":null,\"choices\":[{\"index\":0,"
		  "\"message\":{\"content\":null},\"finish_reason\":"
		  "\"content_filter\"}]}",
		  "err=ok text= stop=other(content_filter)" },
		{ PROV_OPENAI, 200, "{\"choices\":[{\"index\":0,\"message\":"
		  "{\"content\":\"a\"}}],\"usage\":{\"prompt_tokens\":1,"
		  "\"prompt_tokens_details\":{\"cached_tokens\":2}}}",
		  "err=malformed type=- msg=usage: not counts of tokens "
		  "(0..100000000, cached within prompt) retry=0 stop=none(-)" },
	};
	struct prov_reply r;
	size_t i;
	char *s;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		prov_reply_init(&r);
		prov_parse(t[i].k, NULL, t[i].status, NULL, t[i].body,
		    strlen(t[i].body), 0, &r);
		s = summary(&r);
		ck_assert_msg(strcmp(s, t[i].want) == 0, "case %zu:\ngot  %s\n"
		    "want %s", i, s, t[i].want);
		free(s);
		prov_reply_free(&r);
	}
}
END_TEST

/* A parsed reply becomes the next assistant turn and is sent back. */
START_TEST(reply_roundtrip)
{
	struct prov_opts o = { PROV_ANTHROPIC, "claude-sonnet-4-5", 100, 0, 0 };
	struct prov_conv c;
	struct prov_reply r;
	char err[256];
	json_t *body;
	size_t len;
	char *in;

	prov_conv_init(&c);
	tools_of(&c, TOOLS);
	ck_assert(prov_conv_add_user(&c, "go", err, sizeof(err)) == 0);
	in = slurp("t/fixtures/llm-responses", "anthropic-tool-use.json", &len);
	prov_reply_init(&r);
	ck_assert_int_eq(prov_parse(PROV_ANTHROPIC, &c, 200, NULL, in, len, 0,
	    &r), 0);
	ck_assert(prov_conv_add_reply(&c, &r, err, sizeof(err)) == 0);
	ck_assert(prov_conv_add_result(&c, "toolu_01X", "{}", 0, err,
	    sizeof(err)) == 0);
	body = prov_request(&c, &o, err, sizeof(err));
	assert_json(json_object_get(body, "messages"), "["
	    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"go\"}]},"
	    "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":"
	    "\"I'll read the issue.\"},{\"type\":\"tool_use\",\"id\":"
	    "\"toolu_01X\",\"name\":\"github__getIssue\",\"input\":{\"owner\":"
	    "\"octo\",\"repo\":\"hello\",\"number\":7}}]},"
	    "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\","
	    "\"tool_use_id\":\"toolu_01X\",\"content\":\"{}\"}]}]");
	json_decref(body);
	prov_reply_free(&r);
	/* A failed reply is not a turn. */
	prov_reply_init(&r);
	prov_parse(PROV_ANTHROPIC, &c, 500, NULL, "{}", 2, 0, &r);
	ck_assert_int_eq(prov_conv_add_reply(&c, &r, err, sizeof(err)), -1);
	prov_reply_free(&r);
	free(in);
	prov_conv_free(&c);
}
END_TEST

/* ---- prices ---- */

START_TEST(prices_parse)
{
	static const char *const bad[] = {
		"[]", "{\"m\":1}", "{\"m\":{}}",
		"{\"m\":{\"input\":1,\"output\":1,\"cache_read\":1}}",
		"{\"m\":{\"input\":1,\"output\":1,\"cache_read\":1,"
		"\"cache_write\":1,\"extra\":1}}",
		"{\"m\":{\"input\":-1,\"output\":1,\"cache_read\":1,"
		"\"cache_write\":1}}",
		"{\"m\":{\"input\":\"3\",\"output\":1,\"cache_read\":1,"
		"\"cache_write\":1}}",
		"{\"m\":{\"input\":0.0000001,\"output\":1,\"cache_read\":1,"
		"\"cache_write\":1}}",
		"{\"m\":{\"input\":10001,\"output\":1,\"cache_read\":1,"
		"\"cache_write\":1}}",
		"{\"\":{\"input\":1,\"output\":1,\"cache_read\":1,"
		"\"cache_write\":1}}",
		"{\"a*b\":{\"input\":1,\"output\":1,\"cache_read\":1,"
		"\"cache_write\":1}}",
		"{\"*\":{\"input\":1,\"output\":1,\"cache_read\":1,"
		"\"cache_write\":1}}",
		"{\"m\":{\"input\":null,\"output\":1,\"cache_read\":1,"
		"\"cache_write\":1}}",
	};
	struct prov_prices t;
	const struct prov_price *p;
	char err[256];
	size_t i;
	json_t *v;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = js(bad[i]);
		err[0] = '\0';
		ck_assert_msg(prov_prices_parse(&t, v, err, sizeof(err)) == -1,
		    "accepted %s", bad[i]);
		ck_assert_msg(strncmp(err, "prices: ", 8) == 0, "%s", err);
		ck_assert_uint_eq(t.n, 0);
		json_decref(v);
	}
	v = js("{\"my-model\":{\"input\":0.3,\"output\":15,\"cache_read\":"
	    "0.000001,\"cache_write\":3.75},\"claude-sonnet-4-5*\":{\"input\":"
	    "1,\"output\":2,\"cache_read\":0,\"cache_write\":10000}}");
	ck_assert_msg(prov_prices_parse(&t, v, err, sizeof(err)) == 0, "%s",
	    err);
	json_decref(v);
	p = prov_price_find(&t, "my-model");
	ck_assert_uint_eq(p->input, 300000);
	ck_assert_uint_eq(p->output, 15000000);
	ck_assert_uint_eq(p->cache_read, 1);
	ck_assert_uint_eq(p->cache_write, 3750000);
	/* the config's table first, then the built-in one */
	p = prov_price_find(&t, "claude-sonnet-4-5-20250929");
	ck_assert_uint_eq(p->input, 1000000);
	ck_assert_uint_eq(p->cache_write, 10000000000ULL);
	p = prov_price_find(NULL, "claude-sonnet-4-5-20250929");
	ck_assert_uint_eq(p->input, 3000000);
	ck_assert_uint_eq(p->cache_write, 3750000);
	/* the longest prefix: gpt-4o-mini is not gpt-4o */
	ck_assert_uint_eq(prov_price_find(&t, "gpt-4o-mini-2024-07-18")->input,
	    150000);
	ck_assert_uint_eq(prov_price_find(NULL, "gpt-4o-2024-08-06")->input,
	    2500000);
	ck_assert_ptr_null(prov_price_find(&t, "my-model-2"));
	ck_assert_ptr_null(prov_price_find(NULL, "llama-3.1-8b"));
	prov_prices_free(&t);
	ck_assert_uint_gt(prov_prices_default()->n, 0);
}
END_TEST

START_TEST(cost)
{
	const struct prov_price *p = prov_price_find(NULL, "claude-sonnet-4-5");
	struct prov_price big = { "b", PROV_PRICE_MAX, PROV_PRICE_MAX,
	    PROV_PRICE_MAX, PROV_PRICE_MAX };
	struct prov_usage u = { 2113, 89, 0, 1800 };
	struct prov_usage m = { PROV_TOKENS_MAX, PROV_TOKENS_MAX,
	    PROV_TOKENS_MAX, PROV_TOKENS_MAX };
	struct prov_usage one = { 1, 0, 0, 0 }, zero = { 0, 0, 0, 0 };
	uint64_t sum = 0;
	int i;

	/* 2113 * 3 + 89 * 15 + 1800 * 3.75 = 6339 + 1335 + 6750 micro-$ */
	ck_assert_uint_eq(prov_cost(p, &u), 14424);
	/* a token of $3 per million is 3 micro-dollars, exactly */
	ck_assert_uint_eq(prov_cost(p, &one), 3);
	ck_assert_uint_eq(prov_cost(p, &zero), 0);
	/* a fraction of a micro-dollar is rounded up */
	ck_assert_uint_eq(prov_cost(prov_price_find(NULL, "gpt-4o-mini"),
	    &one), 1);
	/* a million requests of one token: no drift */
	for (i = 0; i < 1000000; i++)
		sum += prov_cost(p, &one);
	ck_assert_uint_eq(sum, 3000000);
	/* the bounds: 4 * 1e8 * 1e10 / 1e6 */
	ck_assert_uint_eq(prov_cost(&big, &m), 4000000000000ULL);
	m.input = UINT64_MAX;
	ck_assert_uint_eq(prov_cost(&big, &m), UINT64_MAX);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("provider");
	TCase *tc = tcase_create("provider");

	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, names_simple);
	tcase_add_test(tc, names_collide);
	tcase_add_test(tc, names_refused);
	tcase_add_test(tc, names_bound);
	tcase_add_test(tc, request_openai);
	tcase_add_test(tc, request_anthropic);
	tcase_add_test(tc, request_text);
	tcase_add_test(tc, request_refused);
	tcase_add_test(tc, headers);
	tcase_add_test(tc, stream_openai_tools);
	tcase_add_test(tc, stream_openai_text);
	tcase_add_test(tc, stream_anthropic_tools);
	tcase_add_test(tc, stream_anthropic_error);
	tcase_add_test(tc, stream_cases);
	tcase_add_test(tc, stream_bounds);
	tcase_add_test(tc, parse_whole);
	tcase_add_test(tc, parse_errors);
	tcase_add_test(tc, parse_odd);
	tcase_add_test(tc, reply_roundtrip);
	tcase_add_test(tc, prices_parse);
	tcase_add_test(tc, cost);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return t_run(suite());
}
