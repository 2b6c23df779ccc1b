#include "config.h"

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rpc.h"
#include "testutil.h"

static int
parse(const char *s, struct rpc_msg *m, struct rpc_err *e)
{
	return rpc_parse(s, strlen(s), m, e);
}

START_TEST(request_and_notification)
{
	struct rpc_msg m;
	struct rpc_err e;

	ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"x\"}}", &m, &e), 0);
	ck_assert_int_eq(m.kind, RPC_REQUEST);
	ck_assert_str_eq(m.method, "tools/call");
	ck_assert_str_eq(m.id_raw, "7");
	ck_assert(json_is_integer(m.id) && json_integer_value(m.id) == 7);
	ck_assert_str_eq(json_string_value(json_object_get(m.params, "name")),
	    "x");
	ck_assert_ptr_null(m.result);
	rpc_msg_free(&m);

	ck_assert_int_eq(parse(" {\"method\":\"notifications/initialized\","
	    "\"jsonrpc\":\"2.0\"} \n", &m, &e), 0);
	ck_assert_int_eq(m.kind, RPC_NOTIFICATION);
	ck_assert_ptr_null(m.id_raw);
	ck_assert_ptr_null(m.id);
	ck_assert_ptr_null(m.params);
	ck_assert_str_eq(m.method, "notifications/initialized");
	rpc_msg_free(&m);

	/* a string id; unknown members are ignored */
	ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"id\":\"abc\",\"method\":"
	    "\"ping\",\"params\":{},\"x-extra\":[1]}", &m, &e), 0);
	ck_assert_int_eq(m.kind, RPC_REQUEST);
	ck_assert_str_eq(m.id_raw, "\"abc\"");
	ck_assert(json_is_object(m.params));
	rpc_msg_free(&m);
}
END_TEST

START_TEST(responses)
{
	struct rpc_msg m;
	struct rpc_err e;

	ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"id\":\"r1\",\"result\":"
	    "{\"tools\":[]}}", &m, &e), 0);
	ck_assert_int_eq(m.kind, RPC_RESPONSE);
	ck_assert_str_eq(m.id_raw, "\"r1\"");
	ck_assert(json_is_object(m.result));
	ck_assert_ptr_null(m.method);
	rpc_msg_free(&m);

	/* result may be any value, null included */
	ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":null}",
	    &m, &e), 0);
	ck_assert_int_eq(m.kind, RPC_RESPONSE);
	ck_assert(json_is_null(m.result));
	rpc_msg_free(&m);

	ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"id\":-3,\"error\":"
	    "{\"code\":-32601,\"message\":\"nope\",\"data\":{\"m\":\"x\"}}}",
	    &m, &e), 0);
	ck_assert_int_eq(m.kind, RPC_ERROR_RESPONSE);
	ck_assert_str_eq(m.id_raw, "-3");
	ck_assert_int_eq(m.error_code, RPC_METHOD_NOT_FOUND);
	ck_assert_str_eq(m.error_message, "nope");
	ck_assert(json_is_object(m.error));
	rpc_msg_free(&m);

	/* a peer that could not parse our request answers with id null */
	ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":"
	    "{\"code\":-32700,\"message\":\"Parse error\"}}", &m, &e), 0);
	ck_assert_int_eq(m.kind, RPC_ERROR_RESPONSE);
	ck_assert_str_eq(m.id_raw, "null");
	ck_assert_int_eq(m.error_code, RPC_PARSE_ERROR);
	rpc_msg_free(&m);
}
END_TEST

/* The id comes back exactly as sent, escapes and all. */
START_TEST(id_echo_exact)
{
	static const struct {
		const char	*in;
		const char	*raw;
	} t[] = {
		{ "{\"jsonrpc\":\"2.0\",\"id\":\"\\u0041\",\"method\":\"m\"}",
		  "\"\\u0041\"" },
		{ "{\"jsonrpc\":\"2.0\",\"id\"  :\t\"a\\\"b\\\\c\\/\" ,"
		  "\"method\":\"m\"}", "\"a\\\"b\\\\c\\/\"" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":\"\xc3\xa9\\ud83d\\ude00\","
		  "\"method\":\"m\"}", "\"\xc3\xa9\\ud83d\\ude00\"" },
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"id\":\n-0\n}", "-0" },
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"id\":"
		  "9223372036854775807}", "9223372036854775807" },
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"id\":"
		  "-9223372036854775808}", "-9223372036854775808" },
		/* the member name itself may be escaped */
		{ "{\"jsonrpc\":\"2.0\",\"\\u0069d\":\"x\",\"method\":\"m\"}",
		  "\"x\"" },
		/* nested "id" members are not the envelope's */
		{ "{\"jsonrpc\":\"2.0\",\"params\":{\"id\":5,\"a\":[{\"id\":6}]},"
		  "\"id\":\"top\",\"method\":\"m\"}", "\"top\"" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":\"\",\"method\":\"m\"}", "\"\"" },
	};
	struct rpc_msg m;
	struct rpc_err e;
	char *out, want[256];
	size_t i, len;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ck_assert_msg(parse(t[i].in, &m, &e) == 0, "case %zu: %s", i,
		    e.message);
		ck_assert_int_eq(m.kind, RPC_REQUEST);
		ck_assert_str_eq(m.id_raw, t[i].raw);
		ck_assert(rpc_id_equal(m.id_raw, m.id));
		out = rpc_build_result(m.id_raw, json_object_get(m.root,
		    "jsonrpc"), &len);
		snprintf(want, sizeof(want),
		    "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":\"2.0\"}",
		    t[i].raw);
		ck_assert_str_eq(out, want);
		ck_assert_uint_eq(len, strlen(want));
		free(out);
		rpc_msg_free(&m);
	}
}
END_TEST

/*
 * Envelope rules: each violation, its code and exact message, the id the
 * reply carries (NULL: id null), and whether a reply is due at all.
 */
