/*
 * redact: keeps secrets out of logs, errors and database rows.
 *
 * Two rules:
 *  - values under sensitive keys (case-insensitive match of: token,
 *    password, passwd, secret, authorization, api_key/apikey, credential,
 *    private_key, cookie, session_token, access_key — as the whole key or a
 *    part of it such as "githubToken", "x-api-key", "AWS_SECRET_ACCESS_KEY")
 *    are replaced by "[REDACTED]";
 *  - every registered secret value (>= 4 bytes) found inside any string is
 *    replaced by "[REDACTED]".
 * The registry is process-global and append-only; typical callers register
 * GITHUB_TOKEN, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN at start.
 */
#ifndef AFU9_REDACT_H
#define AFU9_REDACT_H

#include <stddef.h>
#include <jansson.h>

#define REDACTED "[REDACTED]"

/* Register a secret value; copies it.  0, or -1 if too short / ENOMEM. */
int	 redact_add_secret(const char *value);
/*
 * Register a secret that is replaced over time (temporary AWS credentials,
 * refreshed tokens).  These live in a separate registry of 192: when it is
 * full the oldest rotating secret is forgotten, so a long-running process
 * never runs out of room; pinned secrets (above, 64) are never evicted.
 */
int	 redact_add_rotating_secret(const char *value);
/* Forget every registered secret (tests). */
void	 redact_clear(void);
/* Non-zero if a key names something secret. */
int	 redact_is_sensitive_key(const char *key);
/* New malloc'd copy of s with secrets replaced; NULL on ENOMEM. */
char	*redact_str(const char *s);
/*
 * Non-zero if redact_str() would change s[0..len): it holds a registered
 * secret or a token shape.  Allocates nothing.
 */
int	 redact_would_change(const char *s, size_t len);
/* Non-zero if s contains any registered secret. */
int	 redact_contains_secret(const char *s, size_t len);
/* New reference: a deep copy with both rules applied; NULL on ENOMEM. */
json_t	*redact_json(const json_t *v);
/*
 * Zero the bytes of s, a malloc'd string that held a secret, then free
 * it, so the secret does not linger in freed memory.  NULL is a no-op.
 */
void	 redact_wipe_free(char *s);

#endif
