/*
 * awsclient: the AWS JSON protocol client under the afu9-deploy and
 * afu9-observability tools.  aws_call() turns (service, operation, input
 * object) into a signed, asynchronous httpc transfer and its answer into
 * either the output object or one error with a message a model can act on.
 *
 * Wire format per service (a POST of the JSON input to the endpoint's
 * path, "/" for every AWS endpoint):
 *	ECS		awsJson1_1  X-Amz-Target: AmazonEC2ContainerServiceV20141113.OP
 *	CloudWatch Logs	awsJson1_1  X-Amz-Target: Logs_20140328.OP
 *	Secrets Manager	awsJson1_1  X-Amz-Target: secretsmanager.OP
 *	CloudWatch	awsJson1_0  X-Amz-Target: GraniteServiceVersion20100801.OP
 *			plus x-amzn-query-mode: true (its Query-compatible
 *			JSON mode: errors carry the Query protocol's codes)
 * with Content-Type application/x-amz-json-1.1 (1.0 for CloudWatch).
 * STS speaks the Query protocol only and is not served here (the
 * credentials chain has its own STS call).  Host, Content-Type,
 * X-Amz-Target (and x-amzn-query-mode) are signed with SigV4 under the
 * service's signing name (ecs, logs, monitoring, secretsmanager), with
 * X-Amz-Security-Token when the credentials carry a session token.
 * Credentials come from the creds provider on every attempt (its cache
 * answers at once), so rotated or refreshed credentials are picked up.
 *
 * Errors: the code is, first found, the x-amzn-query-error header's
 * "Code;Sender" code, the body's "__type", the body's "code", the
 * X-Amzn-Errortype header; a namespace prefix ("aws.ecs#") and any ":"
 * suffix are dropped.  The message is the body's "message", "Message" or
 * "errorMessage".  Every message names the service and operation, and a
 * service's answer names its request id (x-amzn-RequestId, else
 * x-amz-request-id):
 *   "ECS DescribeServices failed: ClusterNotFoundException: Cluster not
 *    found. (request id 9f0c...)"
 * A failure to get an answer at all names the endpoint:
 *   "ECS ListClusters failed: could not reach https://ecs.us-east-1.
 *    amazonaws.com: REASON (gave up after 3 attempts)"
 * Messages are passed through redact_str(): registered secrets never
 * leave in one.
 *
 * Retries, the AWS "standard" mode, in one place: at most max_attempts
 * (3) attempts in all.  Retried, after a full-jitter wait
 * httpc_backoff(n, base, cap) (rand * min(cap, base * 2^n), n = 0 for
 * the first retry): throttling codes (aws_code_is_throttling()),
 * transient codes (aws_code_is_transient()), HTTP 500, 502, 503 and 504
 * whatever the code, and transport failures (no HTTP answer).  An
 * ExpiredToken / ExpiredTokenException answer invalidates the cached
 * credentials and is retried once, at once, with fresh ones.  Nothing
 * else is retried: a 4xx like ValidationException, an answer that is too
 * large or not JSON.
 *
 * Retrying is safe for every operation afu9 calls: they are reads
 * (Describe*, List*, Get*, FilterLogEvents, GetMetricData ...),
 * writes whose repetition leaves the same state (UpdateService with the
 * same input sets the same desired count and task definition again;
 * PutMetricData and PutLogEvents only after a failure in which AWS did
 * not accept the data, which is what the retried codes mean), or
 * creations that answer a repeat with an "already exists" error rather
 * than a second resource.  A caller adding an operation that is not safe
 * to repeat must make its input idempotent (a client token) first.
 *
 * Ownership: the client borrows the loop, the httpc and the credentials
 * provider (all must outlive it) and copies what it needs of the config.
 * aws_call() serialises the input at once (borrowed).  A result and
 * everything in it is borrowed for the duration of the callback.
 */
#ifndef AFU9_AWS_CLIENT_H
#define AFU9_AWS_CLIENT_H

#include <stddef.h>
#include <ev.h>
#include <jansson.h>

#include "httpc.h"
#include "aws/awsconf.h"
#include "aws/creds.h"

#define AWS_CLIENT_MAX_OPERATION 64u	/* [A-Za-z0-9], 1..64 bytes */
#define AWS_CLIENT_MAX_BODY	(4u * 1024 * 1024)	/* JSON sent */
#define AWS_CLIENT_MAX_CODE	128u	/* an error code, as reported */
#define AWS_CLIENT_MAX_TEXT	512u	/* a service's message, as quoted */
#define AWS_CLIENT_MAX_REQID	128u	/* a request id, as reported */
#define AWS_CLIENT_MAX_MESSAGE	(AWS_CREDS_MAX_ERR + 1024u)

