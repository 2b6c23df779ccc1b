#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "log.h"
#include "redact.h"
#include "aws/awsconf.h"

struct ini_ent {
	size_t	 sect;		/* index into sects */
	char	*key;
	char	*val;
};

struct aws_ini {
	char		**sects;
	size_t		  nsects, capsects;
	struct ini_ent	 *ents;
	size_t		  nents, capents;
};

/* Parser state for one file. */
struct ini_parse {
	struct aws_ini	*ini;
	const char	*name;
	size_t		 lineno;
	int		 have_sect;
	int		 in_block;	/* after "key =": sub-properties follow */
	char		*err;
	size_t		 errlen;
};

static const struct {
	const char	*name;		/* signing name */
	const char	*prefix;	/* host prefix */
	const char	*env;		/* AWS_ENDPOINT_URL_ suffix */
} services[AWS_SVC_COUNT] = {
	[AWS_SVC_ECS] =			{ "ecs", "ecs", "ECS" },
	[AWS_SVC_LOGS] =		{ "logs", "logs", "CLOUDWATCH_LOGS" },
	[AWS_SVC_MONITORING] =		{ "monitoring", "monitoring",
					  "CLOUDWATCH" },
	[AWS_SVC_SECRETSMANAGER] =	{ "secretsmanager", "secretsmanager",
					  "SECRETS_MANAGER" },
	[AWS_SVC_STS] =			{ "sts", "sts", "STS" },
};

static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

const char *
aws_getenv(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

const char *
aws_service_name(enum aws_service svc)
{
	return (unsigned)svc < AWS_SVC_COUNT ? services[svc].name : NULL;
}

const char *
aws_service_env_id(enum aws_service svc)
{
	return (unsigned)svc < AWS_SVC_COUNT ? services[svc].env : NULL;
}

/* ---- shared-file parser ---- */

void
aws_ini_free(struct aws_ini *ini)
{
	size_t i;

	if (ini == NULL)
		return;
	for (i = 0; i < ini->nents; i++) {
		redact_wipe_free(ini->ents[i].key);
		redact_wipe_free(ini->ents[i].val);
	}
	for (i = 0; i < ini->nsects; i++)
		free(ini->sects[i]);
	free(ini->ents);
	free(ini->sects);
	free(ini);
}

/* Make room for one more element of size sz in *arr.  0 or -1 (ENOMEM). */
static int
grow(void **arr, size_t n, size_t *cap, size_t sz)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	if ((p = reallocarray(*arr, ncap, sz)) == NULL)
		return -1;
	*arr = p;
	*cap = ncap;
	return 0;
}

/* p[0..n) trimmed of blanks on both ends: adjusts *p and returns the length. */
static size_t
trim(const char **p, size_t n)
{
	while (n > 0 && is_blank(**p)) {
		(*p)++;
		n--;
	}
	while (n > 0 && is_blank((*p)[n - 1]))
		n--;
	return n;
}

