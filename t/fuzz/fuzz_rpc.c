/*
 * Fuzz target for JSON-RPC envelopes: parse, then build what a server or
 * client would send back, and check that it parses again with the same id.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rpc.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(c)	do { if (!(c)) abort(); } while (0)

/* text must be one compact JSON-RPC message of kind `kind` with id_raw. */
static void
reparse(const char *text, size_t len, enum rpc_kind kind, const char *id_raw)
{
	struct rpc_msg m;
	struct rpc_err e;

	CHECK(text != NULL);
	CHECK(strlen(text) == len);
	CHECK(memchr(text, '\n', len) == NULL);
	if (rpc_parse(text, len, &m, &e) != 0)
		abort();
	CHECK(m.kind == kind);
	if (id_raw == NULL)
		CHECK(m.id_raw == NULL || strcmp(m.id_raw, "null") == 0);
	else
		CHECK(m.id_raw != NULL && strcmp(m.id_raw, id_raw) == 0);
	rpc_msg_free(&m);
}

static void
on_message(struct rpc_msg *m)
{
	json_t *empty = json_object();
	char *out;
	size_t len;

	switch (m->kind) {
	case RPC_REQUEST:
		CHECK(m->method != NULL && m->id_raw != NULL);
		CHECK(rpc_id_equal(m->id_raw, m->id));
		out = rpc_build_result(m->id_raw, m->params ? m->params : empty,
		    &len);
		reparse(out, len, RPC_RESPONSE, m->id_raw);
		free(out);
		out = rpc_build_request(m->id_raw, m->method, m->params, &len);
		reparse(out, len, RPC_REQUEST, m->id_raw);
		free(out);
		break;
	case RPC_NOTIFICATION:
		CHECK(m->method != NULL && m->id_raw == NULL);
		out = rpc_build_notification(m->method, m->params, &len);
		reparse(out, len, RPC_NOTIFICATION, NULL);
		free(out);
		break;
	case RPC_RESPONSE:
		CHECK(m->result != NULL && m->id_raw != NULL);
		CHECK(rpc_id_equal(m->id_raw, m->id));
		break;
	case RPC_ERROR_RESPONSE:
		CHECK(m->error != NULL && m->error_message != NULL);
		out = rpc_build_error(m->id_raw, m->error_code,
		    m->error_message, json_object_get(m->error, "data"), &len);
		reparse(out, len, RPC_ERROR_RESPONSE, m->id_raw);
		free(out);
		break;
	}
	json_decref(empty);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rpc_msg m;
	struct rpc_err e;
	json_t *s;
	char *out;
	size_t len;

	if (rpc_parse((const char *)data, size, &m, &e) == 0) {
		on_message(&m);
		rpc_msg_free(&m);
		return 0;
	}
	CHECK(m.root == NULL && m.id_raw == NULL);
	CHECK(strlen(e.message) > 0 && strlen(e.message) < sizeof(e.message));
	CHECK(e.code <= -32600 && e.code >= -32700);
	/* the message is valid UTF-8: jansson accepts it as a string */
	CHECK((s = json_string(e.message)) != NULL);
	json_decref(s);
	out = rpc_build_error(e.id_raw, e.code, e.message, NULL, &len);
	reparse(out, len, RPC_ERROR_RESPONSE, e.id_raw);
	free(out);
	rpc_err_clear(&e);
	return 0;
}