static const struct {
	const char	*in;
	int		 code;
	const char	*message;
	const char	*id;
	int		 answer;
} bad[] = {
	/* not JSON: parse error, id null */
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\"} x", RPC_PARSE_ERROR,
	  "parse error: end of file expected near 'x' at line 1 column 39",
	  NULL, 1 },
	{ "not json", RPC_PARSE_ERROR,
	  "parse error: invalid token near 'not' at line 1 column 3", NULL, 1 },
	{ "", RPC_PARSE_ERROR,
	  "parse error: unexpected token near end of file at line 1 column 0",
	  NULL, 1 },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,", RPC_PARSE_ERROR,
	  "parse error: string or '}' expected near end of file at line 1 "
	  "column 24", NULL, 1 },
	/* not an object */
	{ "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\"}]",
	  RPC_INVALID_REQUEST, "invalid request: batches are not supported",
	  NULL, 1 },
	{ "[]", RPC_INVALID_REQUEST,
	  "invalid request: batches are not supported", NULL, 1 },
	{ "42", RPC_INVALID_REQUEST,
	  "invalid request: message must be a JSON object", NULL, 1 },
	{ "\"x\"", RPC_INVALID_REQUEST,
	  "invalid request: message must be a JSON object", NULL, 1 },
	{ "null", RPC_INVALID_REQUEST,
	  "invalid request: message must be a JSON object", NULL, 1 },
	/* jsonrpc */
	{ "{\"id\":1,\"method\":\"m\"}", RPC_INVALID_REQUEST,
	  "invalid request: 'jsonrpc' must be \"2.0\"", "1", 1 },
	{ "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"m\"}", RPC_INVALID_REQUEST,
	  "invalid request: 'jsonrpc' must be \"2.0\"", "1", 1 },
	{ "{\"jsonrpc\":2.0,\"id\":\"a\",\"method\":\"m\"}", RPC_INVALID_REQUEST,
	  "invalid request: 'jsonrpc' must be \"2.0\"", "\"a\"", 1 },
	{ "{}", RPC_INVALID_REQUEST,
	  "invalid request: 'jsonrpc' must be \"2.0\"", NULL, 1 },
	/* id */
	{ "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"m\"}",
	  RPC_INVALID_REQUEST,
	  "invalid request: 'id' must be a string or integer", NULL, 1 },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"m\"}",
	  RPC_INVALID_REQUEST,
	  "invalid request: 'id' must be a string or integer", NULL, 1 },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1e2,\"method\":\"m\"}",
	  RPC_INVALID_REQUEST,
	  "invalid request: 'id' must be a string or integer", NULL, 1 },
	{ "{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"m\"}",
	  RPC_INVALID_REQUEST,
	  "invalid request: 'id' must be a string or integer", NULL, 1 },
	{ "{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"m\"}",
	  RPC_INVALID_REQUEST,
	  "invalid request: 'id' must be a string or integer", NULL, 1 },
	{ "{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"m\"}",
	  RPC_INVALID_REQUEST,
	  "invalid request: 'id' must be a string or integer", NULL, 1 },
	/* method */
	{ "{\"jsonrpc\":\"2.0\",\"id\":1}", RPC_INVALID_REQUEST,
	  "invalid request: 'method' is missing", "1", 1 },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":5}", RPC_INVALID_REQUEST,
	  "invalid request: 'method' must be a string", "1", 1 },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":null}", RPC_INVALID_REQUEST,
	  "invalid request: 'method' must be a string", "1", 1 },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\",\"result\":{}}",
	  RPC_INVALID_REQUEST,
	  "invalid request: a request cannot carry 'result' or 'error'", "1",
	  1 },
	/* params */
	{ "{\"jsonrpc\":\"2.0\",\"id\":\"p\",\"method\":\"m\",\"params\":[1]}",
	  RPC_INVALID_PARAMS,
	  "invalid params: 'params' must be an object, not an array", "\"p\"",
	  1 },
	{ "{\"jsonrpc\":\"2.0\",\"id\":\"p\",\"method\":\"m\",\"params\":\"s\"}",
	  RPC_INVALID_REQUEST, "invalid request: 'params' must be an object",
	  "\"p\"", 1 },
	{ "{\"jsonrpc\":\"2.0\",\"id\":\"p\",\"method\":\"m\",\"params\":null}",
	  RPC_INVALID_REQUEST, "invalid request: 'params' must be an object",
	  "\"p\"", 1 },
	/* notifications with a bad field: never answered */
	{ "{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":[1]}",
	  RPC_INVALID_PARAMS,
	  "invalid params: 'params' must be an object, not an array", NULL, 0 },
	{ "{\"jsonrpc\":\"1.0\",\"method\":\"m\"}", RPC_INVALID_REQUEST,
	  "invalid request: 'jsonrpc' must be \"2.0\"", NULL, 0 },
	{ "{\"jsonrpc\":\"2.0\",\"method\":7}", RPC_INVALID_REQUEST,
	  "invalid request: 'method' must be a string", NULL, 0 },
	/* responses: never answered */
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":1,\"error\":{}}",
	  RPC_INVALID_REQUEST, "invalid response: both 'result' and 'error'",
	  "1", 0 },
	{ "{\"jsonrpc\":\"2.0\",\"result\":1}", RPC_INVALID_REQUEST,
	  "invalid response: 'id' is missing", NULL, 0 },
	{ "{\"jsonrpc\":\"2.0\",\"id\":null,\"result\":1}", RPC_INVALID_REQUEST,
	  "invalid response: 'id' must be a string or integer", NULL, 0 },
	{ "{\"jsonrpc\":\"2.0\",\"id\":2.5,\"error\":{\"code\":1,"
	  "\"message\":\"m\"}}", RPC_INVALID_REQUEST,
	  "invalid response: 'id' must be a string or integer", NULL, 0 },
	{ "{\"id\":1,\"result\":1}", RPC_INVALID_REQUEST,
	  "invalid response: 'jsonrpc' must be \"2.0\"", "1", 0 },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":\"boom\"}",
	  RPC_INVALID_REQUEST, "invalid response: 'error' must be an object "
	  "with an integer 'code' and a string 'message'", "1", 0 },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":\"1\","
	  "\"message\":\"m\"}}", RPC_INVALID_REQUEST,
	  "invalid response: 'error' must be an object with an integer "
	  "'code' and a string 'message'", "1", 0 },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1.0,"
	  "\"message\":\"m\"}}", RPC_INVALID_REQUEST,
	  "invalid response: 'error' must be an object with an integer "
	  "'code' and a string 'message'", "1", 0 },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":4294967296,"
	  "\"message\":\"m\"}}", RPC_INVALID_REQUEST,
	  "invalid response: 'error' must be an object with an integer "
	  "'code' and a string 'message'", "1", 0 },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1}}",
	  RPC_INVALID_REQUEST, "invalid response: 'error' must be an object "
	  "with an integer 'code' and a string 'message'", "1", 0 },
	/* duplicate keys: valid JSON refused, the id survives when unique */
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\",\"method\":\"b\"}",
	  RPC_INVALID_REQUEST, "invalid request: duplicate object key near "
	  "'\"method\"' at line 1 column 45", "1", 1 },
	{ "{\"jsonrpc\":\"2.0\",\"id\":\"k\",\"method\":\"a\",\"params\":"
	  "{\"x\":1,\"x\":1}}", RPC_INVALID_REQUEST,
	  "invalid request: duplicate object key near '\"x\"' at line 1 "
	  "column 58", "\"k\"", 1 },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"method\":\"a\"}",
	  RPC_INVALID_REQUEST, "invalid request: duplicate object key near "
	  "'\"id\"' at line 1 column 28", NULL, 1 },
	{ "{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"params\":{\"x\":1,\"x\":2}}",
	  RPC_INVALID_REQUEST, "invalid request: duplicate object key near "
	  "'\"x\"' at line 1 column 49", NULL, 0 },
	{ "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"x\":1,\"x\":2}}",
	  RPC_INVALID_REQUEST, "invalid response: duplicate object key near "
	  "'\"x\"' at line 1 column 43", "3", 0 },
	/* duplicate keys in text that is broken later: parse error */
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\",\"method\":\"b\",}",
	  RPC_PARSE_ERROR, "parse error: duplicate object key near "
	  "'\"method\"' at line 1 column 45", NULL, 1 },
	/* numbers beyond int64 / double */
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\",\"params\":"
	  "{\"n\":99999999999999999999}}", RPC_INVALID_REQUEST,
	  "invalid request: too big integer near '99999999999999999999' at "
	  "line 1 column 71", "1", 1 },
	{ "{\"jsonrpc\":\"2.0\",\"id\":99999999999999999999,\"method\":\"m\"}",
	  RPC_INVALID_REQUEST, "invalid request: too big integer near "
	  "'99999999999999999999' at line 1 column 42", NULL, 1 },
	{ "{\"jsonrpc\":\"2.0\",\"id\":\"r\",\"method\":\"m\",\"params\":"
	  "{\"n\":1e999}}", RPC_INVALID_REQUEST, "invalid request: real number "
	  "overflow near '1e999' at line 1 column 58", "\"r\"", 1 },
	/* \u0000 is valid JSON but refused */
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\\u0000x\"}",
	  RPC_INVALID_REQUEST, "invalid request: strings must not contain "
	  "\\u0000 at line 1 column 43", "1", 1 },
	/* invalid UTF-8: not JSON at all */
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xff\"}", RPC_PARSE_ERROR,
	  "parse error: unable to decode byte 0xff near '\"' at line 1 "
	  "column 34", NULL, 1 },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xc0\x80\"}",
	  RPC_PARSE_ERROR, "parse error: unable to decode byte 0xc0 near '\"' "
	  "at line 1 column 34", NULL, 1 },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xed\xa0\x80\"}",
	  RPC_PARSE_ERROR, "parse error: unable to decode byte 0xed near '\"' "
	  "at line 1 column 34", NULL, 1 },
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\\udc00\"}",
	  RPC_PARSE_ERROR, "parse error: invalid Unicode '\\uDC00' near "
	  "'\"\\udc00\"' at line 1 column 41", NULL, 1 },
	/* a multi-byte token is quoted as it was sent */
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\xc3\xa9}", RPC_PARSE_ERROR,
	  "parse error: invalid token near '\xc3\xa9' at line 1 column 34",
	  NULL, 1 },
};

