/*
 * The afu9-github tool table: names (afu9 v0.2), descriptions written for
 * a model, input and output schemas, and annotations.
 *
 * Schemas are JSON text; J() turns its tokens into a string literal, so
 * they can be written as JSON in the source.
 */
#include "config.h"

#include <stddef.h>

#include "common/srvmain.h"
#include "github/tools.h"

#define J(...)	#__VA_ARGS__

#define P_OWNER	J("owner": {"type": "string", "minLength": 1, "maxLength": 100, \
	"pattern": "^[A-Za-z0-9_.-]+$", \
	"description": "Repository owner: a user or organization login, e.g. octocat"})
#define P_REPO	J("repo": {"type": "string", "minLength": 1, "maxLength": 100, \
	"pattern": "^[A-Za-z0-9_.-]+$", \
	"description": "Repository name without the owner, e.g. hello-world"})
#define P_NUMBER(what) J("number": {"type": "integer", "minimum": 1, \
	"maximum": 2147483647, "description": what})
#define P_BRANCH(what) J("branch": {"type": "string", "minLength": 1, \
	"maxLength": 255, "description": what})
#define P_MAXITEMS J("maxItems": {"type": "integer", "minimum": 1, \
	"maximum": 300, "default": 30, "description": \
	"Most items to return (1-300, default 30). Pages are followed until \
this many are collected; hasMore tells whether more exist."})
#define P_DIRECTION J("direction": {"type": "string", "enum": ["asc", "desc"], \
	"description": "Sort order (default desc)"})

#define EXISTED(what) "\"alreadyExisted\":{\"type\":\"boolean\"," \
	"\"description\":\"true when " what " was there already and was " \
	"returned instead of being written again\"}"
#define NOTES	J("notes": {"type": "array", "items": {"type": "string"}, \
	"description": "What was removed from or cut in the text shown"})
#define STR	J({"type": "string"})
#define NSTR	J({"type": ["string", "null"]})
#define STRS	J({"type": "array", "items": {"type": "string"}})

/* ---- outputs ---- */

#define ISSUE_BRIEF_PROPS \
	"\"number\":{\"type\":\"integer\"},\"title\":" NSTR ",\"state\":" NSTR \
	",\"labels\":" STRS ",\"author\":" NSTR ",\"comments\":{\"type\":" \
	"\"integer\"},\"createdAt\":" NSTR ",\"updatedAt\":" NSTR \
	",\"htmlUrl\":" NSTR ",\"isPullRequest\":{\"type\":\"boolean\"}"
#define ISSUE_BRIEF_REQ \
	"\"number\",\"title\",\"state\",\"labels\",\"author\",\"htmlUrl\""
#define PR_BRIEF_PROPS \
	"\"number\":{\"type\":\"integer\"},\"title\":" NSTR ",\"state\":" NSTR \
	",\"draft\":{\"type\":\"boolean\"},\"merged\":{\"type\":\"boolean\"}" \
	",\"author\":" NSTR ",\"head\":" NSTR ",\"base\":" NSTR \
	",\"createdAt\":" NSTR ",\"updatedAt\":" NSTR ",\"htmlUrl\":" NSTR
#define PR_BRIEF_REQ \
	"\"number\",\"title\",\"state\",\"head\",\"base\",\"htmlUrl\""
#define LIST_OUT(props, req) \
	"{\"type\":\"object\",\"properties\":{\"items\":{\"type\":\"array\"," \
	"\"items\":{\"type\":\"object\",\"properties\":{" props "}," \
	"\"required\":[" req "]}},\"count\":{\"type\":\"integer\"}," \
	"\"hasMore\":{\"type\":\"boolean\"}," NOTES "}," \
	"\"required\":[\"items\",\"count\",\"hasMore\"]}"

