/*
 * conf_webhooks: the afu9.webhooks key, the event -> workflow rules of
 * GitHub webhook deliveries (conf.h has the format; doc/webhooks.md).
 *
 * Only the shape is checked here; the expressions and templates are
 * parsed by the webhook handler when serve starts (api/webhook.h), which
 * refuses to start on one that does not parse.
 */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include <jansson.h>

#include "conf/conf_int.h"

/* ^[a-z][a-z0-9_]{0,63}$: a GitHub event name. */
static int
event_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 64 && islower((unsigned char)s[0]) &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

/* ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$: a workflow name. */
static int
workflow_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 128 && isalnum((unsigned char)s[0]) &&
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789._-") == n;
}

/* OWNER/NAME as the repositories table's checks have them. */
static int
repo_ok(const char *s)
{
	const char *slash = strchr(s, '/');
	size_t o, n;

	if (slash == NULL)
		return 0;
	o = (size_t)(slash - s);
	n = strlen(slash + 1);
	return o >= 1 && o <= 39 && isalnum((unsigned char)s[0]) &&
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-") == o && n >= 1 && n <= 100 &&
	    strspn(slash + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrs"
	    "tuvwxyz0123456789._-") == n;
}

static int
parse_rule(struct ctx *c, const json_t *r)
{
	static const char *const keys[] = {
		"event", "action", "if", "workflow", "input", NULL
	};
	const json_t *v;
	const char *s;
	size_t at;

	if (want_object(c, r) == -1 || want_keys(c, r, keys) == -1)
		return -1;
	at = path_key(c, "event");
	if ((v = json_object_get(r, "event")) == NULL)
		return ctx_err(c, "required");
	if (want_string(c, v, &s) == -1)
		return -1;
	if (!event_ok(s))
		return ctx_err(c, "a GitHub event name ([a-z][a-z0-9_]*, at "
		    "most 64 bytes: \"issues\", \"pull_request\")");
	path_pop(c, at);
	if ((v = json_object_get(r, "action")) != NULL) {
		at = path_key(c, "action");
		if (want_string(c, v, &s) == -1)
			return -1;
		if (*s == '\0' || strlen(s) > 255)
			return ctx_err(c, "1 to 255 bytes");
		path_pop(c, at);
	}
	if ((v = json_object_get(r, "if")) != NULL) {
		at = path_key(c, "if");
		if (want_string(c, v, &s) == -1)
			return -1;
		path_pop(c, at);
	}
	at = path_key(c, "workflow");
	if ((v = json_object_get(r, "workflow")) == NULL)
		return ctx_err(c, "required");
	if (want_string(c, v, &s) == -1)
		return -1;
	if (!workflow_ok(s))
		return ctx_err(c, "a workflow name ([A-Za-z0-9][A-Za-z0-9._-]*, "
		    "at most 128 bytes)");
	path_pop(c, at);
	if ((v = json_object_get(r, "input")) != NULL) {
		at = path_key(c, "input");
		if (want_object(c, v) == -1)
			return -1;
		path_pop(c, at);
	}
	return 0;
}

static int
parse_rules(struct ctx *c, const json_t *a)
{
	size_t i, at;

	if (want_array(c, a) == -1)
		return -1;
	if (json_array_size(a) > CONFIG_MAX_RULES)
		return ctx_err(c, "at most %d rules", CONFIG_MAX_RULES);
	for (i = 0; i < json_array_size(a); i++) {
		at = path_index(c, i);
		if (parse_rule(c, json_array_get(a, i)) == -1)
			return -1;
		path_pop(c, at);
	}
	return 0;
}

int
config_parse_webhooks(struct ctx *c, const json_t *o,
    struct afu9_config *cfg)
{
	static const char *const keys[] = { "rules", "repositories", NULL };
	const json_t *v, *r;
	const char *name;
	size_t at, at2;

	if (want_object(c, o) == -1 || want_keys(c, o, keys) == -1)
		return -1;
	if ((v = json_object_get(o, "rules")) != NULL) {
		at = path_key(c, "rules");
		if (parse_rules(c, v) == -1)
			return -1;
		path_pop(c, at);
	}
	if ((v = json_object_get(o, "repositories")) != NULL) {
		at = path_key(c, "repositories");
		if (want_object(c, v) == -1)
			return -1;
		if (json_object_size(v) > CONFIG_MAX_RULE_REPOS)
			return ctx_err(c, "at most %d repositories",
			    CONFIG_MAX_RULE_REPOS);
		json_object_foreach((json_t *)v, name, r) {
			at2 = path_key(c, name);
			if (!repo_ok(name))
				return ctx_err(c, "not OWNER/NAME");
			if (parse_rules(c, r) == -1)
				return -1;
			path_pop(c, at2);
		}
		path_pop(c, at);
	}
	json_decref(cfg->webhooks);
	if ((cfg->webhooks = json_deep_copy(o)) == NULL)
		return ctx_oom(c);
	return 0;
}
