/*
 * The afu9-deploy tool table: names (afu9 v0.2), descriptions written for
 * a model, input and output schemas, and annotations.
 *
 * Schemas are JSON text; J() turns its tokens into a string literal, so
 * they can be written as JSON in the source.
 */
#include "config.h"

#include <stddef.h>

#include "common/srvmain.h"
#include "deploy/tools.h"

#define J(...)	#__VA_ARGS__

#define P_CLUSTER J("cluster": {"type": "string", "minLength": 1, \
	"maxLength": 2048, "pattern": "^[A-Za-z0-9_./:-]+$", \
	"description": "ECS cluster name or ARN, e.g. afu9-prod"})
#define P_SERVICE J("service": {"type": "string", "minLength": 1, \
	"maxLength": 2048, "pattern": "^[A-Za-z0-9_./:-]+$", \
	"description": "ECS service name or ARN, e.g. afu9-api"})

#define NOTES	J("notes": {"type": "array", "items": {"type": "string"}, \
	"description": "What was left out, and what to do next"})
#define NSTR	J({"type": ["string", "null"]})
#define INT	J({"type": "integer"})

#define DEPLOYMENT_PROPS \
	"\"id\":" NSTR ",\"status\":" NSTR ",\"rolloutState\":" NSTR \
	",\"rolloutStateReason\":" NSTR ",\"taskDefinition\":" NSTR \
	",\"desiredCount\":" INT ",\"runningCount\":" INT \
	",\"pendingCount\":" INT ",\"failedTasks\":" INT \
	",\"createdAt\":" NSTR ",\"updatedAt\":" NSTR
#define DEPLOYMENT \
	"{\"type\":\"object\",\"properties\":{" DEPLOYMENT_PROPS "}," \
	"\"required\":[\"id\",\"status\",\"rolloutState\",\"taskDefinition\"," \
	"\"desiredCount\",\"runningCount\",\"pendingCount\",\"failedTasks\"]}"
#define NDEPLOYMENT \
	"{\"type\":[\"object\",\"null\"],\"properties\":{" DEPLOYMENT_PROPS "}}"
#define VERDICT J({"type": "string", "enum": ["stable", "rolling_out", \
	"failing", "inactive"]})

/* ---- outputs ---- */

static const char out_status[] = "{\"type\":\"object\",\"properties\":{"
	"\"cluster\":" NSTR ",\"service\":" NSTR ",\"status\":" NSTR
	",\"desiredCount\":" INT ",\"runningCount\":" INT ",\"pendingCount\":"
	INT ",\"taskDefinition\":" NSTR ",\"verdict\":" VERDICT
	",\"why\":{\"type\":\"string\"},\"summary\":{\"type\":\"string\","
	"\"description\":\"verdict: why, in one line\"}"
	",\"failedTasks\":" INT
	",\"deployments\":{\"type\":\"array\",\"items\":" DEPLOYMENT "}," J(
	"events": {"type": "array", "description": "Newest first",
	    "items": {"type": "object", "properties": {
	    "at": {"type": ["string", "null"]},
	    "message": {"type": ["string", "null"]}},
	    "required": ["at", "message"]}},
	"stoppedTasks": {"type": "array", "description":
	    "Recently stopped tasks, newest first",
	    "items": {"type": "object", "properties": {
	    "taskId": {"type": ["string", "null"]},
	    "taskDefinition": {"type": ["string", "null"]},
	    "stopCode": {"type": ["string", "null"]},
	    "stoppedReason": {"type": ["string", "null"]},
	    "stoppedAt": {"type": ["string", "null"]},
	    "startedBy": {"type": ["string", "null"]},
	    "containers": {"type": "array", "items": {"type": "object",
		"properties": {"name": {"type": ["string", "null"]},
		"exitCode": {"type": ["integer", "null"]},
		"reason": {"type": ["string", "null"]}}}}},
	    "required": ["taskId", "stopCode", "stoppedReason"]}},) NOTES
	"},\"required\":[\"service\",\"status\",\"desiredCount\","
	"\"runningCount\",\"pendingCount\",\"verdict\",\"why\",\"summary\","
	"\"failedTasks\",\"deployments\",\"events\",\"stoppedTasks\"]}";