START_TEST(envelope_rules)
{
	struct rpc_msg m;
	struct rpc_err e;
	char *reply;
	size_t len;

	ck_assert_msg(parse(bad[_i].in, &m, &e) == -1, "accepted: %s",
	    bad[_i].in);
	ck_assert_ptr_null(m.root);
	ck_assert_msg(e.code == bad[_i].code, "%s: code %d", bad[_i].in,
	    e.code);
	ck_assert_str_eq(e.message, bad[_i].message);
	if (bad[_i].id == NULL)
		ck_assert_ptr_null(e.id_raw);
	else
		ck_assert_str_eq(e.id_raw, bad[_i].id);
	ck_assert_int_eq(rpc_err_answerable(&e), bad[_i].answer);
	/* the reply is a valid error response carrying that id */
	reply = rpc_build_error(e.id_raw, e.code, e.message, NULL, &len);
	ck_assert_ptr_nonnull(reply);
	ck_assert_ptr_null(memchr(reply, '\n', len));
	rpc_err_clear(&e);
	ck_assert_int_eq(rpc_parse(reply, len, &m, &e), 0);
	ck_assert_int_eq(m.kind, RPC_ERROR_RESPONSE);
	ck_assert_int_eq(m.error_code, bad[_i].code);
	ck_assert_str_eq(m.error_message, bad[_i].message);
	ck_assert_str_eq(m.id_raw, bad[_i].id ? bad[_i].id : "null");
	rpc_msg_free(&m);
	free(reply);
}
END_TEST