static const char out_repository[] = "{" J("type": "object", "properties": {
	"fullName": {"type": ["string", "null"]},
	"description": {"type": ["string", "null"]},
	"private": {"type": "boolean"},
	"visibility": {"type": ["string", "null"]},
	"defaultBranch": {"type": ["string", "null"]},
	"htmlUrl": {"type": ["string", "null"]},
	"archived": {"type": "boolean"}, "fork": {"type": "boolean"},
	"language": {"type": ["string", "null"]},
	"topics": {"type": "array", "items": {"type": "string"}},
	"stars": {"type": "integer"}, "forks": {"type": "integer"},
	"openIssues": {"type": "integer"},
	"pushedAt": {"type": ["string", "null"]},
	"permissions": {"type": "object"},) NOTES
	J(}, "required": ["fullName", "defaultBranch", "private", "htmlUrl"]}
);

static const char out_file[] = "{" J("type": "object", "properties": {
	"path": {"type": ["string", "null"]},
	"type": {"type": ["string", "null"],
	    "description": "file, dir, symlink or submodule"},
	"size": {"type": "integer"}, "sha": {"type": ["string", "null"]},
	"htmlUrl": {"type": ["string", "null"]},
	"content": {"type": "string"}, "truncated": {"type": "boolean"},
	"binary": {"type": "boolean"}, "target": {"type": "string"},
	"entries": {"type": "array", "items": {"type": "object",
	    "properties": {"name": {"type": ["string", "null"]},
	    "path": {"type": ["string", "null"]},
	    "type": {"type": ["string", "null"]}, "size": {"type": "integer"}},
	    "required": ["name", "path", "type"]}},) NOTES
	J(}, "required": ["path", "type"]}
);

static const char out_issue[] = "{\"type\":\"object\",\"properties\":{"
	ISSUE_BRIEF_PROPS "," J(
	"body": {"type": ["string", "null"]},
	"stateReason": {"type": ["string", "null"]},
	"assignees": {"type": "array", "items": {"type": "string"}},
	"closedAt": {"type": ["string", "null"]},
	"locked": {"type": "boolean"},
	"milestone": {"type": ["string", "null"]},
	"commentList": {"type": "array", "items": {"type": "object",
	    "properties": {"author": {"type": ["string", "null"]},
	    "createdAt": {"type": ["string", "null"]},
	    "body": {"type": ["string", "null"]}},
	    "required": ["author", "body"]}},) NOTES "},\"required\":["
	ISSUE_BRIEF_REQ ",\"body\"]}";

static const char out_issues[] = LIST_OUT(ISSUE_BRIEF_PROPS, ISSUE_BRIEF_REQ);
static const char out_pulls[] = LIST_OUT(PR_BRIEF_PROPS, PR_BRIEF_REQ);

static const char out_pull[] = "{\"type\":\"object\",\"properties\":{"
	PR_BRIEF_PROPS "," J(
	"body": {"type": ["string", "null"]},
	"headSha": {"type": "string"},
	"mergeable": {"type": ["boolean", "null"], "description":
	    "null while GitHub is still computing it"},
	"mergeableState": {"type": ["string", "null"], "description":
	    "clean, dirty (conflicts), blocked, behind, unstable, unknown ..."},
	"mergedAt": {"type": ["string", "null"]},
	"mergeCommitSha": {"type": ["string", "null"]},
	"labels": {"type": "array", "items": {"type": "string"}},
	"assignees": {"type": "array", "items": {"type": "string"}},
	"requestedReviewers": {"type": "array", "items": {"type": "string"}},
	"commits": {"type": "integer"}, "changedFiles": {"type": "integer"},
	"additions": {"type": "integer"}, "deletions": {"type": "integer"},
	"checks": {"type": "object", "properties": {
	    "state": {"type": "string", "enum": ["success", "failure",
	    "pending", "none"]},
	    "total": {"type": "integer"}, "successful": {"type": "integer"},
	    "failing": {"type": "array", "items": {"type": "string"}},
	    "pending": {"type": "array", "items": {"type": "string"}}},
	    "required": ["state", "total", "failing", "pending"]},) NOTES
	"},\"required\":[" PR_BRIEF_REQ ",\"headSha\",\"mergeable\",\"checks\"]}";

