/*
 * agent_conv: the conversation as transcript messages (what a recorder
 * keeps, agent.h), and back: a run resumed from an earlier run's
 * transcript.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent.h"
#include "agent_int.h"

/* The "server.tool" of call id in the assistant turn before result i. */
static const char *
result_tool(const struct prov_conv *c, size_t i)
{
	const struct prov_msg *m;
	size_t j;

	while (i > 0 && c->msgs[i - 1].kind == PROV_MSG_RESULT)
		i--;
	if (i == 0 || c->msgs[i - 1].kind != PROV_MSG_ASSISTANT)
		return NULL;
	m = &c->msgs[i - 1];
	for (j = 0; j < m->ncalls; j++)
		if (strcmp(m->calls[j].id, c->msgs[i].call_id) == 0)
			return m->calls[j].tool;
	return NULL;
}

static json_t *
str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *
call_json(const struct prov_call *k)
{
	json_t *o = json_object();

	if (o == NULL ||
	    json_object_set_new(o, "id", json_string(k->id)) == -1 ||
	    json_object_set_new(o, "tool", str_or_null(k->tool)) == -1 ||
	    json_object_set_new(o, "name", json_string(k->name)) == -1 ||
	    json_object_set_new(o, "arguments", k->args ?
	    json_deep_copy(k->args) : json_null()) == -1 ||
	    (k->args == NULL && k->raw != NULL &&
	    json_object_set_new(o, "raw", json_string(k->raw)) == -1) ||
	    (k->error != NULL &&
	    json_object_set_new(o, "error", json_string(k->error)) == -1)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *
agent_msg_content(const struct prov_conv *c, size_t i, const char **role)
{
	const struct prov_msg *m = &c->msgs[i];
	json_t *o, *calls, *k;
	size_t j;

	if ((o = json_object()) == NULL)
		return NULL;
	switch (m->kind) {
	case PROV_MSG_USER:
		*role = "user";
		if (json_object_set_new(o, "text", json_string(m->text)) == -1)
			goto fail;
		break;
	case PROV_MSG_ASSISTANT:
		*role = "assistant";
		if (json_object_set_new(o, "text", json_string(m->text)) == -1)
			goto fail;
		if (m->ncalls == 0)
			break;
		if ((calls = json_array()) == NULL ||
		    json_object_set_new(o, "tool_calls", calls) == -1)
			goto fail;
		for (j = 0; j < m->ncalls; j++)
			if ((k = call_json(&m->calls[j])) == NULL ||
			    json_array_append_new(calls, k) == -1)
				goto fail;
		break;
	case PROV_MSG_RESULT:
		*role = "tool";
		if (json_object_set_new(o, "call_id",
		    json_string(m->call_id)) == -1 ||
		    json_object_set_new(o, "tool",
		    str_or_null(result_tool(c, i))) == -1 ||
		    json_object_set_new(o, "text", json_string(m->text)) == -1 ||
		    json_object_set_new(o, "is_error",
		    json_boolean(m->is_error)) == -1)
			goto fail;
		break;
	}
	return o;
fail:
	json_decref(o);
	return NULL;
}

/* ---- resume ---- */

/* Answer every call of the last assistant turn that has no result yet. */
static int
answer_open_calls(struct prov_conv *c, char *err, size_t errlen)
{
	const struct prov_msg *m;
	size_t i, j, k;
	int answered;

	for (i = c->nmsgs; i > 0 && c->msgs[i - 1].kind == PROV_MSG_RESULT; i--)
		;
	if (i == 0 || c->msgs[i - 1].kind != PROV_MSG_ASSISTANT)
		return 0;
	m = &c->msgs[i - 1];
	for (j = 0; j < m->ncalls; j++) {
		answered = 0;
		for (k = i; k < c->nmsgs && !answered; k++)
			answered = strcmp(c->msgs[k].call_id,
			    m->calls[j].id) == 0;
		if (!answered && prov_conv_add_result(c, m->calls[j].id,
		    AGENT_INTERRUPTED, 1, err, errlen) == -1)
			return -1;
		m = &c->msgs[i - 1];	/* the array may have moved */
	}
	return 0;
}

static const char *
get_str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* An assistant message back into a reply, its tools mapped to c's. */
static int
resume_assistant(struct prov_conv *c, const json_t *content, char *err,
    size_t errlen)
{
	struct prov_reply r;
	const json_t *calls, *k, *args;
	const char *id, *tool, *name, *mapped;
	size_t i;
	int rc = -1;

	prov_reply_init(&r);
	calls = json_object_get(content, "tool_calls");
	if ((calls != NULL && !json_is_array(calls)) ||
	    json_array_size(calls) > PROV_MAX_CALLS) {
		snprintf(err, errlen, "tool_calls: must be an array of at "
		    "most %d", PROV_MAX_CALLS);
		return -1;
	}
	if ((r.text = strdup(get_str(content, "text") ?
	    get_str(content, "text") : "")) == NULL)
		goto nomem;
	r.textlen = strlen(r.text);
	if (json_array_size(calls) > 0 && (r.calls =
	    calloc(json_array_size(calls), sizeof(*r.calls))) == NULL)
		goto nomem;
	json_array_foreach(calls, i, k) {
		struct prov_call *pc = &r.calls[r.ncalls++];

		id = get_str(k, "id");
		tool = get_str(k, "tool");
		name = get_str(k, "name");
		args = json_object_get(k, "arguments");
		if (id == NULL || *id == '\0' || (name == NULL && tool == NULL) ||
		    (args != NULL && !json_is_object(args) &&
		    !json_is_null(args))) {
			snprintf(err, errlen, "tool_calls[%zu]: needs an id, "
			    "a tool or name, arguments an object or null", i);
			goto out;
		}
		mapped = tool ? prov_conv_name(c, tool) : NULL;
		if ((pc->id = strdup(id)) == NULL ||
		    (pc->name = strdup(mapped ? mapped :
		    (name ? name : tool))) == NULL)
			goto nomem;
		if (mapped != NULL && (pc->tool = strdup(tool)) == NULL)
			goto nomem;
		if (json_is_object(args)) {
			pc->args = json_deep_copy(args);
			pc->raw = json_dumps(args, JSON_COMPACT);
		} else
			pc->raw = strdup(get_str(k, "raw") ?
			    get_str(k, "raw") : "");
		if (pc->raw == NULL || (json_is_object(args) &&
		    pc->args == NULL))
			goto nomem;
		if (pc->args == NULL || pc->tool == NULL) {
			pc->error = strdup(pc->args == NULL ?
			    "the arguments could not be read" :
			    "this tool is not offered any more");
			if (pc->error == NULL)
				goto nomem;
		}
	}
	rc = prov_conv_add_reply(c, &r, err, errlen);
	goto out;
nomem:
	snprintf(err, errlen, "out of memory");
out:
	prov_reply_free(&r);
	return rc;
}

/* One transcript entry.  0, or -1 with err. */
static int
resume_one(struct prov_conv *c, const json_t *m, char *err, size_t errlen)
{
	const char *role = get_str(m, "role"), *text;
	const json_t *content = json_object_get(m, "content");

	if (role == NULL || !json_is_object(content)) {
		snprintf(err, errlen, "needs a role and a content object");
		return -1;
	}
	text = get_str(content, "text");
	if (strcmp(role, "system") == 0)
		return 0;	/* the run's own system comes first */
	if (strcmp(role, "tool") == 0) {
		if (get_str(content, "call_id") == NULL || text == NULL) {
			snprintf(err, errlen, "a tool message needs call_id "
			    "and text");
			return -1;
		}
		return prov_conv_add_result(c, get_str(content, "call_id"),
		    text, json_is_true(json_object_get(content, "is_error")),
		    err, errlen);
	}
	if (answer_open_calls(c, err, errlen) == -1)
		return -1;
	if (strcmp(role, "user") == 0) {
		if (text == NULL) {
			snprintf(err, errlen, "a user message needs text");
			return -1;
		}
		return prov_conv_add_user(c, text, err, errlen);
	}
	if (strcmp(role, "assistant") == 0)
		return resume_assistant(c, content, err, errlen);
	snprintf(err, errlen, "unknown role '%.32s'", role);
	return -1;
}

int
agent_conv_resume(struct prov_conv *c, const json_t *tr, char *err,
    size_t errlen)
{
	char why[512];
	const json_t *m;
	size_t i;

	if (!json_is_array(tr)) {
		snprintf(err, errlen, "resume: the transcript must be an array");
		return -1;
	}
	json_array_foreach(tr, i, m) {
		if (resume_one(c, m, why, sizeof(why)) == -1) {
			snprintf(err, errlen, "resume: transcript[%zu]: %s", i,
			    why);
			return -1;
		}
	}
	if (answer_open_calls(c, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "resume: %s", why);
		return -1;
	}
	return 0;
}