/* Nesting: 10,000 levels is refused without recursion, id kept. */
START_TEST(deep_nesting)
{
	enum { DEPTH = 10000 };
	static const char pre[] =
	    "{\"jsonrpc\":\"2.0\",\"id\":\"deep\",\"method\":\"m\",\"params\":{\"a\":";
	size_t n = sizeof(pre) - 1, i;
	char *in = malloc(n + 2 * DEPTH + 8);
	struct rpc_msg m;
	struct rpc_err e;

	memcpy(in, pre, n);
	for (i = 0; i < DEPTH; i++)
		in[n++] = '[';
	for (i = 0; i < DEPTH; i++)
		in[n++] = ']';
	in[n++] = '}';
	in[n++] = '}';
	ck_assert_int_eq(rpc_parse(in, n, &m, &e), -1);
	ck_assert_int_eq(e.code, RPC_INVALID_REQUEST);
	ck_assert_str_eq(e.message,
	    "invalid request: nesting deeper than 2048 levels");
	ck_assert_str_eq(e.id_raw, "\"deep\"");
	rpc_err_clear(&e);
	/* unbalanced: not JSON, so a parse error with id null */
	ck_assert_int_eq(rpc_parse(in, n - 3, &m, &e), -1);
	ck_assert_int_eq(e.code, RPC_PARSE_ERROR);
	ck_assert_ptr_null(e.id_raw);
	rpc_err_clear(&e);
	/* a bare deep array is a batch */
	ck_assert_int_eq(rpc_parse(in + sizeof(pre) - 1, 2 * DEPTH, &m, &e),
	    -1);
	ck_assert_str_eq(e.message, "invalid request: batches are not supported");
	rpc_err_clear(&e);
	/* 2000 levels is within jansson's bound: accepted */
	n = sizeof(pre) - 1;
	for (i = 0; i < 2000; i++)
		in[n++] = '[';
	for (i = 0; i < 2000; i++)
		in[n++] = ']';
	in[n++] = '}';
	in[n++] = '}';
	ck_assert_int_eq(rpc_parse(in, n, &m, &e), 0);
	ck_assert_str_eq(m.id_raw, "\"deep\"");
	rpc_msg_free(&m);
	free(in);
}
END_TEST

START_TEST(build_messages)
{
	json_t *v = json_pack("{s:s, s:i, s:[]}", "text", "h\xc3\xa9\n\"",
	    "n", 5, "a");
	json_t *data = json_pack("{s:s}", "hint", "x");
	char *out;
	size_t len;

	out = rpc_build_result("\"\\u0041\"", v, &len);
	ck_assert_str_eq(out, "{\"jsonrpc\":\"2.0\",\"id\":\"\\u0041\","
	    "\"result\":{\"text\":\"h\xc3\xa9\\n\\\"\",\"n\":5,\"a\":[]}}");
	ck_assert_uint_eq(len, strlen(out));
	free(out);
	out = rpc_build_error("12", RPC_INVALID_PARAMS, "bad 'x'", data, &len);
	ck_assert_str_eq(out, "{\"jsonrpc\":\"2.0\",\"id\":12,\"error\":"
	    "{\"code\":-32602,\"message\":\"bad 'x'\",\"data\":"
	    "{\"hint\":\"x\"}}}");
	free(out);
	out = rpc_build_error(NULL, RPC_PARSE_ERROR, NULL, NULL, NULL);
	ck_assert_str_eq(out, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":"
	    "{\"code\":-32700,\"message\":\"Parse error\"}}");
	free(out);
	/* messages are made valid UTF-8, never refused */
	out = rpc_build_error("1", -1, "bad \xff byte\nline", NULL, NULL);
	ck_assert_str_eq(out, "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":"
	    "{\"code\":-1,\"message\":\"bad ? byte\\nline\"}}");
	free(out);
	out = rpc_build_request("\"r-1\"", "tools/call", v, &len);
	ck_assert_str_eq(out, "{\"jsonrpc\":\"2.0\",\"id\":\"r-1\",\"method\":"
	    "\"tools/call\",\"params\":{\"text\":\"h\xc3\xa9\\n\\\"\",\"n\":5,"
	    "\"a\":[]}}");
	free(out);
	out = rpc_build_request("0", "ping", NULL, &len);
	ck_assert_str_eq(out, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"ping\"}");
	ck_assert_uint_eq(len, strlen(out));
	free(out);
	out = rpc_build_notification("notifications/progress", data, &len);
	ck_assert_str_eq(out, "{\"jsonrpc\":\"2.0\",\"method\":"
	    "\"notifications/progress\",\"params\":{\"hint\":\"x\"}}");
	free(out);
	out = rpc_build_notification("a\"b", NULL, NULL);
	ck_assert_str_eq(out, "{\"jsonrpc\":\"2.0\",\"method\":\"a\\\"b\"}");
	free(out);
	json_decref(v);
	json_decref(data);
}
END_TEST

/* Builders refuse ids that would make the output invalid or ambiguous. */
START_TEST(build_refuses_bad_ids)
{
	static const char *ids[] = {
		"", "abc", "1.5", "1e3", "{}", "[1]", "true", "\"open",
		"1 2", "99999999999999999999", "\"a\" , \"id\":2",
	};
	json_t *r = json_object();
	size_t i;

	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		errno = 0;
		ck_assert_ptr_null(rpc_build_result(ids[i], r, NULL));
		ck_assert_int_eq(errno, EINVAL);
		ck_assert_ptr_null(rpc_build_request(ids[i], "m", NULL, NULL));
		ck_assert_ptr_null(rpc_build_error(ids[i], 1, "m", NULL, NULL));
	}
	ck_assert_ptr_null(rpc_build_result(NULL, r, NULL));
	ck_assert_ptr_null(rpc_build_result("null", r, NULL));
	ck_assert_ptr_null(rpc_build_result("1", NULL, NULL));
	ck_assert_ptr_null(rpc_build_request(NULL, "m", NULL, NULL));
	ck_assert_ptr_null(rpc_build_request("1", NULL, NULL, NULL));
	ck_assert_ptr_null(rpc_build_request("1", "\xff", NULL, NULL));
	ck_assert_ptr_null(rpc_build_notification(NULL, NULL, NULL));
	json_decref(r);
}
END_TEST