static const char out_created_pull[] = "{\"type\":\"object\",\"properties\":{"
	PR_BRIEF_PROPS ",\"created\":{\"type\":\"boolean\",\"description\":"
	"\"false when an open pull request for the same head and base "
	"already existed and was returned\"},"
	EXISTED("an open pull request for the same head and base") ","
	NOTES "},\"required\":[" PR_BRIEF_REQ ",\"created\","
	"\"alreadyExisted\"]}";

static const char out_branch[] = "{" J("type": "object", "properties": {
	"branch": {"type": "string"}, "sha": {"type": "string"},
	"from": {"type": "string"},
	"created": {"type": "boolean", "description":
	    "false when the branch already existed at the same commit"},)
	EXISTED("the branch, at the same commit,") "," NOTES
	J(}, "required": ["branch", "sha", "from", "created",
	"alreadyExisted"]});

static const char out_push[] = "{" J("type": "object", "properties": {
	"branch": {"type": "string"}, "commit": {"type": "string"},
	"parent": {"type": "string"}, "tree": {"type": "string"},
	"files": {"type": "integer"},
	"changed": {"type": "boolean", "description":
	    "false when the branch already had this content (no commit made)"},)
	EXISTED("the head commit of the branch (with this content, or "
	"with the idempotencyKey's trailer)") "," NOTES
	J(}, "required": ["branch", "commit", "parent", "changed",
	"alreadyExisted"]});

static const char out_comment[] = "{" J("type": "object", "properties": {
	"issueNumber": {"type": "integer"}, "id": {"type": "integer"},
	"htmlUrl": {"type": ["string", "null"]},
	"createdAt": {"type": ["string", "null"]},)
	EXISTED("a comment with the idempotencyKey's marker") "," NOTES
	J(}, "required": ["issueNumber", "id", "htmlUrl", "alreadyExisted"]});

static const char out_merge[] = "{" J("type": "object", "properties": {
	"number": {"type": "integer"}, "merged": {"type": "boolean"},
	"alreadyMerged": {"type": "boolean"},
	"sha": {"type": ["string", "null"], "description":
	    "the merge commit"},) NOTES
	J(}, "required": ["number", "merged", "alreadyMerged", "sha"]});

static const char out_tree[] = "{" J("type": "object", "properties": {
	"ref": {"type": "string"}, "sha": {"type": ["string", "null"],
	    "description": "the tree listed"},
	"path": {"type": "string", "description": "the prefix listed; empty for the whole repository"},
	"entries": {"type": "array", "items": {"type": "object",
	    "properties": {"path": {"type": "string"},
	    "type": {"type": "string", "enum": ["file", "dir", "symlink", "submodule"]},
	    "size": {"type": "integer"}}, "required": ["path", "type"]}},
	"count": {"type": "integer"},
	"matched": {"type": "integer", "description": "entries under path, shown or not"},
	"hasMore": {"type": "boolean", "description": "more entries matched than maxEntries"},
	"truncated": {"type": "boolean", "description": "GitHub cut the tree itself (too large): entries are missing"},) NOTES
	J(}, "required": ["ref", "sha", "path", "entries", "count", "matched", "hasMore", "truncated"]}
);

#define CHECK_NAMES J({"type": "array", "items": {"type": "object", \
	"properties": {"name": {"type": "string"}, \
	"source": {"type": "string", "enum": ["check_run", "status"]}, \
	"status": {"type": ["string", "null"]}}, "required": ["name", "source"]}})

