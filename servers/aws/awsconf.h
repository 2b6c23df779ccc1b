/*
 * aws/config: where AWS requests go.  Region, per-service endpoint and the
 * shared configuration files, resolved the way the AWS SDKs do.
 *
 * Region, first found wins:
 *   AWS_REGION, AWS_DEFAULT_REGION, then "region" in the profile's
 *   section of the shared config file (AWS_CONFIG_FILE, default
 *   ~/.aws/config).  The profile is AWS_PROFILE, default "default"; in the
 *   config file its section is "[profile NAME]", and for "default" also
 *   plain "[default]" ("[profile default]" wins when both exist).
 *
 * Endpoint of a service, first found wins:
 *   AWS_ENDPOINT_URL_<SERVICE> (ECS, CLOUDWATCH_LOGS, CLOUDWATCH,
 *   SECRETS_MANAGER, STS), then AWS_ENDPOINT_URL, both ignored when
 *   AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is "true"; else
 *   https://PREFIX.REGION.DNS-SUFFIX (prefix ecs, logs, monitoring,
 *   secretsmanager, sts; suffix amazonaws.com, amazonaws.com.cn for cn-*,
 *   c2s.ic.gov for us-iso-*, sc2s.sgov.gov for us-isob-*).  STS without a
 *   region uses the global https://sts.amazonaws.com.
 *
 * An environment variable set to the empty string counts as unset.  The
 * environment and files are read once, by aws_config_load(); the result
 * is a plain snapshot.
 *
 * The shared-file parser (aws_ini_*) is strict and bounded: a file of at
 * most AWS_INI_MAX_FILE bytes, lines of at most AWS_INI_MAX_LINE bytes,
 * no NUL bytes.  Lines are "[section]", "key = value", blank, or comments
 * starting with '#' or ';'.  After a section header, and after a value
 * when preceded by a space or tab, '#' or ';' starts a comment.  An
 * indented line after "key =" is a sub-property (the AWS "s3 =" blocks):
 * accepted and not interpreted.  Anything else, a property before the
 * first section, or an empty section name or key, is an error that names
 * the file and line.  Duplicate sections merge; the last value of a
 * repeated key wins.  Values may be secrets: the parser wipes every copy
 * it made when freed.
 */
#ifndef AFU9_AWS_CONFIG_H
#define AFU9_AWS_CONFIG_H

#include <stddef.h>

#define AWS_INI_MAX_FILE	(1024u * 1024)
#define AWS_INI_MAX_LINE	20480u
#define AWS_MAX_REGION		64u	/* [a-z0-9-], starts with a letter */
#define AWS_MAX_PROFILE		128u
#define AWS_MAX_ENDPOINT	2048u	/* an endpoint URL */
#define AWS_MAX_PATH		4096u	/* a shared file's path */

enum aws_service {
	AWS_SVC_ECS = 0,
	AWS_SVC_LOGS,		/* CloudWatch Logs */
	AWS_SVC_MONITORING,	/* CloudWatch */
	AWS_SVC_SECRETSMANAGER,
	AWS_SVC_STS,
	AWS_SVC_COUNT
};

/*
 * A resolved configuration.  Every string is owned by the struct and freed
 * by aws_config_free().
 */
struct aws_config {
	char		*profile;		/* never NULL */
	char		*config_file;		/* never NULL */
	char		*credentials_file;	/* never NULL */
	char		*region;		/* NULL: none configured */
	const char	*region_source;		/* static: "AWS_REGION",
						   "AWS_DEFAULT_REGION",
						   "profile", or NULL */
	/* NULL for a service with no override when there is no region */
	char		*endpoint[AWS_SVC_COUNT];
};

/*
 * Read the environment and, when the environment names no region, the
 * profile's region from the shared config file.  Returns 0 and fills *cfg
 * (free with aws_config_free(); no region is not an error, see
 * aws_config_endpoint()).  Returns -1 with a message in err (at most
 * errlen bytes, NUL-terminated) on: an invalid region or endpoint URL in
 * the environment or the file, a malformed or unreadable config file (a
 * missing one is fine), a bound crossed, no home directory to find the
 * default files in, or out of memory.  *cfg is then empty (freeing it is
 * safe).
 */