START_TEST(ids_and_names)
{
	json_t *i5 = json_integer(5), *s = json_string("A"), *neg =
	    json_integer(LLONG_MIN), *r = json_real(5.0), *sq =
	    json_string("a\"b");
	char *id;

	id = rpc_id_from_int(5);
	ck_assert_str_eq(id, "5");
	ck_assert(rpc_id_equal(id, i5));
	ck_assert(!rpc_id_equal(id, s));
	ck_assert(!rpc_id_equal(id, r));
	free(id);
	id = rpc_id_from_int(LLONG_MIN);
	ck_assert_str_eq(id, "-9223372036854775808");
	ck_assert(rpc_id_equal(id, neg));
	free(id);
	ck_assert(rpc_id_equal("\"A\"", s));
	ck_assert(rpc_id_equal("\"\\u0041\"", s));
	ck_assert(!rpc_id_equal("\"5\"", i5));
	ck_assert(!rpc_id_equal("05", i5));
	ck_assert(!rpc_id_equal("\"AB\"", s));
	ck_assert(rpc_id_equal("\"a\\\"b\"", sq));
	ck_assert(!rpc_id_equal(NULL, s));
	ck_assert(!rpc_id_equal("1", NULL));
	ck_assert(!rpc_id_equal("garbage", s));
	json_decref(i5);
	json_decref(s);
	json_decref(neg);
	json_decref(r);
	json_decref(sq);

	ck_assert_str_eq(rpc_code_name(RPC_PARSE_ERROR), "Parse error");
	ck_assert_str_eq(rpc_code_name(RPC_INVALID_REQUEST), "Invalid Request");
	ck_assert_str_eq(rpc_code_name(RPC_METHOD_NOT_FOUND),
	    "Method not found");
	ck_assert_str_eq(rpc_code_name(RPC_INVALID_PARAMS), "Invalid params");
	ck_assert_str_eq(rpc_code_name(RPC_INTERNAL_ERROR), "Internal error");
	ck_assert_str_eq(rpc_code_name(-32050), "Server error");
	ck_assert_str_eq(rpc_code_name(7), "Unknown error");
}
END_TEST

/* Error text is capped at the buffer and stays valid UTF-8 when cut. */
START_TEST(long_error_text_truncated_cleanly)
{
	struct rpc_msg m;
	struct rpc_err e;
	char in[400];
	size_t n, i;
	json_t *j;

	/* a bad token of multi-byte characters long enough to be cut */
	n = (size_t)sprintf(in, "{\"a\":");
	for (i = 0; i < 100; i++) {
		in[n++] = '\xc3';
		in[n++] = '\xa9';
	}
	in[n++] = '}';
	ck_assert_int_eq(rpc_parse(in, n, &m, &e), -1);
	ck_assert_uint_lt(strlen(e.message), sizeof(e.message));
	j = json_string(e.message);
	ck_assert_ptr_nonnull(j);
	json_decref(j);
	rpc_err_clear(&e);
}
END_TEST

/*
 * Accepted messages, plain ones and ones with escapes, unknown members or
 * long ids: the tree holds every member in the order sent, the pointers
 * borrow from it, and the id is the exact bytes sent.
 */
static const struct {
	const char	*in;
	enum rpc_kind	 kind;
	const char	*id;		/* NULL: none */
	const char	*method;	/* NULL: none */
	const char	*tree;		/* compact, members in order */
} good[] = {
	{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", RPC_REQUEST,
	  "1", "ping", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}" },
	{ " \t{ \"method\" : \"m\" ,\"params\":{\"b\":[1,{\"c\":null}],"
	  "\"a\":\"\xc3\xa9\"},\r\n\"id\":\"x y\",\"jsonrpc\":\"2.0\"}\n",
	  RPC_REQUEST, "\"x y\"", "m", "{\"method\":\"m\",\"params\":{\"b\":"
	  "[1,{\"c\":null}],\"a\":\"\xc3\xa9\"},\"id\":\"x y\",\"jsonrpc\":"
	  "\"2.0\"}" },
	{ "{\"jsonrpc\":\"2.0\",\"method\":\"n\",\"params\":{}}",
	  RPC_NOTIFICATION, NULL, "n",
	  "{\"jsonrpc\":\"2.0\",\"method\":\"n\",\"params\":{}}" },
	{ "{\"id\":-0,\"jsonrpc\":\"2.0\",\"result\":[1,\"a\",{}]}",
	  RPC_RESPONSE, "-0", NULL,
	  "{\"id\":0,\"jsonrpc\":\"2.0\",\"result\":[1,\"a\",{}]}" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":\"r\",\"result\":{\"n\":1.5e3},"
	  "\"params\":{\"p\":1}}", RPC_RESPONSE, "\"r\"", NULL,
	  "{\"jsonrpc\":\"2.0\",\"id\":\"r\",\"result\":{\"n\":1500.0},"
	  "\"params\":{\"p\":1}}" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":123456789012345678,\"method\":\"m\"}",
	  RPC_REQUEST, "123456789012345678", "m", "{\"jsonrpc\":\"2.0\","
	  "\"id\":123456789012345678,\"method\":\"m\"}" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":-1234567890123456789,\"method\":\"m\"}",
	  RPC_REQUEST, "-1234567890123456789", "m", "{\"jsonrpc\":\"2.0\","
	  "\"id\":-1234567890123456789,\"method\":\"m\"}" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"p\\u0069ng\"}",
	  RPC_REQUEST, "7", "ping",
	  "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\"}" },
	{ "{\"jsonrpc\":\"2\\u002e0\",\"id\":7,\"method\":\"m\"}",
	  RPC_REQUEST, "7", "m",
	  "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"m\"}" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":\"q\",\"method\":\"m\",\"x\":{\"y\":[]}}",
	  RPC_REQUEST, "\"q\"", "m", "{\"jsonrpc\":\"2.0\",\"id\":\"q\","
	  "\"method\":\"m\",\"x\":{\"y\":[]}}" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":\"\\/\",\"method\":\"m\"}", RPC_REQUEST,
	  "\"\\/\"", "m", "{\"jsonrpc\":\"2.0\",\"id\":\"/\",\"method\":\"m\"}" },
	{ "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"a\":1},\"x\":2}",
	  RPC_RESPONSE, "5", NULL,
	  "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"a\":1},\"x\":2}" },
};

