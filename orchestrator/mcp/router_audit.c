/*
 * router_audit: the audit rows of calls (see router.h, Audit): the
 * outcome a row records, its submission to the store, and the rows of
 * calls refused before they were sent.  A finished call's row is filled
 * by call_audit() (router_int.h) on the call's completion path.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mcp_client.h"
#include "mcp/router_int.h"
#include "rpc.h"

/* The JSON-RPC code recorded for a failure of this kind. */
static int
audit_code(const struct router_err *e)
{
	if (e->code != 0)
		return e->code;
	switch (e->kind) {
	case ROUTER_E_UNKNOWN:
		return RPC_INVALID_PARAMS;
	case ROUTER_E_TIMEOUT:
		return RPC_REQUEST_TIMEOUT;
	case ROUTER_E_INTERNAL:
		return RPC_INTERNAL_ERROR;
	default:
		return RPC_CONNECTION_CLOSED;
	}
}

/*
 * Complete row a with the outcome and queue it: result (borrowed) when
 * the child answered, else e, else the caller cancelled.  The store
 * counts and logs its own drops; a row it refuses as invalid is logged
 * here, since only the router knows which call it was.
 */
void
audit_submit(struct router *r, struct audit_row *a, const char *res,
    size_t rlen, int is_error, const struct router_err *e)
{
	char *sum = NULL;

	if (e != NULL) {
		a->failed = 1;
		a->error_code = audit_code(e);
		a->error_message = e->message;
	} else if (res != NULL) {
		/* Only here: calls that are not audited never pay for it. */
		sum = store_result_summary_text(res, rlen);
		a->result_summary = sum;
		a->is_error = is_error;
	} else {
		a->failed = 1;
		a->error_code = MCP_ERR_CANCELLED;
		a->error_message = "cancelled by the caller";
	}
	if (store_audit_call(r->store, a) == -1 && errno == EINVAL)
		log_emit(LOG_LVL_WARN, a->server, NULL, "audit: the row for "
		    "tool %.128s was refused as invalid", a->tool);
	free(sum);
}

/* A call to server s refused before it was sent (server not ready). */
void
audit_refused(struct router *r, const struct rsrv *s, const char *tool,
    const json_t *args, const struct router_origin *o, enum router_ekind kind,
    const char *msg)
{
	struct router_err e;
	struct audit_row a;
	json_t *id;

	if (o == NULL || !audit_on(r))
		return;
	e.kind = kind;
	e.code = 0;
	snprintf(e.message, sizeof(e.message), "%s", msg);
	id = origin_id(o);
	memset(&a, 0, sizeof(a));
	a.server = s->cfg->name;
	a.tool = tool;
	a.rpc_id = id;
	a.rpc_id_text = o->rpc_id_text;
	a.caller = o->caller;
	a.arguments = args;
	a.started_at = ev_now(r->loop);
	a.execution_id = o->execution_id;
	a.step_id = o->step_id;
	a.agent_run_id = o->agent_run_id;
	audit_submit(r, &a, NULL, 0, 0, &e);
	json_decref(id);
}