static const char out_services[] = "{" J("type": "object", "properties": {
	"cluster": {"type": "string"},
	"services": {"type": "array", "items": {"type": "object",
	    "properties": {
	    "name": {"type": ["string", "null"]},
	    "status": {"type": ["string", "null"]},
	    "desiredCount": {"type": "integer"},
	    "runningCount": {"type": "integer"},
	    "pendingCount": {"type": "integer"},
	    "taskDefinition": {"type": ["string", "null"]},
	    "rolloutState": {"type": ["string", "null"]},
	    "deployments": {"type": "integer"},
	    "verdict": {"type": "string", "enum": ["stable", "rolling_out",
		"failing", "inactive"]},
	    "why": {"type": "string"}},
	    "required": ["name", "status", "desiredCount", "runningCount",
		"verdict"]}},
	"count": {"type": "integer"}, "hasMore": {"type": "boolean"},) NOTES
	J(}, "required": ["cluster", "services", "count", "hasMore"]});

static const char out_update[] = "{\"type\":\"object\",\"properties\":{"
	"\"cluster\":" NSTR ",\"service\":" NSTR ",\"taskDefinition\":" NSTR
	",\"previousTaskDefinition\":" NSTR ",\"desiredCount\":" INT
	",\"deployment\":" NDEPLOYMENT ",\"alreadyExisted\":{\"type\":"
	"\"boolean\",\"description\":\"true when the service already ran "
	"the task definition (and desired count) asked for: its PRIMARY "
	"deployment is returned and none was started\"}," NOTES
	"},\"required\":[\"service\",\"taskDefinition\","
	"\"previousTaskDefinition\",\"deployment\",\"alreadyExisted\"]}";

static const char out_rollback[] = "{\"type\":\"object\",\"properties\":{"
	"\"cluster\":" NSTR ",\"service\":" NSTR ",\"changed\":{\"type\":"
	"\"boolean\",\"description\":\"false when the PRIMARY deployment "
	"already ran the target task definition\"},\"taskDefinition\":" NSTR
	",\"previousTaskDefinition\":" NSTR ",\"desiredCount\":" INT
	",\"completedDeployment\":" NSTR
	",\"deployment\":" NDEPLOYMENT "," NOTES "},\"required\":["
	"\"service\",\"changed\",\"taskDefinition\",\"deployment\"]}";

static const char out_wait[] = "{\"type\":\"object\",\"properties\":{"
	"\"cluster\":{\"type\":\"string\"},\"service\":{\"type\":\"string\"},"
	"\"deploymentId\":" NSTR ",\"outcome\":" J({"type": "string", "enum":
	["completed", "failed", "timeout", "superseded"]}) ",\"deployment\":"
	NDEPLOYMENT ",\"primary\":" NDEPLOYMENT ",\"polls\":" INT
	",\"elapsedSeconds\":" INT ",\"summary\":{\"type\":\"string\"},"
	NOTES "},\"required\":[\"cluster\",\"service\",\"outcome\","
	"\"deployment\",\"polls\",\"summary\"]}";

/* ---- inputs ---- */

static const char in_status[] = "{\"type\":\"object\",\"properties\":{"
	P_CLUSTER "," P_SERVICE "," J(
	"maxEvents": {"type": "integer", "minimum": 0, "maximum": 100,
	    "description": "Most service events to return, newest first (default 10)"},
	"maxStoppedTasks": {"type": "integer", "minimum": 0, "maximum": 20,
	    "description": "Most recently stopped tasks to return (default 5)"})
	"},\"required\":[\"cluster\",\"service\"],"
	"\"additionalProperties\":false}";

static const char in_services[] = "{\"type\":\"object\",\"properties\":{"
	P_CLUSTER "," J("maxItems": {"type": "integer", "minimum": 1,
	    "maximum": 500, "description":
	    "Most services to return (default 100); hasMore tells whether more exist"})
	"},\"required\":[\"cluster\"],\"additionalProperties\":false}";