START_TEST(accepted_trees)
{
	struct rpc_msg m;
	struct rpc_err e;
	char *tree;

	ck_assert_msg(parse(good[_i].in, &m, &e) == 0, "%s: %s", good[_i].in,
	    e.message);
	ck_assert_int_eq(m.kind, good[_i].kind);
	tree = json_dumps(m.root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	ck_assert_str_eq(tree, good[_i].tree);
	free(tree);
	if (good[_i].id == NULL) {
		ck_assert_ptr_null(m.id_raw);
		ck_assert_ptr_null(m.id);
	} else {
		ck_assert_str_eq(m.id_raw, good[_i].id);
		ck_assert_ptr_eq(m.id, json_object_get(m.root, "id"));
		ck_assert(rpc_id_equal(m.id_raw, m.id));
	}
	if (good[_i].method == NULL)
		ck_assert_ptr_null(m.method);
	else {
		ck_assert_str_eq(m.method, good[_i].method);
		ck_assert_ptr_eq(m.method, json_string_value(
		    json_object_get(m.root, "method")));
	}
	if (m.kind == RPC_RESPONSE) {
		ck_assert_ptr_null(m.params);
		ck_assert_ptr_eq(m.result, json_object_get(m.root, "result"));
	} else {
		ck_assert_ptr_null(m.result);
		ck_assert_ptr_eq(m.params, json_object_get(m.root, "params"));
	}
	rpc_msg_free(&m);
}
END_TEST

/* {"jsonrpc":"2.0","id":9,"method":"m","params":{"a":[...]}} with n
   arrays around `leaf` ("" for none); new string. */
static char *
nested_params(int n, const char *leaf, const char *member)
{
	static const char pre[] = "{\"jsonrpc\":\"2.0\",\"id\":9,";
	size_t len = sizeof(pre) + strlen(member) + 2 * (size_t)n +
	    strlen(leaf) + 16, off;
	char *s = malloc(len);
	int i;

	ck_assert_ptr_nonnull(s);
	off = (size_t)snprintf(s, len, "%s%s{\"a\":", pre, member);
	for (i = 0; i < n; i++)
		s[off++] = '[';
	off += (size_t)snprintf(s + off, len - off, "%s", leaf);
	for (i = 0; i < n; i++)
		s[off++] = ']';
	memcpy(s + off, "}}", 3);
	return s;
}

/*
 * jansson's bound counts every value, scalars included: the envelope,
 * params and 2046 arrays make 2048 levels (accepted); one more array or
 * a scalar inside is refused, with the id kept.  Requests and responses
 * alike.
 */
START_TEST(nesting_at_the_bound)
{
	static const char *member[] = {
		"\"method\":\"m\",\"params\":", "\"result\":",
	};
	static const struct {
		int		 n;
		const char	*leaf;
		int		 ok;
	} t[] = {
		{ 2046, "", 1 }, { 2045, "7", 1 }, { 2045, "{}", 1 },
		{ 2046, "7", 0 }, { 2047, "", 0 }, { 2046, "{}", 0 },
	};
	struct rpc_msg m;
	struct rpc_err e;
	size_t i, j;
	char *in;

	for (j = 0; j < 2; j++)
		for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
			in = nested_params(t[i].n, t[i].leaf, member[j]);
			if (t[i].ok) {
				ck_assert_msg(parse(in, &m, &e) == 0,
				    "%zu/%zu: %s", j, i, e.message);
				ck_assert_int_eq(m.kind, j ? RPC_RESPONSE :
				    RPC_REQUEST);
				ck_assert_str_eq(m.id_raw, "9");
				rpc_msg_free(&m);
			} else {
				ck_assert_int_eq(parse(in, &m, &e), -1);
				ck_assert_int_eq(e.code, RPC_INVALID_REQUEST);
				ck_assert_str_eq(e.message, j ?
				    "invalid response: nesting deeper than "
				    "2048 levels" : "invalid request: nesting "
				    "deeper than 2048 levels");
				ck_assert_str_eq(e.id_raw, "9");
				ck_assert_int_eq(rpc_err_answerable(&e), !j);
				rpc_err_clear(&e);
			}
			free(in);
		}
}
END_TEST

/* Long, shallow params (past any small-input shortcut) are accepted. */
START_TEST(long_params)
{
	enum { N = 20000 };
	static const char pre[] = "{\"jsonrpc\":\"2.0\",\"id\":\"L\",\"method\":"
	    "\"m\",\"params\":{\"a\":\"";
	char *in = malloc(sizeof(pre) + N + 8);
	struct rpc_msg m;
	struct rpc_err e;
	size_t n = sizeof(pre) - 1;

	memcpy(in, pre, n);
	memset(in + n, 'x', N);
	n += N;
	memcpy(in + n, "\"}}", 3);
	n += 3;
	ck_assert_int_eq(rpc_parse(in, n, &m, &e), 0);
	ck_assert_str_eq(m.id_raw, "\"L\"");
	ck_assert_uint_eq(json_string_length(json_object_get(m.params, "a")),
	    N);
	rpc_msg_free(&m);
	/* and a duplicate key at its very end is still refused */
	memcpy(in + n - 2, ",\"a\":1}}", 8);
	ck_assert_int_eq(rpc_parse(in, n + 6, &m, &e), -1);
	ck_assert_int_eq(e.code, RPC_INVALID_REQUEST);
	ck_assert_ptr_nonnull(strstr(e.message, "duplicate object key"));
	ck_assert_str_eq(e.id_raw, "\"L\"");
	rpc_err_clear(&e);
	free(in);
}
END_TEST

