/*
 * The afu9-observability tool table: names (afu9 v0.2), descriptions
 * written for a model, input and output schemas, and annotations.  Every
 * tool only reads.
 *
 * Schemas are JSON text; J() turns its tokens into a string literal, so
 * they can be written as JSON in the source.
 */
#include "config.h"

#include <stddef.h>

#include "observability/tools.h"

#define J(...)	#__VA_ARGS__

#define TIME_DESC(what, dflt) "{\"type\":[\"string\",\"integer\"]," \
	"\"description\":\"" what ": epoch milliseconds, ISO 8601 " \
	"(2024-05-01T12:00:00Z; no offset means UTC) or relative to now " \
	"(-15m, -2h, -1d, -1w, now). Default " dflt ".\"}"
#define P_WINDOW "\"startTime\":" TIME_DESC("Start of the time range", \
	"one hour before endTime") ",\"endTime\":" TIME_DESC("End of the " \
	"time range", "now")

#define NOTES	J("notes": {"type": "array", "items": {"type": "string"}, \
	"description": "What was cut or left out of the answer"})
#define NSTR	J({"type": ["string", "null"]})

/* ---- inputs ---- */

static const char in_search[] = "{\"type\":\"object\",\"properties\":{"
	J("logGroupName": {"type": "string", "minLength": 1, "maxLength": 512,
	    "pattern": "^[.A-Za-z0-9_/#-]+$",
	    "description": "Log group, e.g. /ecs/afu9-api"},
	"filterPattern": {"type": "string", "maxLength": 1024, "description":
	    "CloudWatch Logs filter pattern: terms (ERROR), a phrase in double quotes, ?ERROR ?WARN for either, or JSON like { $.level = \"error\" }. Default: every event."},)
	P_WINDOW "," J(
	"limit": {"type": "integer", "minimum": 1, "maximum": 1000,
	    "default": 100, "description": "Most events to return (1-1000)"},
	"nextToken": {"type": "string", "minLength": 1, "maxLength": 4096,
	    "description": "nextToken of an earlier answer, to continue it (pass the same logGroupName, filterPattern and times)"}},
	"required": ["logGroupName"], "additionalProperties": false});

static const char in_query[] = "{\"type\":\"object\",\"properties\":{"
	J("logGroupNames": {"type": "array", "minItems": 1, "maxItems": 50,
	    "items": {"type": "string", "minLength": 1, "maxLength": 512,
	    "pattern": "^[.A-Za-z0-9_/#-]+$"},
	    "description": "Log groups to query (1-50)"},
	"query": {"type": "string", "minLength": 1, "maxLength": 10000,
	    "description": "Logs Insights query, e.g. fields @timestamp, @message | filter @message like /ERROR/ | sort @timestamp desc | limit 20"},)
	P_WINDOW "," J(
	"limit": {"type": "integer", "minimum": 1, "maximum": 1000,
	    "default": 100, "description": "Most rows to return (1-1000)"}},
	"required": ["logGroupNames", "query"], "additionalProperties": false});

static const char in_health[] = "{" J("type": "object", "properties": {
	"cluster": {"type": "string", "minLength": 1, "maxLength": 255,
	    "description": "ECS cluster name or ARN"},
	"service": {"type": "string", "minLength": 1, "maxLength": 255,
	    "description": "ECS service name or ARN"},
	"period": {"type": "integer", "minimum": 60, "maximum": 86400,
	    "default": 300, "description": "Metric period in seconds, a multiple of 60 (default 300)"},
	"window": {"type": "string", "minLength": 2, "maxLength": 16,
	    "pattern": "^-?[0-9]+[smhdw]$", "default": "1h",
	    "description": "How far back the metrics go: a duration such as 15m, 1h, 2d (default 1h, at most 14d)"}},
	"required": ["cluster", "service"], "additionalProperties": false});

static const char in_alarms[] = "{" J("type": "object", "properties": {
	"alarmNames": {"type": "array", "minItems": 1, "maxItems": 100,
	    "items": {"type": "string", "minLength": 1, "maxLength": 255},
	    "description": "Exact alarm names (not with alarmNamePrefix)"},
	"alarmNamePrefix": {"type": "string", "minLength": 1, "maxLength": 255,
	    "description": "Alarms whose names start with this"},
	"stateValue": {"type": "string", "enum": ["OK", "ALARM",
	    "INSUFFICIENT_DATA"], "description": "Only alarms in this state"}},
	"additionalProperties": false});

/* ---- outputs ---- */

static const char out_search[] = "{" J("type": "object", "properties": {
	"logGroupName": {"type": "string"},
	"startTime": {"type": "string"}, "endTime": {"type": "string"},
	"events": {"type": "array", "items": {"type": "object", "properties": {
	    "timestamp": {"type": "string"}, "logStream": {"type": ["string", "null"]},
	    "message": {"type": ["string", "null"]}},
	    "required": ["timestamp", "message"]}},
	"count": {"type": "integer"},
	"nextToken": {"type": ["string", "null"], "description": "pass it back to continue, with the same arguments"},
	"hasMore": {"type": "boolean"},) NOTES
	J(}, "required": ["logGroupName", "events", "count", "nextToken", "hasMore"]});