static void perr(struct ini_parse *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/* Error "NAME: line N: message". */
static void
perr(struct ini_parse *ps, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	errfmt(ps->err, ps->errlen, "%s: line %zu: %s", ps->name, ps->lineno,
	    msg);
}

/*
 * Make section s (malloc'd; taken over, also on failure) the current
 * one: the last of ini->sects, since entries name their section by
 * index.  A repeated section moves to the end.  0 or -1 (ENOMEM).
 */
static int
sect_select(struct aws_ini *ini, char *s)
{
	size_t i, e;

	for (i = 0; i < ini->nsects; i++)
		if (strcmp(ini->sects[i], s) == 0)
			break;
	if (i == ini->nsects) {
		if (grow((void **)&ini->sects, ini->nsects, &ini->capsects,
		    sizeof(*ini->sects)) == -1) {
			free(s);
			return -1;
		}
		ini->sects[ini->nsects++] = s;
		return 0;
	}
	free(s);
	s = ini->sects[i];
	memmove(&ini->sects[i], &ini->sects[i + 1],
	    (ini->nsects - i - 1) * sizeof(*ini->sects));
	ini->sects[ini->nsects - 1] = s;
	for (e = 0; e < ini->nents; e++) {
		if (ini->ents[e].sect == i)
			ini->ents[e].sect = ini->nsects - 1;
		else if (ini->ents[e].sect > i)
			ini->ents[e].sect--;
	}
	return 0;
}

/* Section header line (starts with '[').  0 or -1 with the error set. */
static int
parse_section(struct ini_parse *ps, const char *p, size_t n)
{
	const char *close = memchr(p, ']', n), *name, *rest;
	size_t nlen, rlen, i, o;
	char *s;

	if (close == NULL) {
		perr(ps, "section header without ']'");
		return -1;
	}
	rest = close + 1;
	rlen = trim(&rest, n - (size_t)(rest - p));
	if (rlen > 0 && *rest != '#' && *rest != ';') {
		perr(ps, "unexpected text after section header");
		return -1;
	}
	name = p + 1;
	if ((nlen = trim(&name, (size_t)(close - name))) == 0) {
		perr(ps, "empty section name");
		return -1;
	}
	if (memchr(name, '[', nlen) != NULL) {
		perr(ps, "'[' inside a section name");
		return -1;
	}
	if ((s = malloc(nlen + 1)) == NULL) {
		perr(ps, "out of memory");
		return -1;
	}
	/* runs of blanks become one space; name[0] is not blank */
	for (i = o = 0; i < nlen; i++) {
		if (is_blank(name[i]) && is_blank(s[o - 1]))
			continue;
		s[o++] = is_blank(name[i]) ? ' ' : name[i];
	}
	s[o] = '\0';
	if (sect_select(ps->ini, s) == -1) {
		perr(ps, "out of memory");
		return -1;
	}
	ps->have_sect = 1;
	ps->in_block = 0;
	return 0;
}

/* Length of v[0..n) without a trailing comment (' #' or ' ;'), trimmed. */
static size_t
strip_comment(const char *v, size_t n)
{
	size_t i;

	for (i = 1; i < n; i++)
		if ((v[i] == '#' || v[i] == ';') && is_blank(v[i - 1])) {
			n = i;
			break;
		}
	while (n > 0 && is_blank(v[n - 1]))
		n--;
	return n;
}

/* "key = value" line.  0 or -1 with the error set. */
static int
parse_property(struct ini_parse *ps, const char *p, size_t n)
{
	struct aws_ini *ini = ps->ini;
	const char *eq = memchr(p, '=', n), *key, *val;
	struct ini_ent *e;
	size_t klen, vlen, i;

	if (eq == NULL) {
		perr(ps, "expected '[section]' or 'key = value'");
		return -1;
	}
	if (!ps->have_sect) {
		perr(ps, "property before the first section");
		return -1;
	}
	key = p;
	if ((klen = trim(&key, (size_t)(eq - p))) == 0) {
		perr(ps, "empty key");
		return -1;
	}
	for (i = 0; i < klen; i++)
		if (is_blank(key[i])) {
			perr(ps, "blank inside a key");
			return -1;
		}
	val = eq + 1;
	vlen = trim(&val, n - (size_t)(val - p));
	vlen = strip_comment(val, vlen);
	if (grow((void **)&ini->ents, ini->nents, &ini->capents,
	    sizeof(*ini->ents)) == -1) {
		perr(ps, "out of memory");
		return -1;
	}
	e = &ini->ents[ini->nents];
	e->sect = ini->nsects - 1;
	e->key = strndup(key, klen);
	e->val = strndup(val, vlen);
	if (e->key == NULL || e->val == NULL) {
		redact_wipe_free(e->key);
		redact_wipe_free(e->val);
		perr(ps, "out of memory");
		return -1;
	}
	ini->nents++;
	ps->in_block = vlen == 0;
	return 0;
}

/* One line p[0..n) without its line end.  0 or -1 with the error set. */
static int
parse_line(struct ini_parse *ps, const char *p, size_t n)
{
	const char *t = p;
	size_t tn;

	if (n > AWS_INI_MAX_LINE) {
		perr(ps, "line longer than %u bytes", AWS_INI_MAX_LINE);
		return -1;
	}
	if ((tn = trim(&t, n)) == 0 || *t == '#' || *t == ';')
		return 0;
	if (is_blank(*p)) {
		/* a sub-property of "key =" (e.g. "s3 =" blocks) */
		if (!ps->in_block) {
			perr(ps, "indented line outside a 'key =' block");
			return -1;
		}
		if (memchr(t, '=', tn) == NULL) {
			perr(ps, "expected 'key = value' in a sub-property "
			    "block");
			return -1;
		}
		return 0;
	}
	if (*t == '[')
		return parse_section(ps, t, tn);
	return parse_property(ps, t, tn);
}

int
aws_ini_parse(const char *name, const char *text, size_t len,
    struct aws_ini **out, char *err, size_t errlen)
{
	struct ini_parse ps;
	const char *p = text, *end = text + len, *nl;
	size_t n;

	*out = NULL;
	if (len > AWS_INI_MAX_FILE) {
		errfmt(err, errlen, "%s: larger than %u bytes", name,
		    AWS_INI_MAX_FILE);
		return -1;
	}
	if (memchr(text, '\0', len) != NULL) {
		errfmt(err, errlen, "%s: contains a NUL byte", name);
		return -1;
	}
	memset(&ps, 0, sizeof(ps));
	ps.name = name;
	ps.err = err;
	ps.errlen = errlen;
	if ((ps.ini = calloc(1, sizeof(*ps.ini))) == NULL) {
		errfmt(err, errlen, "%s: out of memory", name);
		return -1;
	}
	while (p < end) {
		ps.lineno++;
		nl = memchr(p, '\n', (size_t)(end - p));
		n = (nl != NULL ? nl : end) - p;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (parse_line(&ps, p, n) == -1) {
			aws_ini_free(ps.ini);
			return -1;
		}
		p = nl != NULL ? nl + 1 : end;
	}
	*out = ps.ini;
	return 0;
}

/* Opened non-blocking so a FIFO cannot stall the caller. */
int
aws_read_file(const char *path, size_t max, char **out, size_t *outlen,
    char *err, size_t errlen)
{
	struct stat st;
	size_t len = 0;
	ssize_t r;
	char *b;
	int fd;

	*out = NULL;
	*outlen = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		if (errno == ENOENT)
			return 1;
		errfmt(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		errfmt(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		errfmt(err, errlen, "%s: %s", path, S_ISDIR(st.st_mode) ?
		    "is a directory" : "not a regular file");
		close(fd);
		return -1;
	}
	if ((b = malloc(max + 1)) == NULL) {
		errfmt(err, errlen, "%s: out of memory", path);
		close(fd);
		return -1;
	}
	while (len <= max && (r = read(fd, b + len, max + 1 - len)) != 0) {
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			errfmt(err, errlen, "%s: %s", path, strerror(errno));
			goto fail;
		}
		len += (size_t)r;
	}
	if (len > max) {
		errfmt(err, errlen, "%s: larger than %zu bytes", path, max);
		goto fail;
	}
	close(fd);
	b[len] = '\0';
	*out = b;
	*outlen = len;
	return 0;
fail:
	sodium_memzero(b, len);
	free(b);
	close(fd);
	return -1;
}

int
aws_ini_load(const char *path, struct aws_ini **out, char *err,
    size_t errlen)
{
	size_t len;
	char *text;
	int rc;

	*out = NULL;
	if ((rc = aws_read_file(path, AWS_INI_MAX_FILE, &text, &len, err,
	    errlen)) != 0)
		return rc;
	rc = aws_ini_parse(path, text, len, out, err, errlen);
	sodium_memzero(text, len);
	free(text);
	return rc;
}

static ssize_t
find_sect(const struct aws_ini *ini, const char *section)
{
	size_t i;

	for (i = 0; ini != NULL && i < ini->nsects; i++)
		if (strcmp(ini->sects[i], section) == 0)
			return (ssize_t)i;
	return -1;
}

int
aws_ini_has_section(const struct aws_ini *ini, const char *section)
{
	return find_sect(ini, section) >= 0;
}

const char *
aws_ini_get(const struct aws_ini *ini, const char *section, const char *key)
{
	ssize_t s = find_sect(ini, section);
	size_t i;

	if (s < 0)
		return NULL;
	for (i = ini->nents; i > 0; i--)
		if (ini->ents[i - 1].sect == (size_t)s &&
		    strcasecmp(ini->ents[i - 1].key, key) == 0)
			return ini->ents[i - 1].val;
	return NULL;
}

const char *
aws_config_section(const struct aws_ini *ini, const char *profile, char *out,
    size_t outlen)
{
	int n;

	if (strcmp(profile, "default") == 0 &&
	    !aws_ini_has_section(ini, "profile default"))
		n = snprintf(out, outlen, "default");
	else
		n = snprintf(out, outlen, "profile %s", profile);
	return n >= 0 && (size_t)n < outlen ? out : NULL;
}

/* ---- region and endpoints ---- */

int
aws_region_valid(const char *r)
{
	size_t i, n = strnlen(r, AWS_MAX_REGION + 1);

	if (n == 0 || n > AWS_MAX_REGION || !(r[0] >= 'a' && r[0] <= 'z') ||
	    r[n - 1] == '-')
		return 0;
	for (i = 0; i < n; i++) {
		if ((r[i] >= 'a' && r[i] <= 'z') || (r[i] >= '0' && r[i] <= '9'))
			continue;
		if (r[i] != '-' || r[i + 1] == '-')
			return 0;
	}
	return 1;
}

/* DNS suffix of the partition `region` is in. */
static const char *
dns_suffix(const char *region)
{
	if (strncmp(region, "cn-", 3) == 0)
		return "amazonaws.com.cn";
	if (strncmp(region, "us-isob-", 8) == 0)
		return "sc2s.sgov.gov";
	if (strncmp(region, "us-iso-", 7) == 0)
		return "c2s.ic.gov";
	return "amazonaws.com";
}

int
aws_endpoint_for_region(enum aws_service svc, const char *region, char *out,
    size_t outlen)
{
	int n;

	if ((unsigned)svc >= AWS_SVC_COUNT || region == NULL ||
	    !aws_region_valid(region))
		return -1;
	n = snprintf(out, outlen, "https://%s.%s.%s", services[svc].prefix,
	    region, dns_suffix(region));
	return n >= 0 && (size_t)n < outlen ? 0 : -1;
}

int
aws_endpoint_check(const char *url, char *err, size_t errlen)
{
	size_t n = strnlen(url, AWS_MAX_ENDPOINT + 1), skip, i, alen;

	if (n > AWS_MAX_ENDPOINT) {
		errfmt(err, errlen, "longer than %u bytes", AWS_MAX_ENDPOINT);
		return -1;
	}
	if (strncasecmp(url, "https://", 8) == 0)
		skip = 8;
	else if (strncasecmp(url, "http://", 7) == 0)
		skip = 7;
	else {
		errfmt(err, errlen, "not an http:// or https:// URL");
		return -1;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)url[i];

		if (c <= 0x20 || c == 0x7f || c == '?' || c == '#') {
			errfmt(err, errlen, "contains whitespace, a control "
			    "byte, a query or a fragment");
			return -1;
		}
	}
	alen = strcspn(url + skip, "/");
	if (alen == 0 || url[skip] == ':') {
		errfmt(err, errlen, "has no host");
		return -1;
	}
	if (memchr(url + skip, '@', alen) != NULL) {
		errfmt(err, errlen, "has user information");
		return -1;
	}
	return 0;
}