/* Error text is escaped as jansson's encoder escapes it. */
START_TEST(error_text_escapes)
{
	char msg[64], *out;
	size_t i, len;

	for (i = 1; i < 0x20; i++)
		msg[i - 1] = (char)i;
	memcpy(msg + 31, "\"\\/\x7f\xe2\x80\xa8z", 9);
	out = rpc_build_error("\"e\"", -32000, msg, NULL, &len);
	ck_assert_str_eq(out, "{\"jsonrpc\":\"2.0\",\"id\":\"e\",\"error\":"
	    "{\"code\":-32000,\"message\":\"\\u0001\\u0002\\u0003\\u0004"
	    "\\u0005\\u0006\\u0007\\b\\t\\n\\u000B\\f\\r\\u000E\\u000F"
	    "\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017"
	    "\\u0018\\u0019\\u001A\\u001B\\u001C\\u001D\\u001E\\u001F"
	    "\\\"\\\\/\x7f\xe2\x80\xa8z\"}}");
	ck_assert_uint_eq(len, strlen(out));
	free(out);
	/* extreme codes */
	out = rpc_build_error("1", INT_MIN, "m", NULL, NULL);
	ck_assert_str_eq(out, "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":"
	    "{\"code\":-2147483648,\"message\":\"m\"}}");
	free(out);
	out = rpc_build_error("1", 0, "", NULL, NULL);
	ck_assert_str_eq(out, "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":"
	    "{\"code\":0,\"message\":\"\"}}");
	free(out);
	/* a cut multi-byte character and a stray byte become '?' */
	out = rpc_build_notification("a\xc3", NULL, NULL);
	ck_assert_ptr_null(out);
	out = rpc_build_error(NULL, 1, "a\xc3", NULL, NULL);
	ck_assert_str_eq(out, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":"
	    "{\"code\":1,\"message\":\"a?\"}}");
	free(out);
}
END_TEST

/* Ids the builders take as they are, and ids they refuse. */
START_TEST(builder_ids)
{
	static const char *ok[] = {
		"0", "-0", "7", "123456789012345678", "-123456789012345678",
		"1234567890123456789", "9223372036854775807",
		"-9223372036854775808", "\"\"", "\"a b\"", "\"\xc3\xa9\"",
		"\"\\u0041\"", "\"\\\"\"", "\"\xf0\x9f\x98\x80\"",
	};
	static const char *refused[] = {
		"9223372036854775808", "-9223372036854775809", "01", "-01",
		"-", "+1", "\"\xff\"", "\"\xc3\"", "\"a\nb\"", "\"a\\u0000\"",
		"\"a\"b\"", "\"\\\"", "1x", "\"\\q\"",
	};
	json_t *r = json_object();
	char *out, want[128];
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		out = rpc_build_result(ok[i], r, NULL);
		snprintf(want, sizeof(want),
		    "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{}}", ok[i]);
		ck_assert_msg(out != NULL, "refused %s", ok[i]);
		ck_assert_str_eq(out, want);
		free(out);
	}
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		errno = 0;
		ck_assert_msg(rpc_build_result(refused[i], r, NULL) == NULL,
		    "took %s", refused[i]);
		ck_assert_int_eq(errno, EINVAL);
		ck_assert_ptr_null(rpc_build_error(refused[i], 1, "m", NULL, NULL));
	}
	json_decref(r);
}
END_TEST

/* rpc_raw_element(): each element's exact text, in order. */
START_TEST(raw_elements)
{
	static const char arr[] = " [ 1 , \"a,]\\\"\" ,{\"k\":[2,3]},[ ] ,null,"
	    "-1.5e3 ] ";
	static const char *const want[] = { "1", "\"a,]\\\"\"",
	    "{\"k\":[2,3]}", "[ ]", "null", "-1.5e3" };
	const char *v;
	size_t vlen, pos = 0, i = 0;
	int rc;

	while ((rc = rpc_raw_element(arr, sizeof(arr) - 1, &pos, &v,
	    &vlen)) == 1) {
		ck_assert_uint_lt(i, 6);
		ck_assert_uint_eq(vlen, strlen(want[i]));
		ck_assert_int_eq(memcmp(v, want[i], vlen), 0);
		i++;
	}
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(i, 6);
	/* past the end it stays at the end */
	ck_assert_int_eq(rpc_raw_element(arr, sizeof(arr) - 1, &pos, &v,
	    &vlen), 0);
	pos = 0;
	ck_assert_int_eq(rpc_raw_element(" [ ] ", 5, &pos, &v, &vlen), 0);
	pos = 0;
	ck_assert_int_eq(rpc_raw_element("{\"a\":1}", 7, &pos, &v, &vlen), -1);
	pos = 0;
	ck_assert_int_eq(rpc_raw_element("", 0, &pos, &v, &vlen), -1);
}
END_TEST