static const char out_checks[] = "{" J("type": "object", "properties": {
	"ref": {"type": "string"}, "sha": {"type": ["string", "null"]},
	"state": {"type": "string", "enum": ["success", "failure", "pending", "none"],
	    "description": "failure when any check failed; else pending while any runs; none when the commit has no checks"},
	"completed": {"type": "boolean", "description": "no check is queued or running (true also with none)"},
	"failed": {"type": "boolean"},
	"total": {"type": "integer"}, "successful": {"type": "integer"},
	"failing": {"type": "array", "items": {"type": "object", "properties": {
	    "name": {"type": "string"},
	    "source": {"type": "string", "enum": ["check_run", "status"]},
	    "conclusion": {"type": ["string", "null"]},
	    "detailsUrl": {"type": ["string", "null"]},
	    "title": {"type": ["string", "null"]},
	    "summary": {"type": ["string", "null"]},
	    "text": {"type": ["string", "null"]},
	    "annotations": {"type": "array", "items": {"type": "object", "properties": {
		"path": {"type": ["string", "null"]},
		"startLine": {"type": "integer"}, "endLine": {"type": "integer"},
		"level": {"type": ["string", "null"]},
		"title": {"type": ["string", "null"]},
		"message": {"type": ["string", "null"]}}}}},
	    "required": ["name", "source", "conclusion", "title", "summary", "text"]}},
	"pending":) CHECK_NAMES ",\"passing\":" CHECK_NAMES "," NOTES
	J(}, "required": ["ref", "sha", "state", "completed", "failed", "total",
	"successful", "failing", "pending", "passing"]}
);

static const char out_ready[] = "{\"type\":\"object\",\"properties\":{"
	PR_BRIEF_PROPS ",\"changed\":{\"type\":\"boolean\",\"description\":"
	"\"false when the pull request was no draft already\"}," NOTES
	"},\"required\":[" PR_BRIEF_REQ ",\"draft\",\"changed\"]}";

/* ---- inputs ---- */

static const char in_repository[] = "{\"type\":\"object\",\"properties\":{"
	P_OWNER "," P_REPO "},\"required\":[\"owner\",\"repo\"],"
	"\"additionalProperties\":false}";

static const char in_file[] = "{\"type\":\"object\",\"properties\":{"
	P_OWNER "," P_REPO "," J(
	"path": {"type": "string", "maxLength": 4096, "description":
	    "File or directory path from the repository root, e.g. src/main.c; empty for the root directory"},
	"ref": {"type": "string", "minLength": 1, "maxLength": 255,
	    "description": "Branch, tag or commit SHA (default: the default branch)"},
	"maxBytes": {"type": "integer", "minimum": 1, "maximum": 1048576,
	    "description": "Most bytes of text to return (default 65536); longer files are cut with a note"})
	"},\"required\":[\"owner\",\"repo\",\"path\"],"
	"\"additionalProperties\":false}";

static const char in_issue[] = "{\"type\":\"object\",\"properties\":{"
	P_OWNER "," P_REPO "," P_NUMBER("Issue number") "," J(
	"includeComments": {"type": "boolean", "description":
	    "Also return the comments, oldest first (default false)"},
	"maxComments": {"type": "integer", "minimum": 1, "maximum": 100,
	    "description": "Most comments to return with includeComments (default 20)"})
	"},\"required\":[\"owner\",\"repo\",\"number\"],"
	"\"additionalProperties\":false}";

static const char in_issues[] = "{\"type\":\"object\",\"properties\":{"
	P_OWNER "," P_REPO "," J(
	"state": {"type": "string", "enum": ["open", "closed", "all"],
	    "description": "Which issues (default open)"},
	"labels": {"type": ["array", "string"], "maxLength": 2000, "maxItems": 50,
	    "items": {"type": "string", "minLength": 1, "maxLength": 100},
	    "description": "Only issues with all these labels: an array of names or one comma-separated string"},
	"since": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?)?$",
	    "description": "Only issues updated at or after this ISO 8601 time, e.g. 2024-05-01T00:00:00Z"},
	"sort": {"type": "string", "enum": ["created", "updated", "comments"],
	    "description": "Sort field (default created)"},) P_DIRECTION "," P_MAXITEMS
	"," J("includePullRequests": {"type": "boolean", "description":
	    "Also list pull requests, which GitHub counts as issues (default false)"},
	"perPage": {"type": "integer", "minimum": 1, "maximum": 100,
	    "description": "Items per GitHub page (default: maxItems, at most 100); rarely needed"})
	"},\"required\":[\"owner\",\"repo\"],\"additionalProperties\":false}";