/*
 * A copy of an endpoint URL without trailing '/' (callers append paths
 * that start with '/').  NULL on ENOMEM.
 */
static char *
endpoint_dup(const char *url)
{
	size_t n = strlen(url);

	while (n > 0 && url[n - 1] == '/')
		n--;
	return strndup(url, n);
}

/*
 * The home directory: $HOME, else the password database.  NULL when
 * neither has one.
 */
static const char *
home_dir(void)
{
	const char *h = aws_getenv("HOME");
	struct passwd *pw;

	if (h != NULL)
		return h;
	if ((pw = getpwuid(getuid())) != NULL && pw->pw_dir != NULL &&
	    pw->pw_dir[0] != '\0')
		return pw->pw_dir;
	return NULL;
}

/*
 * The path of a shared file into *out (malloc'd): the variable's value
 * with a leading "~" expanded, else HOME/.aws/NAME.  0 or -1 with err.
 */
static int
shared_path(const char *var, const char *name, char **out, char *err,
    size_t errlen)
{
	const char *v = aws_getenv(var), *home = NULL;
	int n;

	*out = NULL;
	if (v == NULL || v[0] == '~') {
		if ((home = home_dir()) == NULL) {
			errfmt(err, errlen, "no home directory to find the "
			    "AWS shared files in: set HOME or %s", var);
			return -1;
		}
	}
	if (v == NULL)
		n = asprintf(out, "%s/.aws/%s", home, name);
	else if (v[0] == '~' && (v[1] == '/' || v[1] == '\0'))
		n = asprintf(out, "%s%s", home, v + 1);
	else
		n = asprintf(out, "%s", v);
	if (n < 0) {
		*out = NULL;
		errfmt(err, errlen, "out of memory");
		return -1;
	}
	if ((size_t)n > AWS_MAX_PATH) {
		free(*out);
		*out = NULL;
		errfmt(err, errlen, "%s: path longer than %u bytes", var,
		    AWS_MAX_PATH);
		return -1;
	}
	return 0;
}