/* RPC_PARSE_RAW_PARAMS: params kept as text, not built; else as before. */
START_TEST(raw_params)
{
	static const char req[] = "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"x\", \"arguments\":{}}}";
	static const char dup[] = "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":"
	    "\"m\",\"params\":{\"a\":1,\"a\":2}}";
	static const char want[] = "{\"name\":\"x\", \"arguments\":{}}";
	struct rpc_msg m;
	struct rpc_err e, e2;

	ck_assert_int_eq(rpc_parse_flags(req, sizeof(req) - 1,
	    RPC_PARSE_RAW_PARAMS, &m, &e), 0);
	ck_assert_ptr_null(m.params);
	ck_assert_ptr_null(json_object_get(m.root, "params"));
	ck_assert_uint_eq(m.params_len, strlen(want));
	ck_assert_int_eq(memcmp(m.params_raw, want, strlen(want)), 0);
	ck_assert_str_eq(m.method, "tools/call");
	ck_assert_str_eq(m.id_raw, "3");
	rpc_msg_free(&m);
	ck_assert_int_eq(rpc_parse_flags(req, sizeof(req) - 1, 0, &m, &e), 0);
	ck_assert_ptr_nonnull(m.params);
	rpc_msg_free(&m);
	/* duplicate members: refused alike with or without the flag */
	ck_assert_int_eq(rpc_parse_flags(dup, sizeof(dup) - 1, 0, &m, &e2),
	    -1);
	ck_assert_int_eq(rpc_parse_flags(dup, sizeof(dup) - 1,
	    RPC_PARSE_RAW_PARAMS, &m, &e), -1);
	ck_assert_int_eq(e.code, e2.code);
	ck_assert_str_eq(e.message, e2.message);
	ck_assert_str_eq(e.id_raw, "3");
	rpc_err_clear(&e);
	rpc_err_clear(&e2);
}
END_TEST

/* Results larger than any inline buffer come out whole. */
START_TEST(large_results)
{
	static const size_t sizes[] = { 200, 230, 231, 232, 4096, 300000 };
	char *text, *out, *want;
	size_t i, n, len;
	json_t *r;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		n = sizes[i];
		text = malloc(n + 1);
		want = malloc(n + 64);
		memset(text, 'y', n);
		text[n] = '\0';
		r = json_pack("{s:s}", "t", text);
		out = rpc_build_result("\"big\"", r, &len);
		snprintf(want, n + 64,
		    "{\"jsonrpc\":\"2.0\",\"id\":\"big\",\"result\":{\"t\":\"%s\"}}",
		    text);
		ck_assert_str_eq(out, want);
		ck_assert_uint_eq(len, strlen(want));
		free(out);
		out = rpc_build_notification("n", r, &len);
		snprintf(want, n + 64,
		    "{\"jsonrpc\":\"2.0\",\"method\":\"n\",\"params\":{\"t\":\"%s\"}}",
		    text);
		ck_assert_str_eq(out, want);
		ck_assert_uint_eq(len, strlen(want));
		free(out);
		json_decref(r);
		free(text);
		free(want);
	}
}
END_TEST

/* Inputs parsed in place right before a PROT_NONE page. */
static const char *guard_inputs[] = {
	"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\"}",
	"{\"jsonrpc\":\"2.0\",\"id\":\"\\u00",
	"{\"jsonrpc\":\"2.0\",\"id\":\"\\ud83d\\ude0",
	"{\"jsonrpc\":\"2.0\",\"id\":\"\\",
	"{\"jsonrpc\":\"2.0\",\"id\":\"\xc3",
	"{\"jsonrpc\":\"2.0\",\"id\":\"\xf0\x9f\x98",
	"{\"jsonrpc\":\"2.0\",\"id\":1",
	"{\"jsonrpc\":\"2.0\",\"id\":-",
	"{\"jsonrpc\":\"2.0\",\"id\":1.",
	"{\"jsonrpc\":\"2.0\",\"id\":1e",
	"{\"jsonrpc\":\"2.0\",\"id\":tru",
	"{\"id\":1,\"id\":2",
	"{\"id\":1,\"a\":1,\"a\":2",
	"{\"\\u006",
	"[[[[[[",
	"{",
	"\"",
	"-",
	"",
	"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\",\"params\":{\"a\":[1]}}",
	"{\"jsonrpc\":\"2.0\",\"id\":123456789012345678",
	"{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"result\":[",
	"{\"jsonrpc\":\"2.0\",\"method\":\"m\"} ",
	"{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":{\"a\":\"\\",
};

START_TEST(guard_page)
{
	const char *in = guard_inputs[_i];
	size_t n = strlen(in), pg = (size_t)sysconf(_SC_PAGESIZE);
	char *region, *p;
	struct rpc_msg m;
	struct rpc_err e;

	region = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(region != MAP_FAILED);
	ck_assert_int_eq(mprotect(region + pg, pg, PROT_NONE), 0);
	p = region + pg - n;
	memcpy(p, in, n);
	if (rpc_parse(p, n, &m, &e) == 0)
		rpc_msg_free(&m);
	else
		rpc_err_clear(&e);
	/* and every proper prefix of the valid message */
	if (_i == 0)
		for (; n > 0; n--) {
			memmove(region + pg - (n - 1), in, n - 1);
			ck_assert_int_eq(rpc_parse(region + pg - (n - 1), n - 1,
			    &m, &e), -1);
			ck_assert_int_eq(e.code, RPC_PARSE_ERROR);
			rpc_err_clear(&e);
		}
	munmap(region, 2 * pg);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("rpc");
	TCase *tc = tcase_create("rpc");

	tcase_add_test(tc, request_and_notification);
	tcase_add_test(tc, responses);
	tcase_add_test(tc, id_echo_exact);
	tcase_add_loop_test(tc, envelope_rules, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, deep_nesting);
	tcase_add_test(tc, build_messages);
	tcase_add_test(tc, build_refuses_bad_ids);
	tcase_add_test(tc, ids_and_names);
	tcase_add_test(tc, long_error_text_truncated_cleanly);
	tcase_add_loop_test(tc, accepted_trees, 0,
	    sizeof(good) / sizeof(good[0]));
	tcase_add_test(tc, nesting_at_the_bound);
	tcase_add_test(tc, long_params);
	tcase_add_test(tc, error_text_escapes);
	tcase_add_test(tc, builder_ids);
	tcase_add_test(tc, large_results);
	tcase_add_test(tc, raw_elements);
	tcase_add_test(tc, raw_params);
	tcase_add_loop_test(tc, guard_page, 0,
	    sizeof(guard_inputs) / sizeof(guard_inputs[0]));
	suite_add_tcase(s, tc);
	return t_run(s);
}