int	aws_config_load(struct aws_config *cfg, char *err, size_t errlen);

/* Free what cfg holds and zero it; safe on a zeroed or freed struct. */
void	aws_config_free(struct aws_config *cfg);

/*
 * The endpoint URL of `svc` (borrowed from cfg), or NULL with a message
 * in err saying which variables to set when neither an override nor a
 * region is known.
 */
const char *aws_config_endpoint(const struct aws_config *cfg,
	    enum aws_service svc, char *err, size_t errlen);

/* The SigV4 signing name ("ecs", "logs", "monitoring", "secretsmanager",
   "sts"); static. */
const char *aws_service_name(enum aws_service svc);
/* The AWS_ENDPOINT_URL_ suffix ("ECS", "CLOUDWATCH_LOGS" ...); static. */
const char *aws_service_env_id(enum aws_service svc);

/* getenv(name), with a variable set to "" counted as unset (NULL). */
const char *aws_getenv(const char *name);

/*
 * The default endpoint of `svc` in `region` into out: 0, or -1 when the
 * region is not valid or out is too small.
 */
int	aws_endpoint_for_region(enum aws_service svc, const char *region,
	    char *out, size_t outlen);

/*
 * Is `region` a valid region name (1..AWS_MAX_REGION of [a-z0-9-],
 * starting with a letter, no "--", not ending in '-')?  It ends up in a
 * host name, so nothing else is let through.
 */
int	aws_region_valid(const char *region);

/*
 * Check an endpoint URL: http:// or https://, a host, at most
 * AWS_MAX_ENDPOINT bytes, no whitespace, control bytes, userinfo, query or
 * fragment.  0, or -1 with the reason in err.
 */
int	aws_endpoint_check(const char *url, char *err, size_t errlen);

/*
 * Read the whole regular file at `path`, at most `max` bytes, into a new
 * NUL-terminated buffer in *out (length in *outlen; the caller wipes and
 * frees it: it may hold secrets).  0; 1 when the file does not exist
 * (nothing in err); -1 with "PATH: reason" in err (unreadable, not a
 * regular file, larger than max, ENOMEM).  Never blocks on a FIFO.
 */
int	aws_read_file(const char *path, size_t max, char **out, size_t *outlen,
	    char *err, size_t errlen);

/* One parsed shared file. */
struct aws_ini;

/*
 * Parse the file at `path`.  Returns 0 with *out set (free with
 * aws_ini_free()); 1 when the file does not exist (*out NULL, nothing in
 * err); -1 with *out NULL and "PATH: reason" (or "PATH: line N: reason")
 * in err when it cannot be read, crosses a bound, or is malformed.
 */
int	aws_ini_load(const char *path, struct aws_ini **out, char *err,
	    size_t errlen);

/*
 * Parse text[0..len) as a shared file named `name` (used in messages).
 * Same results as aws_ini_load() except there is no 1.
 */
int	aws_ini_parse(const char *name, const char *text, size_t len,
	    struct aws_ini **out, char *err, size_t errlen);

/* Wipes every value and frees; NULL is fine. */
void	aws_ini_free(struct aws_ini *);

/*
 * Value of `key` in `section` (names as written inside the brackets,
 * surrounding blanks removed, inner runs of blanks kept as one space:
 * "profile dev"), borrowed; NULL when absent.
 */
const char *aws_ini_get(const struct aws_ini *, const char *section,
	    const char *key);
/* Non-zero when the section exists (even empty). */
int	aws_ini_has_section(const struct aws_ini *, const char *section);

/*
 * The config-file section of `profile`: "profile NAME", except for
 * "default": "profile default" when that section exists, else "default".
 * Writes the name into out (outlen bytes) and returns out, or NULL when
 * out is too small.  ini may be NULL (no file).
 */
const char *aws_config_section(const struct aws_ini *ini, const char *profile,
	    char *out, size_t outlen);

#endif