/* Profile name from AWS_PROFILE.  0 or -1 with err. */
static int
load_profile(struct aws_config *cfg, char *err, size_t errlen)
{
	const char *v = aws_getenv("AWS_PROFILE");
	size_t i;

	if (v == NULL)
		v = "default";
	if (strnlen(v, AWS_MAX_PROFILE + 1) > AWS_MAX_PROFILE) {
		errfmt(err, errlen, "AWS_PROFILE: longer than %u bytes",
		    AWS_MAX_PROFILE);
		return -1;
	}
	for (i = 0; v[i] != '\0'; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f ||
		    v[i] == '[' || v[i] == ']') {
			errfmt(err, errlen, "AWS_PROFILE: contains a control "
			    "byte or a bracket");
			return -1;
		}
	if ((cfg->profile = strdup(v)) == NULL) {
		errfmt(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* The profile's region from the config file, when there is one. */
static int
region_from_file(struct aws_config *cfg, char *err, size_t errlen)
{
	struct aws_ini *ini;
	char sect[AWS_MAX_PROFILE + 16];
	const char *r;
	int rc;

	if ((rc = aws_ini_load(cfg->config_file, &ini, err, errlen)) != 0)
		return rc == 1 ? 0 : -1;
	if (aws_config_section(ini, cfg->profile, sect, sizeof(sect)) ==
	    NULL || (r = aws_ini_get(ini, sect, "region")) == NULL ||
	    *r == '\0') {
		aws_ini_free(ini);
		return 0;
	}
	if (!aws_region_valid(r)) {
		errfmt(err, errlen, "%s: [%s] region: not a valid region name",
		    cfg->config_file, sect);
		aws_ini_free(ini);
		return -1;
	}
	rc = (cfg->region = strdup(r)) == NULL ? -1 : 0;
	if (rc == -1)
		errfmt(err, errlen, "out of memory");
	else
		cfg->region_source = "profile";
	aws_ini_free(ini);
	return rc;
}

static int
load_region(struct aws_config *cfg, char *err, size_t errlen)
{
	static const char *const vars[] = { "AWS_REGION", "AWS_DEFAULT_REGION" };
	const char *v;
	size_t i;

	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		if ((v = aws_getenv(vars[i])) == NULL)
			continue;
		if (!aws_region_valid(v)) {
			errfmt(err, errlen, "%s: not a valid region name",
			    vars[i]);
			return -1;
		}
		if ((cfg->region = strdup(v)) == NULL) {
			errfmt(err, errlen, "out of memory");
			return -1;
		}
		cfg->region_source = vars[i];
		return 0;
	}
	return region_from_file(cfg, err, errlen);
}

/* The override variable for svc, or NULL; *var names it. */
static const char *
endpoint_override(enum aws_service svc, char *var, size_t varlen)
{
	const char *v, *ign = aws_getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");

	if (ign != NULL && strcasecmp(ign, "true") == 0)
		return NULL;
	snprintf(var, varlen, "AWS_ENDPOINT_URL_%s", services[svc].env);
	if ((v = aws_getenv(var)) != NULL)
		return v;
	snprintf(var, varlen, "AWS_ENDPOINT_URL");
	return aws_getenv(var);
}

static int
load_endpoints(struct aws_config *cfg, char *err, size_t errlen)
{
	char var[64], why[128], url[AWS_MAX_ENDPOINT];
	const char *v;
	unsigned s;

	for (s = 0; s < AWS_SVC_COUNT; s++) {
		if ((v = endpoint_override(s, var, sizeof(var))) != NULL) {
			if (aws_endpoint_check(v, why, sizeof(why)) == -1) {
				errfmt(err, errlen, "%s: %s", var, why);
				return -1;
			}
		} else if (cfg->region != NULL) {
			if (aws_endpoint_for_region(s, cfg->region, url,
			    sizeof(url)) == -1) {
				errfmt(err, errlen, "region too long");
				return -1;
			}
			v = url;
		} else if (s == AWS_SVC_STS)
			v = "https://sts.amazonaws.com";
		else
			continue;
		if ((cfg->endpoint[s] = endpoint_dup(v)) == NULL) {
			errfmt(err, errlen, "out of memory");
			return -1;
		}
	}
	return 0;
}

int
aws_config_load(struct aws_config *cfg, char *err, size_t errlen)
{
	memset(cfg, 0, sizeof(*cfg));
	if (load_profile(cfg, err, errlen) == -1 ||
	    shared_path("AWS_CONFIG_FILE", "config", &cfg->config_file, err,
	    errlen) == -1 ||
	    shared_path("AWS_SHARED_CREDENTIALS_FILE", "credentials",
	    &cfg->credentials_file, err, errlen) == -1 ||
	    load_region(cfg, err, errlen) == -1 ||
	    load_endpoints(cfg, err, errlen) == -1) {
		aws_config_free(cfg);
		return -1;
	}
	return 0;
}

void
aws_config_free(struct aws_config *cfg)
{
	unsigned s;

	free(cfg->profile);
	free(cfg->config_file);
	free(cfg->credentials_file);
	free(cfg->region);
	for (s = 0; s < AWS_SVC_COUNT; s++)
		free(cfg->endpoint[s]);
	memset(cfg, 0, sizeof(*cfg));
}

const char *
aws_config_endpoint(const struct aws_config *cfg, enum aws_service svc,
    char *err, size_t errlen)
{
	if ((unsigned)svc >= AWS_SVC_COUNT) {
		errfmt(err, errlen, "unknown AWS service");
		return NULL;
	}
	if (cfg->endpoint[svc] == NULL)
		errfmt(err, errlen, "no AWS region for %s: set AWS_REGION, or "
		    "region in profile %s of %s, or AWS_ENDPOINT_URL_%s",
		    services[svc].name, cfg->profile ? cfg->profile : "default",
		    cfg->config_file ? cfg->config_file : "~/.aws/config",
		    services[svc].env);
	return cfg->endpoint[svc];
}