static const char out_query[] = "{" J("type": "object", "properties": {
	"queryId": {"type": "string"}, "status": {"type": "string"},
	"startTime": {"type": "string"}, "endTime": {"type": "string"},
	"results": {"type": "array", "items": {"type": "object",
	    "description": "one row: field name to value"}},
	"count": {"type": "integer"},
	"statistics": {"type": "object", "properties": {
	    "recordsMatched": {"type": "integer"},
	    "recordsScanned": {"type": "integer"},
	    "bytesScanned": {"type": "integer"}}},) NOTES
	J(}, "required": ["queryId", "status", "results", "count"]});

#define UTIL J({"type": ["object", "null"], "properties": { \
	"average": {"type": "number"}, "maximum": {"type": ["number", "null"]}, \
	"latest": {"type": "number"}, "datapoints": {"type": "integer"}}, \
	"description": "percent over the window; null without datapoints"})

static const char out_health[] = "{" J("type": "object", "properties": {
	"cluster": {"type": "string"}, "service": {"type": "string"},
	"verdict": {"type": "string", "enum": ["healthy", "degraded", "unhealthy"]},
	"status": {"type": "string"},
	"desiredCount": {"type": "integer"}, "runningCount": {"type": "integer"},
	"pendingCount": {"type": "integer"},
	"taskDefinition": {"type": ["string", "null"]},
	"rolloutState": {"type": ["string", "null"]},
	"deployments": {"type": "integer"},
	"window": {"type": "object"},
	"cpu":) UTIL ",\"memory\":" UTIL "," J(
	"reasons": {"type": "array", "items": {"type": "string"}},) NOTES
	J(}, "required": ["verdict", "reasons", "desiredCount", "runningCount"]});

static const char out_alarms[] = "{" J("type": "object", "properties": {
	"alarms": {"type": "array", "items": {"type": "object", "properties": {
	    "name": {"type": "string"},
	    "type": {"type": "string", "enum": ["metric", "composite"]},
	    "state": {"type": "string"},
	    "reason": {"type": ["string", "null"]},
	    "updatedAt": {"type": ["string", "null"]},
	    "metric": {"type": "object"}, "condition": {"type": "object"},
	    "rule": {"type": ["string", "null"]}},
	    "required": ["name", "type", "state"]}},
	"count": {"type": "integer"},
	"summary": {"type": "object", "properties": {
	    "ALARM": {"type": "integer"}, "OK": {"type": "integer"},
	    "INSUFFICIENT_DATA": {"type": "integer"}}},
	"hasMore": {"type": "boolean"},) NOTES
	J(}, "required": ["alarms", "count", "summary", "hasMore"]});

#define READ	.read_only = 1, .idempotent = 1, .open_world = 1

static const struct mcp_tool table[] = {
	{ .name = "searchLogs", .title = "Search logs",
	  .description = "Find log events in one CloudWatch Logs group "
	    "matching a filter pattern within a time range (default: the "
	    "last hour), oldest first, following pages up to limit. Long "
	    "messages are cut (notes say so); nextToken continues.",
	  .input_schema = in_search, .output_schema = out_search,
	  READ, .fn = tool_search_logs },
	{ .name = "queryLogs", .title = "Query logs (Logs Insights)",
	  .description = "Run a CloudWatch Logs Insights query over one or "
	    "more log groups and wait for its results (progress is "
	    "reported while it runs; cancelling the call stops the query). "
	    "Default range: the last hour.",
	  .input_schema = in_query, .output_schema = out_query,
	  READ, .fn = tool_query_logs },
	{ .name = "getServiceHealth", .title = "Get ECS service health",
	  .description = "Judge an ECS service: desired/running/pending "
	    "task counts and its deployment, plus CPU and memory "
	    "utilization (average and maximum) from CloudWatch over a "
	    "window. Verdict: unhealthy when no task runs, the service is "
	    "not ACTIVE, the deployment failed or average utilization is "
	    ">= 95%; degraded when fewer tasks run than desired, average "
	    ">= 80% or maximum >= 90%; else healthy. reasons say why.",
	  .input_schema = in_health, .output_schema = out_health,
	  READ, .fn = tool_get_service_health },
	{ .name = "getAlarmStatus", .title = "Get alarm status",
	  .description = "CloudWatch metric and composite alarms with their "
	    "state (ALARM first), reason and condition, filtered by names, "
	    "name prefix or state; a summary counts each state.",
	  .input_schema = in_alarms, .output_schema = out_alarms,
	  READ, .fn = tool_get_alarm_status },
};

const struct mcp_tool *
obstools_table(size_t *n)
{
	*n = sizeof(table) / sizeof(table[0]);
	return table;
}