static const char in_comment[] = "{\"type\":\"object\",\"properties\":{"
	P_OWNER "," P_REPO "," P_NUMBER("Issue or pull request number") ","
	J("body": {"type": "string", "minLength": 1, "maxLength": 65536,
	    "description": "Comment text (GitHub Markdown)"}) ","
	SRV_P_IDEMPOTENCY_KEY("It is kept in a hidden marker at the end of "
	"the comment, <!-- afu9:idempotency-key=KEY -->; the issue's comments "
	"are searched for it before posting.")
	"},\"required\":[\"owner\",\"repo\",\"number\",\"body\"],"
	"\"additionalProperties\":false}";

static const char in_branch[] = "{\"type\":\"object\",\"properties\":{"
	P_OWNER "," P_REPO "," P_BRANCH("Name of the new branch, e.g. feature/login") ","
	J("from": {"type": "string", "minLength": 1, "maxLength": 255,
	    "description": "Branch or 40-hex commit SHA to start from (default: the repository's default branch)"}) ","
	SRV_P_IDEMPOTENCY_KEY("Not needed here: a branch already at the "
	"commit asked for is returned with or without it.")
	"},\"required\":[\"owner\",\"repo\",\"branch\"],"
	"\"additionalProperties\":false}";

static const char in_push[] = "{\"type\":\"object\",\"properties\":{"
	P_OWNER "," P_REPO "," P_BRANCH("Existing branch to commit to; create it first with createBranch") ","
	J("message": {"type": "string", "minLength": 1, "maxLength": 65536,
	    "description": "Commit message"},
	"files": {"type": "array", "minItems": 1, "maxItems": 100,
	    "description": "Files to write or delete, all in one commit",
	    "items": {"type": "object", "properties": {
	    "path": {"type": "string", "minLength": 1, "maxLength": 4096,
		"description": "Path from the repository root"},
	    "content": {"type": "string", "maxLength": 8388608,
		"description": "The whole new content (UTF-8 text)"},
	    "delete": {"type": "boolean", "description":
		"true to delete the file instead (give no content)"},
	    "mode": {"type": "string", "enum": ["100644", "100755"],
		"description": "100755 for an executable file (default 100644)"}},
	    "required": ["path"], "additionalProperties": false}}) ","
	SRV_P_IDEMPOTENCY_KEY("It is kept as a trailer of the commit message, "
	"Afu9-Idempotency-Key: KEY; a head commit that carries it is "
	"returned and nothing is pushed.")
	"},\"required\":[\"owner\",\"repo\",\"branch\",\"message\",\"files\"],"
	"\"additionalProperties\":false}";

static const char in_pull[] = "{\"type\":\"object\",\"properties\":{"
	P_OWNER "," P_REPO "," P_NUMBER("Pull request number")
	"},\"required\":[\"owner\",\"repo\",\"number\"],"
	"\"additionalProperties\":false}";

static const char in_pulls[] = "{\"type\":\"object\",\"properties\":{"
	P_OWNER "," P_REPO "," J(
	"state": {"type": "string", "enum": ["open", "closed", "all"],
	    "description": "Which pull requests (default open)"},
	"head": {"type": "string", "minLength": 1, "maxLength": 255,
	    "description": "Only this head branch: branch or owner:branch"},
	"base": {"type": "string", "minLength": 1, "maxLength": 255,
	    "description": "Only pull requests into this base branch"},
	"sort": {"type": "string", "enum": ["created", "updated", "popularity", "long-running"],
	    "description": "Sort field (default created)"},) P_DIRECTION "," P_MAXITEMS
	"},\"required\":[\"owner\",\"repo\"],\"additionalProperties\":false}";

static const char in_create_pull[] = "{\"type\":\"object\",\"properties\":{"
	P_OWNER "," P_REPO "," J(
	"title": {"type": "string", "minLength": 1, "maxLength": 256,
	    "description": "Pull request title"},
	"head": {"type": "string", "minLength": 1, "maxLength": 255,
	    "description": "Branch with the changes: branch, or owner:branch for a fork"},
	"base": {"type": "string", "minLength": 1, "maxLength": 255,
	    "description": "Branch to merge into (default: the repository's default branch)"},
	"body": {"type": "string", "maxLength": 65536,
	    "description": "Description (GitHub Markdown)"},
	"draft": {"type": "boolean", "description": "Open as a draft (default false)"},
	"maintainerCanModify": {"type": "boolean", "description":
	    "Let maintainers push to the head branch of a fork (default true)"})
	"," SRV_P_IDEMPOTENCY_KEY("Not needed here: an open pull request for "
	"the same head and base is returned with or without it.")
	"},\"required\":[\"owner\",\"repo\",\"title\",\"head\"],"
	"\"additionalProperties\":false}";

