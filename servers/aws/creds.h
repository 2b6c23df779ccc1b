/*
 * aws/creds: the AWS credentials provider chain, asynchronous, on the
 * process's libev loop.
 *
 * Sources, tried in the order the AWS SDKs use; the first that yields
 * credentials wins:
 *  1. environment: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY
 *     (+ AWS_SESSION_TOKEN);
 *  2. web identity: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN
 *     (+ AWS_ROLE_SESSION_NAME, default "afu9-<unix time>"): an unsigned
 *     STS AssumeRoleWithWebIdentity call (Query protocol, form POST, XML
 *     answer) to the configured STS endpoint;
 *  3. shared files: the profile's aws_access_key_id,
 *     aws_secret_access_key (+ aws_session_token) from the credentials
 *     file, each key falling back to the profile's section of the config
 *     file (the files and profile named by struct aws_config).  Profiles
 *     that assume roles, run a credential_process or use SSO are reported
 *     as not supported;
 *  4. container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI against
 *     http://169.254.170.2, else AWS_CONTAINER_CREDENTIALS_FULL_URI when
 *     it is https, or http to a loopback host (127.0.0.0/8, ::1,
 *     localhost) or the ECS/EKS agent (169.254.170.2, 169.254.170.23,
 *     fd00:ec2::23).  Authorization is the contents of
 *     AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (read on each request), else
 *     AWS_CONTAINER_AUTHORIZATION_TOKEN.
 * The environment and the files are read on each resolution (so rotated
 * files and tokens are picked up), never at a get that the cache answers.
 * HTTP sources retry transport errors, 429 and 5xx (and STS throttling)
 * twice with httpc_backoff() between attempts.
 *
 * Caching: credentials are handed out from the cache while they are valid
 * for more than AWS_CREDS_REFRESH_S seconds (long-term ones forever).
 * Inside AWS_CREDS_PREFETCH_S of expiry a get still answers from the cache
 * and starts one background refresh.  Past that, callers wait for a
 * refresh; however many wait, there is one resolution in flight.  When a
 * refresh fails while the old credentials have not expired yet, waiters
 * get the old ones.
 *
 * Errors: on total failure the message lists every source and why it gave
 * nothing, e.g. "no AWS credentials: environment: AWS_ACCESS_KEY_ID not
 * set; web identity: AWS_WEB_IDENTITY_TOKEN_FILE not set; shared files:
 * /root/.aws/credentials: no such file, /root/.aws/config: no such file;
 * container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/FULL_URI not set".
 * No secret (keys, tokens, response bodies) is ever put in a message.
 * Every secret access key and session token obtained is registered with
 * redact_add_secret(); credential strings are wiped when freed.
 */
#ifndef AFU9_AWS_CREDS_H
#define AFU9_AWS_CREDS_H

#include <stddef.h>
#include <time.h>
#include <ev.h>

#include "httpc.h"
#include "aws/awsconf.h"
#include "aws/sigv4.h"

#define AWS_CREDS_REFRESH_S	300	/* refresh when expiring sooner */
#define AWS_CREDS_PREFETCH_S	900	/* background refresh window */
#define AWS_CREDS_MAX_ERR	4096	/* bound on a failure message */
#define AWS_CREDS_MAX_TOKEN_FILE (64u * 1024)	/* token files, each */
#define AWS_CREDS_MAX_RESPONSE	(256u * 1024)	/* STS / container body */
#define AWS_CREDS_TIMEOUT_MS	5000L	/* one HTTP attempt */

/* Owned by the provider; borrowed by callbacks for their duration. */
struct aws_creds {
	char		*access_key_id;
	char		*secret_access_key;
	char		*session_token;	/* NULL: long-term credentials */
	time_t		 expiration;	/* 0: does not expire */
	const char	*source;	/* static: "environment", "web identity",
					   "shared files", "container" */
};

struct aws_creds_provider;

/*
 * `creds` is NULL on failure, and then `err` says why (both borrowed,
 * valid only during the call).  Always called from the loop, never from
 * inside aws_creds_get().  The callback may call any function here,
 * including aws_creds_free().
 */
typedef void (*aws_creds_fn)(const struct aws_creds *creds, const char *err,
	    void *arg);

/*
 * A provider on `loop` making its HTTP requests through `http` (both
 * borrowed: they must outlive the provider).  The profile, file paths and
 * STS endpoint are copied from cfg.  NULL on ENOMEM.
 */
struct aws_creds_provider *aws_creds_new(struct ev_loop *loop,
	    struct httpc *http, const struct aws_config *cfg);

/*
 * Drop everything: the request in flight is cancelled and waiting
 * callbacks are not called.  Safe inside a callback.  NULL is fine.
 */
void	aws_creds_free(struct aws_creds_provider *);

/*
 * Ask for credentials: cb(creds, NULL, arg) or cb(NULL, err, arg) runs
 * exactly once, from the loop, unless cancelled.  0, or -1 on ENOMEM (no
 * callback).
 */
int	aws_creds_get(struct aws_creds_provider *, aws_creds_fn cb, void *arg);

/* Withdraw every pending get with this cb and arg; they are not called. */
void	aws_creds_cancel(struct aws_creds_provider *, aws_creds_fn cb,
	    void *arg);

/*
 * Forget the cached credentials (a service said they are expired or
 * invalid): the next get resolves afresh.
 */
void	aws_creds_invalidate(struct aws_creds_provider *);

/* The signer's view of creds (pointers borrowed from creds). */
void	aws_creds_sigv4(const struct aws_creds *creds,
	    struct aws_sigv4_creds *out);

/*
 * Use `base` ("http://host:port", copied) instead of http://169.254.170.2
 * in front of AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: for tests and
 * local ECS endpoint emulators.  0, or -1 (ENOMEM, or not an endpoint
 * aws_endpoint_check() accepts).
 */
int	aws_creds_set_container_base(struct aws_creds_provider *,
	    const char *base);

/*
 * The wall clock expirations are compared with: time() by default, NULL
 * restores it.  For tests.
 */
void	aws_creds_set_clock(struct aws_creds_provider *, time_t (*clock)(void));

/*
 * May AWS_CONTAINER_CREDENTIALS_FULL_URI `uri` be used (see above)?  1
 * yes; 0 no, with the reason in err (which names the host, never the
 * path or query).
 */
int	aws_creds_full_uri_allowed(const char *uri, char *err, size_t errlen);

#endif
