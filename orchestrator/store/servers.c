/*
 * servers: the mcp_servers rows (see store.h): store_server_state()
 * checks a supervisor report and builds its statement parameters; each
 * server has one slot, holding the newest report not yet sent and the
 * one in flight (store.c sends and acknowledges them).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_int.h"
#include "utf8.h"

#define COMMAND_MAX	4096

static const char *const server_states[] = {
	"stopped", "starting", "running", "backoff", "failed", "stopping",
	NULL,
};
static const char *const server_healths[] = {
	"unknown", "healthy", "unhealthy", NULL,
};

static int
in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return 1;
	return 0;
}

static int
server_name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n >= 1 && n <= NAME_MAX_SRV && strspn(s,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
	    == n;
}

/* The slot for name, added when new; NULL with errno set. */
static struct srv *
srv_slot(struct store *s, const char *name)
{
	struct srv *v;
	size_t i;

	for (i = 0; i < s->nsrv; i++)
		if (strcmp(s->srv[i].name, name) == 0)
			return &s->srv[i];
	if (s->nsrv >= STORE_SERVERS_MAX) {
		errno = ENOSPC;
		return NULL;
	}
	/* ops refer to slots by index, so growing in place is safe. */
	if ((v = realloc(s->srv, (s->nsrv + 1) * sizeof(*v))) == NULL)
		return NULL;
	s->srv = v;
	v = &s->srv[s->nsrv++];
	memset(v, 0, sizeof(*v));
	snprintf(v->name, sizeof(v->name), "%s", name);
	return v;
}

static int
server_row_ok(const struct server_row *r)
{
	size_t nc = r->command ? strlen(r->command) : 0;

	return server_name_ok(r->name) && nc >= 1 && nc <= COMMAND_MAX &&
	    r->state && in_list(r->state, server_states) &&
	    (r->health == NULL || in_list(r->health, server_healths)) &&
	    (r->args == NULL || json_is_array(r->args));
}

int
store_server_state(struct store *s, const struct server_row *r)
{
	char *p[SRV_NPARAM] = { NULL };
	struct srv *v;
	int ok = 1;

	if (s == NULL || s->state == STORE_DISABLED)
		return 0;
	if (r == NULL || !server_row_ok(r)) {
		errno = EINVAL;
		return -1;
	}
	ok &= (p[0] = strdup(r->name)) != NULL;
	ok &= (p[1] = u8_clean(r->command, COMMAND_MAX, NULL)) != NULL;
	ok &= (p[2] = r->args ? param_json(r->args) : strdup("[]")) != NULL;
	ok &= (p[3] = strdup(r->state)) != NULL;
	ok &= (p[4] = strdup(r->health ? r->health : "unknown")) != NULL;
	if (r->pid > 0)
		ok &= (p[5] = param_printf("%d", r->pid)) != NULL;
	ok &= (p[6] = param_printf("%u", r->restarts > INT_MAX ? INT_MAX :
	    r->restarts)) != NULL;
	if (r->last_exit)
		ok &= (p[7] = param_text(r->last_exit, STORE_SUMMARY_MAX)) !=
		    NULL;
	ok &= (p[8] = param_printf("%u", r->tool_count > INT_MAX ? INT_MAX :
	    r->tool_count)) != NULL;
	if (r->protocol_version)
		ok &= (p[9] = u8_clean(r->protocol_version, 64, NULL)) != NULL;
	ok &= (p[10] = strdup(s->reported_by)) != NULL;
	if (!ok || (v = srv_slot(s, r->name)) == NULL) {
		param_free(p, SRV_NPARAM);
		if (ok == 0)
			errno = ENOMEM;
		return -1;
	}
	param_free(v->pending, SRV_NPARAM);	/* coalesce: newest wins */
	memcpy(v->pending, p, sizeof(p));
	v->has_pending = 1;
	store_kick(s);
	return 0;
}