static const char in_merge[] = "{\"type\":\"object\",\"properties\":{"
	P_OWNER "," P_REPO "," P_NUMBER("Pull request number") "," J(
	"method": {"type": "string", "enum": ["merge", "squash", "rebase"],
	    "description": "How to merge (default merge)"},
	"expectedHeadSha": {"type": "string", "pattern": "^[0-9a-fA-F]{40}$",
	    "description": "Merge only if the head commit is still this SHA (guards against merging commits you have not seen)"},
	"commitTitle": {"type": "string", "maxLength": 1024,
	    "description": "Title of the merge or squash commit"},
	"commitMessage": {"type": "string", "maxLength": 65536,
	    "description": "Message of the merge or squash commit"})
	"},\"required\":[\"owner\",\"repo\",\"number\"],"
	"\"additionalProperties\":false}";

static const char in_tree[] = "{\"type\":\"object\",\"properties\":{"
	P_OWNER "," P_REPO "," J(
	"ref": {"type": "string", "minLength": 1, "maxLength": 255,
	    "description": "Branch, tag or commit SHA (default: the default branch)"},
	"path": {"type": "string", "maxLength": 4096, "description":
	    "Only entries under this directory, e.g. src (default: the whole repository)"},
	"maxEntries": {"type": "integer", "minimum": 1, "maximum": 10000,
	    "description": "Most entries to return (default 1000)"})
	"},\"required\":[\"owner\",\"repo\"],\"additionalProperties\":false}";

static const char in_checks[] = "{\"type\":\"object\",\"properties\":{"
	P_OWNER "," P_REPO "," J(
	"ref": {"type": "string", "minLength": 1, "maxLength": 255,
	    "description": "Commit SHA (best: a pull request's headSha), branch or tag"},
	"maxRuns": {"type": "integer", "minimum": 1, "maximum": 1000,
	    "description": "Most check runs to read (default 100)"},
	"maxTextBytes": {"type": "integer", "minimum": 1, "maximum": 65536,
	    "description": "Most bytes of each failing check's summary and text (default 4096)"})
	"},\"required\":[\"owner\",\"repo\",\"ref\"],\"additionalProperties\":false}";

#define READ	.read_only = 1, .idempotent = 1, .open_world = 1