/* Zero fields mean the default given. */
struct aws_client_opts {
	unsigned	 max_attempts;		/* 3, counting the first */
	double		 backoff_base_s;	/* 1 */
	double		 backoff_cap_s;		/* 20 */
	long		 timeout_ms;		/* per attempt; 0: httpc's */
	double		(*random)(void);	/* [0,1): httpc_random */
};

enum aws_err {
	AWS_OK = 0,
	AWS_ERR_CONFIG,		/* no region or endpoint, no credentials:
				   nothing was sent */
	AWS_ERR_SERVICE,	/* AWS answered with an error (after the
				   retries allowed); code and status set */
	AWS_ERR_NETWORK,	/* no HTTP answer after the retries allowed */
	AWS_ERR_RESPONSE,	/* an answer too large, or not the JSON
				   expected */
	AWS_ERR_INTERNAL	/* out of memory, signing refused */
};

/* What a call came to; everything borrowed for the callback's duration. */
struct aws_result {
	enum aws_err	 err;
	const char	*message;	/* NULL on success */
	const char	*code;		/* error code, or NULL */
	const char	*fault;		/* "Sender"/"Receiver" from
					   x-amzn-query-error, or NULL */
	long		 status;	/* final HTTP status, 0 if none */
	const char	*request_id;	/* of the final answer, or NULL */
	json_t		*body;		/* success: the output object
					   (json_incref() to keep it) */
	unsigned	 attempts;	/* HTTP attempts made */
};

struct aws_client;
struct aws_call;

/* Called once per call unless cancelled, always from the loop. */
typedef void (*aws_call_fn)(const struct aws_result *, void *arg);

/*
 * A client on `loop` sending through `http`, signing with credentials
 * from `creds` (all three borrowed), to the region and endpoints of cfg
 * (copied).  opts NULL: all defaults.  A missing region or endpoint is
 * not an error here: calls to that service then fail with
 * AWS_ERR_CONFIG and say what to set.  NULL with a message in err
 * (errlen bytes) on a bad argument or out of memory.
 */
struct aws_client *aws_client_new(struct ev_loop *loop, struct httpc *http,
	    struct aws_creds_provider *creds, const struct aws_config *cfg,
	    const struct aws_client_opts *opts, char *err, size_t errlen);

/* Cancel every call (no callbacks) and free.  Inside a callback the
   release is deferred until it returns.  NULL is fine. */
void	aws_client_free(struct aws_client *);

/*
 * Call `operation` of `svc` with `params` (a JSON object, borrowed,
 * serialised at once; NULL sends {}).  Returns a handle valid until the
 * callback returns or aws_call_cancel(); NULL (errno set, no callback)
 * on: a service not served (EINVAL; STS), an operation that is not 1..64
 * of [A-Za-z0-9] (EINVAL), params not an object (EINVAL), a body over
 * AWS_CLIENT_MAX_BODY (EMSGSIZE), a client being freed (EINVAL), or out of
 * memory.  Configuration and credential failures are reported through the
 * callback, never synchronously.
 */
struct aws_call *aws_call(struct aws_client *, enum aws_service svc,
	    const char *operation, const json_t *params, aws_call_fn cb,
	    void *arg);

/* Abort: the transfer in flight is closed, a credentials wait or retry
   wait dropped, and the callback does not run.  A no-op inside the
   call's own callback. */
void	aws_call_cancel(struct aws_call *);

/* "ECS", "CloudWatch Logs", "CloudWatch", "Secrets Manager", "STS";
   static. */
const char *aws_service_title(enum aws_service);

/* "ok", "config", "service", "network", "response", "internal"; static. */
const char *aws_err_name(enum aws_err);

/* Is `code` one of the standard retry mode's throttling codes
   (Throttling, ThrottlingException, TooManyRequestsException ...)? */
int	aws_code_is_throttling(const char *code);
/* ... one of its transient codes (RequestTimeout, InternalError ...)? */
int	aws_code_is_transient(const char *code);
/* ... ExpiredToken or ExpiredTokenException? */
int	aws_code_is_expired(const char *code);

/* An error answer, taken apart (see the top of this file). */
struct aws_error {
	char	code[AWS_CLIENT_MAX_CODE];	/* "" when none was named */
	char	fault[16];			/* "" when not given */
	char	message[AWS_CLIENT_MAX_TEXT];	/* "" when none */
	char	request_id[AWS_CLIENT_MAX_REQID]; /* "" when none */
};

/*
 * Parse an answer's error code, message, fault and request id into *out.
 * Every field is bounded, with control bytes replaced (a message cut at a
 * UTF-8 boundary and marked "..."); a body that is not a JSON object just
 * yields no body fields.
 */
void	aws_error_parse(const struct httpc_response *, struct aws_error *out);

/* The request id of an answer (x-amzn-RequestId, else x-amz-request-id),
   as aws_error_parse() reports it, into out; "" when none. */
void	aws_request_id(const struct httpc_response *, char *out,
	    size_t outlen);

#endif