static const char in_update[] = "{\"type\":\"object\",\"properties\":{"
	P_CLUSTER "," P_SERVICE "," J(
	"taskDefinition": {"type": "string", "minLength": 1, "maxLength": 2048,
	    "pattern": "^[A-Za-z0-9_./:-]+$",
	    "description": "Task definition to run: family:revision, family (its latest ACTIVE revision) or ARN. Default: keep the current one"},
	"desiredCount": {"type": "integer", "minimum": 0, "maximum": 100000,
	    "description": "Number of tasks to run. Default: keep the current count"},
	"forceNewDeployment": {"type": "boolean", "description":
	    "Start a new deployment even when nothing else changes, e.g. to pull a moved image tag (default true); a service that already runs the taskDefinition asked for is left as it is, so leave taskDefinition out to roll the running version again"}) ","
	SRV_P_IDEMPOTENCY_KEY("Not needed here: a service that already runs "
	"the taskDefinition (and desiredCount) asked for is returned with or "
	"without it; a forced deployment without taskDefinition cannot be "
	"recognised and starts again.")
	"},\"required\":[\"cluster\",\"service\"],"
	"\"additionalProperties\":false}";

static const char in_rollback[] = "{\"type\":\"object\",\"properties\":{"
	P_CLUSTER "," P_SERVICE "},\"required\":[\"cluster\",\"service\"],"
	"\"additionalProperties\":false}";

static const char in_wait[] = "{\"type\":\"object\",\"properties\":{"
	P_CLUSTER "," P_SERVICE "," J(
	"deploymentId": {"type": "string", "minLength": 1, "maxLength": 256,
	    "description": "Deployment to wait for, e.g. ecs-svc/1234567890123456789 (default: the PRIMARY deployment)"},
	"timeoutSeconds": {"type": "integer", "minimum": 1, "maximum": 3600,
	    "description": "Stop waiting after this long (default 600); the deployment itself goes on"},
	"pollIntervalSeconds": {"type": "integer", "minimum": 1, "maximum": 300,
	    "description": "Seconds between polls (default 15)"})
	"},\"required\":[\"cluster\",\"service\"],"
	"\"additionalProperties\":false}";

#define READ	.read_only = 1, .idempotent = 1, .open_world = 1

static const struct mcp_tool table[] = {
	{ .name = "getServiceStatus", .title = "Get service status",
	  .description = "Read an ECS service's state: desired, running and "
	    "pending counts, every deployment with its rollout state and "
	    "reason, failed tasks, the latest events, recently stopped tasks "
	    "with their stop code and reason, and a verdict (stable, "
	    "rolling_out, failing, inactive) with why.",
	  .input_schema = in_status, .output_schema = out_status,
	  READ, .fn = tool_get_service_status },
	{ .name = "listServices", .title = "List services",
	  .description = "List the services of an ECS cluster with their "
	    "counts, task definition, rollout state and verdict; follows "
	    "pages up to maxItems.",
	  .input_schema = in_services, .output_schema = out_services,
	  READ, .fn = tool_list_services },
	{ .name = "waitForDeployment", .title = "Wait for deployment",
	  .description = "Wait until a deployment (default: the PRIMARY "
	    "one) COMPLETES or FAILS, polling ECS and reporting progress on "
	    "each poll; gives up after timeoutSeconds.  Outcome: completed, "
	    "failed, timeout or superseded.  Changes nothing.",
	  .input_schema = in_wait, .output_schema = out_wait,
	  READ, .fn = tool_wait_for_deployment },
	{ .name = "updateService", .title = "Update service",
	  .description = "Deploy: change an ECS service's task definition "
	    "and/or desired count, or force a new deployment of the same "
	    "one (default).  Returns the new deployment; follow it with "
	    "waitForDeployment.  Safe to repeat with taskDefinition: a "
	    "service that already runs it (and the desiredCount asked for) "
	    "is returned with alreadyExisted:true and no deployment is "
	    "started.  Without taskDefinition each call starts a "
	    "deployment.  Needs writes enabled on the server.",
	  .input_schema = in_update, .output_schema = out_update,
	  .destructive = 1, .open_world = 1, .fn = tool_update_service },
	{ .name = "rollbackService", .title = "Roll back service",
	  .description = "Roll an ECS service back to the task definition "
	    "of its last COMPLETED deployment (one ECS still lists next to "
	    "a rollout in progress or FAILED).  Safe to repeat: a rollback "
	    "already under way is reported with changed:false.  When there "
	    "is nothing to roll back to, nothing changes and the error "
	    "names the previous revision.  Needs writes enabled on the "
	    "server.",
	  .input_schema = in_rollback, .output_schema = out_rollback,
	  .destructive = 1, .idempotent = 1, .open_world = 1,
	  .fn = tool_rollback_service },
};

const struct mcp_tool *
deptools_table(size_t *n)
{
	*n = sizeof(table) / sizeof(table[0]);
	return table;
}