static const struct mcp_tool table[] = {
	{ .name = "getRepository", .title = "Get repository",
	  .description = "Read a repository's facts: default branch, "
	    "visibility, description, topics, counts, your permissions.",
	  .input_schema = in_repository, .output_schema = out_repository,
	  READ, .fn = tool_get_repository },
	{ .name = "getFileContents", .title = "Get file contents",
	  .description = "Read a text file (decoded, cut at maxBytes) or "
	    "list a directory at a branch, tag or commit.",
	  .input_schema = in_file, .output_schema = out_file,
	  READ, .fn = tool_get_file_contents },
	{ .name = "getIssue", .title = "Get issue",
	  .description = "Read one issue: title, body, state, labels, "
	    "assignees, author, timestamps, and optionally its comments. "
	    "Invisible Unicode is removed and long text cut; notes say so.",
	  .input_schema = in_issue, .output_schema = out_issue,
	  READ, .fn = tool_get_issue },
	{ .name = "listIssues", .title = "List issues",
	  .description = "List a repository's issues (not pull requests "
	    "unless asked), newest first, filtered by state, labels and "
	    "update time; follows pages up to maxItems.",
	  .input_schema = in_issues, .output_schema = out_issues,
	  READ, .fn = tool_list_issues },
	{ .name = "getPullRequest", .title = "Get pull request",
	  .description = "Read one pull request with its mergeable state "
	    "and a summary of its checks (commit statuses and check runs).",
	  .input_schema = in_pull, .output_schema = out_pull,
	  READ, .fn = tool_get_pull_request },
	{ .name = "listPullRequests", .title = "List pull requests",
	  .description = "List a repository's pull requests, filtered by "
	    "state, head and base branch; follows pages up to maxItems.",
	  .input_schema = in_pulls, .output_schema = out_pulls,
	  READ, .fn = tool_list_pull_requests },
	{ .name = "getRepositoryTree", .title = "Get repository tree",
	  .description = "List every file and directory of a repository at "
	    "a branch, tag or commit in one call (recursively), optionally "
	    "only under a path; cut at maxEntries. Use it to find your way "
	    "before reading files with getFileContents.",
	  .input_schema = in_tree, .output_schema = out_tree,
	  READ, .fn = tool_get_repository_tree },
	{ .name = "getCommitChecks", .title = "Get commit checks",
	  .description = "The CI verdict of a commit: its check runs and "
	    "commit statuses folded into one state (success, failure, "
	    "pending, none), whether all completed, and for each failing "
	    "check its title, summary, text and annotations (file, line, "
	    "message), so you can see why it failed.",
	  .input_schema = in_checks, .output_schema = out_checks,
	  READ, .fn = tool_get_commit_checks },
	{ .name = "createBranch", .title = "Create branch",
	  .description = "Create a branch from another branch or a commit "
	    "(default: the repository's default branch). Safe to repeat: a "
	    "branch already at that commit is returned with "
	    "alreadyExisted:true; one at another commit is an error and is "
	    "left alone.",
	  .input_schema = in_branch, .output_schema = out_branch,
	  .idempotent = 1, .open_world = 1, .fn = tool_create_branch },
	{ .name = "createPullRequest", .title = "Create pull request",
	  .description = "Open a pull request from head into base (default: "
	    "the default branch). Safe to repeat: an open pull request for "
	    "the same head and base is returned with alreadyExisted:true.",
	  .input_schema = in_create_pull, .output_schema = out_created_pull,
	  .idempotent = 1, .open_world = 1, .fn = tool_create_pull_request },
	{ .name = "pushFiles", .title = "Push files",
	  .description = "Write and delete files on an existing branch as "
	    "one commit. Fast-forward only: if the branch moved meanwhile "
	    "nothing changes and the error says so. Overwrites the named "
	    "files. Safe to repeat: a head that already has this content, "
	    "or that carries the idempotencyKey, is returned with "
	    "alreadyExisted:true and no new commit.",
	  .input_schema = in_push, .output_schema = out_push,
	  .destructive = 1, .idempotent = 1, .open_world = 1,
	  .fn = tool_push_files },
	{ .name = "addIssueComment", .title = "Add issue comment",
	  .description = "Comment on an issue or pull request. Without "
	    "idempotencyKey each call adds a comment: do not repeat it. "
	    "With one, a comment already posted with the same key is "
	    "returned with alreadyExisted:true instead.",
	  .input_schema = in_comment, .output_schema = out_comment,
	  .open_world = 1, .fn = tool_add_issue_comment },
	{ .name = "mergePullRequest", .title = "Merge pull request",
	  .description = "Merge a pull request (merge, squash or rebase), "
	    "optionally only if its head is still expectedHeadSha. A pull "
	    "request merged already is reported with alreadyMerged:true.",
	  .input_schema = in_merge, .output_schema = out_merge,
	  .destructive = 1, .idempotent = 1, .open_world = 1,
	  .fn = tool_merge_pull_request },
	{ .name = "markPullRequestReady", .title = "Mark pull request ready",
	  .description = "Take a draft pull request out of draft: ready for "
	    "review. Safe to repeat: one that is no draft is returned with "
	    "changed:false.",
	  .input_schema = in_pull, .output_schema = out_ready,
	  .idempotent = 1, .open_world = 1,
	  .fn = tool_mark_pull_request_ready },
};

const struct mcp_tool *
ghtools_table(size_t *n)
{
	*n = sizeof(table) / sizeof(table[0]);
	return table;
}
