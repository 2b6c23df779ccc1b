#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "httpc.h"
#include "redact.h"
#include "aws/awsconf.h"
#include "aws/creds.h"
#include "testutil.h"

/* Values that must never show up in an error message. */
#define AKID		"AKIDEXAMPLE0000001"
#define SECRET		"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SECRET2		"SECOND/K7MDENG+bPxRfiCYEXAMPLEKEY2222"
#define STOKEN		"IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN+/=="
#define AUTH_TOKEN	"Basic-auth-token-for-the-agent-0123"
#define JWT		"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJl"

static const char *const aws_vars[] = {
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_CONFIG_FILE",
	"AWS_SHARED_CREDENTIALS_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
	"AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_ENDPOINT_URL",
	"AWS_ENDPOINT_URL_ECS", "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
	"AWS_ENDPOINT_URL_CLOUDWATCH", "AWS_ENDPOINT_URL_SECRETS_MANAGER",
	"AWS_ENDPOINT_URL_STS", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
};

/* Per-test state (set up by the fixture). */
static char		 tmpdir[256];
static struct ev_loop	*loop;
static struct httpc	*http;
static struct aws_config cfg;
static int		 have_cfg;

/* ---- files and environment ---- */

static const char *
tpath(const char *name)
{
	static char slots[4][512];
	static int next;
	char *p = slots[next++ % 4];

	snprintf(p, sizeof(slots[0]), "%s/%s", tmpdir, name);
	return p;
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(fwrite(text, 1, strlen(text), f), strlen(text));
	ck_assert_int_eq(fclose(f), 0);
}

static int
rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
setup(void)
{
	size_t i;

	for (i = 0; i < sizeof(aws_vars) / sizeof(aws_vars[0]); i++)
		unsetenv(aws_vars[i]);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/awscreds.XXXXXX");
	ck_assert(mkdtemp(tmpdir) != NULL);
	setenv("HOME", tmpdir, 1);
	ck_assert_int_eq(mkdir(tpath(".aws"), 0700), 0);
	loop = ev_loop_new(EVFLAG_AUTO);
	ck_assert(loop != NULL);
	http = httpc_new(loop, NULL);
	ck_assert(http != NULL);
	have_cfg = 0;
}

static void
teardown(void)
{
	if (have_cfg)
		aws_config_free(&cfg);
	have_cfg = 0;
	httpc_free(http);
	ev_loop_destroy(loop);
	nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	redact_clear();
}

/* Load the configuration from the environment; the test fails on error. */
static void
load_cfg(void)
{
	char err[512];

	if (have_cfg)
		aws_config_free(&cfg);
	ck_assert_msg(aws_config_load(&cfg, err, sizeof(err)) == 0, "%s", err);
	have_cfg = 1;
}

/* aws_config_load() must fail; returns its message (static). */
static const char *
load_cfg_fails(void)
{
	static char err[512];
	struct aws_config c;

	ck_assert_int_eq(aws_config_load(&c, err, sizeof(err)), -1);
	ck_assert_ptr_null(c.profile);
	aws_config_free(&c);
	return err;
}

/* ---- a forked HTTP server on 127.0.0.1 ---- */

struct fresp {
	int		 status;	/* 0: close without answering */
	char		 body[2048];
};

struct fsrv {
	pid_t	 pid;
	int	 port;
	int	 ctl;		/* closing it makes the child exit */
	char	 log[512];	/* every request, raw, as received */
};

/* Read one request (head and Content-Length body) from c into b. */
static size_t
read_request(int c, char *b, size_t max)
{
	struct pollfd pf = { c, POLLIN, 0 };
	size_t len = 0, need = 0;
	const char *end, *cl;
	ssize_t r;

	while (len < max - 1 && (need == 0 || len < need)) {
		if (poll(&pf, 1, 5000) <= 0)
			break;
		if ((r = read(c, b + len, max - 1 - len)) <= 0)
			break;
		len += (size_t)r;
		b[len] = '\0';
		if (need == 0 && (end = strstr(b, "\r\n\r\n")) != NULL) {
			need = (size_t)(end - b) + 4;
			if ((cl = strcasestr(b, "\r\nContent-Length:")) != NULL &&
			    cl < end)
				need += strtoul(cl + 17, NULL, 10);
		}
	}
	b[len] = '\0';
	return len;
}

static void
serve_one(int c, const char *log, const struct fresp *r)
{
	static char req[65536];
	char head[256];
	size_t len = read_request(c, req, sizeof(req));
	int fd, n;

	if ((fd = open(log, O_WRONLY | O_APPEND | O_CREAT, 0600)) != -1) {
		(void)!write(fd, "=== REQUEST ===\n", 16);
		(void)!write(fd, req, len);
		(void)!write(fd, "\n", 1);
		close(fd);
	}
	if (r->status == 0)
		return;
	n = snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Type: "
	    "%s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
	    r->status, r->body[0] == '<' ? "text/xml" : "application/json",
	    strlen(r->body));
	(void)!write(c, head, (size_t)n);
	(void)!write(c, r->body, strlen(r->body));
}

static _Noreturn void
fsrv_child(int lfd, int ctl, const char *log, const struct fresp *r, int nr)
{
	struct pollfd pf[2] = { { lfd, POLLIN, 0 }, { ctl, POLLIN, 0 } };
	int served = 0, c, fd;

	for (fd = 3; fd < 1024; fd++)
		if (fd != lfd && fd != ctl)
			close(fd);
	for (;;) {
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		if (pf[1].revents)
			_exit(0);
		if (!(pf[0].revents & POLLIN) ||
		    (c = accept(lfd, NULL, NULL)) < 0)
			continue;
		serve_one(c, log, &r[served < nr ? served : nr - 1]);
		served++;
		close(c);
	}
}

/* Start a server answering with r[0], r[1], ... then r[nr-1] forever. */
static void
fsrv_start(struct fsrv *s, const struct fresp *r, int nr)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int lfd, ctl[2];

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert((lfd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(lfd, 64), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
	s->port = ntohs(sa.sin_port);
	snprintf(s->log, sizeof(s->log), "%s/requests-%d.log", tmpdir, s->port);
	ck_assert_int_eq(pipe(ctl), 0);
	ck_assert((s->pid = fork()) >= 0);
	if (s->pid == 0) {
		close(ctl[1]);
		fsrv_child(lfd, ctl[0], s->log, r, nr);
	}
	close(ctl[0]);
	close(lfd);
	s->ctl = ctl[1];
}

static void
fsrv_stop(struct fsrv *s)
{
	int st;

	close(s->ctl);
	ck_assert_int_eq(waitpid(s->pid, &st, 0), s->pid);
}

/* Everything the server received so far (malloc'd). */
static char *
fsrv_log(const struct fsrv *s)
{
	FILE *f = fopen(s->log, "r");
	char *b = calloc(1, 1 << 20);
	size_t n = 0;

	ck_assert(b != NULL);
	if (f != NULL) {
		n = fread(b, 1, (1 << 20) - 1, f);
		fclose(f);
	}
	b[n] = '\0';
	return b;
}

static int
count(const char *hay, const char *needle)
{
	int n = 0;

	for (; (hay = strstr(hay, needle)) != NULL; hay += strlen(needle))
		n++;
	return n;
}

static int
fsrv_requests(const struct fsrv *s)
{
	char *b = fsrv_log(s);
	int n = count(b, "=== REQUEST ===\n");

	free(b);
	return n;
}

/* "YYYY-MM-DDTHH:MM:SSZ" for now + delta into out. */
static void
iso_time(time_t delta, char *out, size_t len)
{
	time_t t = time(NULL) + delta;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void
container_json(struct fresp *r, const char *id, const char *secret,
    time_t delta)
{
	char exp[32];

	iso_time(delta, exp, sizeof(exp));
	r->status = 200;
	snprintf(r->body, sizeof(r->body), "{\"AccessKeyId\":\"%s\","
	    "\"SecretAccessKey\":\"%s\",\"Token\":\"%s\",\"Expiration\":"
	    "\"%s\",\"RoleArn\":\"arn:aws:iam::123456789012:role/x\"}", id,
	    secret, STOKEN, exp);
}

/* ---- driving the provider ---- */

struct got {
	int	 n;		/* callbacks so far */
	int	 ok;		/* of those, with credentials */
	char	 err[AWS_CREDS_MAX_ERR];
	char	 akid[256];
	char	 secret[512];
	char	 token[1024];
	time_t	 exp;
	char	 source[32];
};

static void
on_creds(const struct aws_creds *c, const char *err, void *arg)
{
	struct got *g = arg;

	g->n++;
	if (c == NULL) {
		ck_assert_ptr_nonnull(err);
		snprintf(g->err, sizeof(g->err), "%s", err);
		return;
	}
	ck_assert_ptr_null(err);
	g->ok++;
	snprintf(g->akid, sizeof(g->akid), "%s", c->access_key_id);
	snprintf(g->secret, sizeof(g->secret), "%s", c->secret_access_key);
	snprintf(g->token, sizeof(g->token), "%s",
	    c->session_token ? c->session_token : "");
	g->exp = c->expiration;
	snprintf(g->source, sizeof(g->source), "%s", c->source);
}

static void
guard_cb(struct ev_loop *l, ev_timer *w, int revents)
{
}

/* Run the loop until *n reaches want; the test fails after 5 s. */
static void
run_until(const int *n, int want)
{
	double end = t_now_ms() + 5000.0 * t_slow();
	ev_timer guard;

	ev_timer_init(&guard, guard_cb, 0.02, 0.02);
	ev_timer_start(loop, &guard);
	while (*n < want && t_now_ms() < end)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &guard);
	ck_assert_msg(*n >= want, "%d callbacks, want %d", *n, want);
}

/* A provider for the current environment. */
static struct aws_creds_provider *
provider(void)
{
	struct aws_creds_provider *p;

	load_cfg();
	p = aws_creds_new(loop, http, &cfg);
	ck_assert_ptr_nonnull(p);
	return p;
}

/* One get, run to its answer into *g. */
static void
get1(struct aws_creds_provider *p, struct got *g)
{
	int want = g->n + 1;

	ck_assert_int_eq(aws_creds_get(p, on_creds, g), 0);
	run_until(&g->n, want);
	ck_assert_int_eq(g->n, want);
}

static void
assert_no_secret(const char *s)
{
	static const char *const secrets[] = {
		SECRET, SECRET2, STOKEN, AUTH_TOKEN, JWT, "TOPSECRETVALUE",
	};
	size_t i;

	for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
		ck_assert_msg(strstr(s, secrets[i]) == NULL,
		    "secret %s in \"%s\"", secrets[i], s);
}

/* ---- config: shared-file parser ---- */

static struct aws_ini *
ini_ok(const char *text)
{
	struct aws_ini *ini;
	char err[512];

	ck_assert_msg(aws_ini_parse("f", text, strlen(text), &ini, err,
	    sizeof(err)) == 0, "%s", err);
	return ini;
}

static void
ini_bad(const char *text, size_t len, const char *want)
{
	struct aws_ini *ini = (struct aws_ini *)1;
	char err[512] = "";

	ck_assert_int_eq(aws_ini_parse("f", text, len, &ini, err,
	    sizeof(err)), -1);
	ck_assert_ptr_null(ini);
	ck_assert_str_eq(err, want);
}

START_TEST(ini_parses_aws_files)
{
	struct aws_ini *ini = ini_ok(
	    "# comment\r\n"
	    "; another\n"
	    "[default]   # trailing comment\n"
	    "region = eu-west-1\n"
	    "aws_access_key_id=AKID1 ; inline comment\n"
	    "aws_secret_access_key = a#b;c\n"
	    "s3 =\n"
	    "  max_concurrent_requests = 10\n"
	    "\tsignature_version = s3v4\n"
	    "\n"
	    "[ profile   dev ]\n"
	    "region = us-west-2\n"
	    "region = us-east-2\n"
	    "empty =\n"
	    "[default]\n"
	    "output = json\n"
	    "[profile dev]\n"
	    "REGION2 = x\t\n");

	ck_assert_str_eq(aws_ini_get(ini, "default", "region"), "eu-west-1");
	ck_assert_str_eq(aws_ini_get(ini, "default", "aws_access_key_id"),
	    "AKID1");
	ck_assert_str_eq(aws_ini_get(ini, "default",
	    "aws_secret_access_key"), "a#b;c");
	ck_assert_str_eq(aws_ini_get(ini, "default", "s3"), "");
	ck_assert_ptr_null(aws_ini_get(ini, "default",
	    "max_concurrent_requests"));
	ck_assert_str_eq(aws_ini_get(ini, "default", "output"), "json");
	ck_assert_str_eq(aws_ini_get(ini, "profile dev", "region"),
	    "us-east-2");
	ck_assert_str_eq(aws_ini_get(ini, "profile dev", "region2"), "x");
	ck_assert_str_eq(aws_ini_get(ini, "profile dev", "empty"), "");
	ck_assert(aws_ini_has_section(ini, "profile dev"));
	ck_assert(!aws_ini_has_section(ini, "dev"));
	ck_assert_ptr_null(aws_ini_get(ini, "nosuch", "region"));
	aws_ini_free(ini);
}
END_TEST

START_TEST(ini_refuses_malformed)
{
	char *big;

	ini_bad("region = x\n", 11, "f: line 1: property before the first "
	    "section");
	ini_bad("[default]\nregion\n", 17, "f: line 2: expected '[section]' "
	    "or 'key = value'");
	ini_bad("[default\n", 9, "f: line 1: section header without ']'");
	ini_bad("[]\n", 3, "f: line 1: empty section name");
	ini_bad("[a] b\n", 6, "f: line 1: unexpected text after section "
	    "header");
	ini_bad("[a]\n = v\n", 9, "f: line 2: indented line outside a 'key "
	    "=' block");
	ini_bad("[a]\n= v\n", 8, "f: line 2: empty key");
	ini_bad("[a]\nmy key = v\n", 13, "f: line 2: blank inside a key");
	ini_bad("[a]\nk = v\n  sub = x\n", 19, "f: line 3: indented line "
	    "outside a 'key =' block");
	ini_bad("[a]\ns3 =\n  nokey\n", 17, "f: line 3: expected 'key = "
	    "value' in a sub-property block");
	ini_bad("[a]\nk = v\0w\n", 11, "f: contains a NUL byte");

	/* bounds: a line, then the whole file */
	big = malloc(AWS_INI_MAX_FILE + 2);
	ck_assert_ptr_nonnull(big);
	memcpy(big, "[a]\nk = ", 8);
	memset(big + 8, 'v', AWS_INI_MAX_LINE - 3);
	ini_bad(big, 4 + AWS_INI_MAX_LINE + 1, "f: line 2: line longer than "
	    "20480 bytes");
	big[4 + AWS_INI_MAX_LINE] = '\n';
	{
		struct aws_ini *ini;
		char err[256];

		/* exactly at the line bound is fine */
		ck_assert_int_eq(aws_ini_parse("f", big, 4 + AWS_INI_MAX_LINE,
		    &ini, err, sizeof(err)), 0);
		aws_ini_free(ini);
	}
	memset(big, '#', AWS_INI_MAX_FILE + 1);
	ini_bad(big, AWS_INI_MAX_FILE + 1, "f: larger than 1048576 bytes");
	free(big);
}
END_TEST

START_TEST(ini_load_files)
{
	struct aws_ini *ini = (struct aws_ini *)1;
	char err[512], *big;
	FILE *f;

	ck_assert_int_eq(aws_ini_load(tpath("nope"), &ini, err, sizeof(err)),
	    1);
	ck_assert_ptr_null(ini);
	ck_assert_int_eq(aws_ini_load(tmpdir, &ini, err, sizeof(err)), -1);
	ck_assert(strstr(err, ": is a directory") != NULL);
	ck_assert_ptr_null(ini);

	write_file(tpath("bad"), "[default]\nok = 1\n\nnot a pair\n");
	ck_assert_int_eq(aws_ini_load(tpath("bad"), &ini, err, sizeof(err)),
	    -1);
	ck_assert_str_eq(strstr(err, "/bad"), "/bad: line 4: expected "
	    "'[section]' or 'key = value'");

	/* over the size bound on disk */
	ck_assert((f = fopen(tpath("big"), "w")) != NULL);
	ck_assert((big = calloc(1, AWS_INI_MAX_FILE + 1)) != NULL);
	memset(big, '#', AWS_INI_MAX_FILE + 1);
	ck_assert_int_eq(fwrite(big, 1, AWS_INI_MAX_FILE + 1, f),
	    AWS_INI_MAX_FILE + 1);
	fclose(f);
	free(big);
	ck_assert_int_eq(aws_ini_load(tpath("big"), &ini, err, sizeof(err)),
	    -1);
	ck_assert(strstr(err, "/big: larger than 1048576 bytes") != NULL);
}
END_TEST

/* ---- config: region and endpoints ---- */

START_TEST(region_resolution_order)
{
	char err[512], want[1024];

	/* nothing anywhere: no region, not an error */
	load_cfg();
	ck_assert_ptr_null(cfg.region);
	ck_assert_str_eq(cfg.profile, "default");
	ck_assert_str_eq(cfg.config_file, tpath(".aws/config"));
	ck_assert_str_eq(cfg.credentials_file, tpath(".aws/credentials"));
	ck_assert_ptr_null(aws_config_endpoint(&cfg, AWS_SVC_ECS, err,
	    sizeof(err)));
	snprintf(want, sizeof(want), "no AWS region for ecs: set AWS_REGION, "
	    "or region in profile default of %s, or AWS_ENDPOINT_URL_ECS",
	    tpath(".aws/config"));
	ck_assert_str_eq(err, want);

	write_file(tpath(".aws/config"),
	    "[default]\nregion = eu-central-1\n"
	    "[profile dev]\nregion = ap-southeast-2\n"
	    "[ops]\nregion = us-west-1\n");
	load_cfg();
	ck_assert_str_eq(cfg.region, "eu-central-1");
	ck_assert_str_eq(cfg.region_source, "profile");

	setenv("AWS_PROFILE", "dev", 1);
	load_cfg();
	ck_assert_str_eq(cfg.profile, "dev");
	ck_assert_str_eq(cfg.region, "ap-southeast-2");

	/* "[ops]" without "profile " is not profile ops in the config file */
	setenv("AWS_PROFILE", "ops", 1);
	load_cfg();
	ck_assert_ptr_null(cfg.region);

	setenv("AWS_DEFAULT_REGION", "sa-east-1", 1);
	load_cfg();
	ck_assert_str_eq(cfg.region, "sa-east-1");
	ck_assert_str_eq(cfg.region_source, "AWS_DEFAULT_REGION");

	setenv("AWS_REGION", "us-east-2", 1);
	load_cfg();
	ck_assert_str_eq(cfg.region, "us-east-2");
	ck_assert_str_eq(cfg.region_source, "AWS_REGION");

	/* "" counts as unset */
	setenv("AWS_REGION", "", 1);
	load_cfg();
	ck_assert_str_eq(cfg.region, "sa-east-1");
}
END_TEST

START_TEST(region_profile_default_forms)
{
	/* "[profile default]" wins over "[default]" */
	write_file(tpath(".aws/config"),
	    "[default]\nregion = eu-west-1\n"
	    "[profile default]\nregion = eu-west-3\n");
	load_cfg();
	ck_assert_str_eq(cfg.region, "eu-west-3");

	/* AWS_CONFIG_FILE with "~" */
	write_file(tpath("other.ini"), "[default]\nregion = ca-central-1\n");
	setenv("AWS_CONFIG_FILE", "~/other.ini", 1);
	load_cfg();
	ck_assert_str_eq(cfg.config_file, tpath("other.ini"));
	ck_assert_str_eq(cfg.region, "ca-central-1");

	setenv("AWS_SHARED_CREDENTIALS_FILE", "/elsewhere/creds", 1);
	load_cfg();
	ck_assert_str_eq(cfg.credentials_file, "/elsewhere/creds");
}
END_TEST

START_TEST(region_and_endpoint_errors)
{
	const char *e;

	setenv("AWS_REGION", "us-east-1.evil.example/", 1);
	ck_assert_str_eq(load_cfg_fails(), "AWS_REGION: not a valid region "
	    "name");
	setenv("AWS_REGION", "US-EAST-1", 1);
	ck_assert_str_eq(load_cfg_fails(), "AWS_REGION: not a valid region "
	    "name");
	unsetenv("AWS_REGION");

	write_file(tpath(".aws/config"), "[default]\nregion = a b\n");
	e = load_cfg_fails();
	ck_assert_str_eq(strstr(e, "/.aws/config"), "/.aws/config: [default] "
	    "region: not a valid region name");

	write_file(tpath(".aws/config"), "[default]\nregion\n");
	e = load_cfg_fails();
	ck_assert_str_eq(strstr(e, "/.aws/config"), "/.aws/config: line 2: "
	    "expected '[section]' or 'key = value'");

	setenv("AWS_REGION", "us-east-1", 1);
	setenv("AWS_ENDPOINT_URL_ECS", "ftp://host", 1);
	ck_assert_str_eq(load_cfg_fails(), "AWS_ENDPOINT_URL_ECS: not an "
	    "http:// or https:// URL");
	setenv("AWS_ENDPOINT_URL_ECS", "http://user:pw@host", 1);
	ck_assert_str_eq(load_cfg_fails(), "AWS_ENDPOINT_URL_ECS: has user "
	    "information");
	unsetenv("AWS_ENDPOINT_URL_ECS");
	setenv("AWS_ENDPOINT_URL", "http://host/?q", 1);
	ck_assert_str_eq(load_cfg_fails(), "AWS_ENDPOINT_URL: contains "
	    "whitespace, a control byte, a query or a fragment");
	setenv("AWS_ENDPOINT_URL", "https:///path", 1);
	ck_assert_str_eq(load_cfg_fails(), "AWS_ENDPOINT_URL: has no host");
	setenv("AWS_PROFILE", "a]b", 1);
	ck_assert_str_eq(load_cfg_fails(), "AWS_PROFILE: contains a control "
	    "byte or a bracket");
}
END_TEST

START_TEST(endpoint_table)
{
	enum { NONE = -1 };
	static const struct {
		const char	*region;
		const char	*general;	/* AWS_ENDPOINT_URL */
		int		 spec_svc;	/* whose _<SVC> variable is set */
		const char	*spec_url;
		const char	*ignore;	/* AWS_IGNORE_CONFIGURED_... */
		enum aws_service svc;
		const char	*want;
	} t[] = {
		{ "us-east-1", NULL, NONE, NULL, NULL, AWS_SVC_ECS,
		  "https://ecs.us-east-1.amazonaws.com" },
		{ "eu-west-1", NULL, NONE, NULL, NULL, AWS_SVC_LOGS,
		  "https://logs.eu-west-1.amazonaws.com" },
		{ "eu-west-1", NULL, NONE, NULL, NULL, AWS_SVC_MONITORING,
		  "https://monitoring.eu-west-1.amazonaws.com" },
		{ "ap-south-1", NULL, NONE, NULL, NULL, AWS_SVC_SECRETSMANAGER,
		  "https://secretsmanager.ap-south-1.amazonaws.com" },
		{ "us-west-2", NULL, NONE, NULL, NULL, AWS_SVC_STS,
		  "https://sts.us-west-2.amazonaws.com" },
		{ NULL, NULL, NONE, NULL, NULL, AWS_SVC_STS,
		  "https://sts.amazonaws.com" },
		{ "cn-north-1", NULL, NONE, NULL, NULL, AWS_SVC_ECS,
		  "https://ecs.cn-north-1.amazonaws.com.cn" },
		{ "us-gov-west-1", NULL, NONE, NULL, NULL, AWS_SVC_LOGS,
		  "https://logs.us-gov-west-1.amazonaws.com" },
		{ "us-iso-east-1", NULL, NONE, NULL, NULL, AWS_SVC_ECS,
		  "https://ecs.us-iso-east-1.c2s.ic.gov" },
		{ "us-isob-east-1", NULL, NONE, NULL, NULL, AWS_SVC_ECS,
		  "https://ecs.us-isob-east-1.sc2s.sgov.gov" },
		{ "us-east-1", "http://localhost:4566/", NONE, NULL, NULL,
		  AWS_SVC_MONITORING, "http://localhost:4566" },
		{ NULL, "http://127.0.0.1:5000", NONE, NULL, NULL, AWS_SVC_ECS,
		  "http://127.0.0.1:5000" },
		{ "us-east-1", "http://localhost:4566", AWS_SVC_LOGS,
		  "http://logs:9/p/", NULL, AWS_SVC_LOGS, "http://logs:9/p" },
		{ "us-east-1", "http://localhost:4566", AWS_SVC_LOGS,
		  "http://logs:9", NULL, AWS_SVC_ECS, "http://localhost:4566" },
		{ "us-east-1", NULL, AWS_SVC_LOGS, "http://logs:9", NULL,
		  AWS_SVC_MONITORING,
		  "https://monitoring.us-east-1.amazonaws.com" },
		{ "us-east-1", NULL, AWS_SVC_SECRETSMANAGER, "http://sm:1",
		  NULL, AWS_SVC_SECRETSMANAGER, "http://sm:1" },
		{ "us-east-1", NULL, AWS_SVC_MONITORING, "http://cw:1", NULL,
		  AWS_SVC_MONITORING, "http://cw:1" },
		{ "us-east-1", NULL, AWS_SVC_ECS, "http://ecs:1", NULL,
		  AWS_SVC_ECS, "http://ecs:1" },
		{ "us-east-1", "http://localhost:4566", AWS_SVC_ECS,
		  "http://x:1", "true", AWS_SVC_ECS,
		  "https://ecs.us-east-1.amazonaws.com" },
		{ "us-east-1", "http://localhost:4566", NONE, NULL, "false",
		  AWS_SVC_SECRETSMANAGER, "http://localhost:4566" },
		{ NULL, NULL, AWS_SVC_STS, "HTTPS://[::1]:8443", NULL,
		  AWS_SVC_STS, "HTTPS://[::1]:8443" },
	};
	char var[64], err[256];
	const char *got;
	size_t i;
	int s;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		unsetenv("AWS_REGION");
		unsetenv("AWS_ENDPOINT_URL");
		unsetenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
		for (s = 0; s < AWS_SVC_COUNT; s++) {
			snprintf(var, sizeof(var), "AWS_ENDPOINT_URL_%s",
			    aws_service_env_id(s));
			unsetenv(var);
		}
		if (t[i].region)
			setenv("AWS_REGION", t[i].region, 1);
		if (t[i].general)
			setenv("AWS_ENDPOINT_URL", t[i].general, 1);
		if (t[i].spec_svc != NONE) {
			snprintf(var, sizeof(var), "AWS_ENDPOINT_URL_%s",
			    aws_service_env_id(t[i].spec_svc));
			setenv(var, t[i].spec_url, 1);
		}
		if (t[i].ignore)
			setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
			    t[i].ignore, 1);
		load_cfg();
		got = aws_config_endpoint(&cfg, t[i].svc, err, sizeof(err));
		ck_assert_msg(got != NULL && strcmp(got, t[i].want) == 0,
		    "row %zu: got %s, want %s", i, got ? got : err, t[i].want);
	}
	ck_assert_str_eq(aws_service_name(AWS_SVC_LOGS), "logs");
	ck_assert_str_eq(aws_service_name(AWS_SVC_MONITORING), "monitoring");
	ck_assert_str_eq(aws_service_env_id(AWS_SVC_SECRETSMANAGER),
	    "SECRETS_MANAGER");
	ck_assert_str_eq(aws_service_env_id(AWS_SVC_MONITORING), "CLOUDWATCH");
	ck_assert_str_eq(aws_service_env_id(AWS_SVC_LOGS), "CLOUDWATCH_LOGS");
	ck_assert(aws_region_valid("eu-south-2"));
	ck_assert(!aws_region_valid("eu--south"));
	ck_assert(!aws_region_valid("eu-south-"));
	ck_assert(!aws_region_valid("1eu"));
	ck_assert(!aws_region_valid(""));
}
END_TEST

/* ---- credentials: environment ---- */

START_TEST(env_credentials)
{
	struct aws_creds_provider *p;
	struct got g = { 0 };
	struct aws_sigv4_creds sc;

	setenv("AWS_ACCESS_KEY_ID", AKID, 1);
	setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
	setenv("AWS_SESSION_TOKEN", STOKEN, 1);
	p = provider();
	ck_assert_int_eq(aws_creds_get(p, on_creds, &g), 0);
	/* never answered from inside aws_creds_get() */
	ck_assert_int_eq(g.n, 0);
	run_until(&g.n, 1);
	ck_assert_int_eq(g.ok, 1);
	ck_assert_str_eq(g.akid, AKID);
	ck_assert_str_eq(g.secret, SECRET);
	ck_assert_str_eq(g.token, STOKEN);
	ck_assert_str_eq(g.source, "environment");
	ck_assert_int_eq(g.exp, 0);
	/* obtained secrets are registered for redaction */
	ck_assert(redact_contains_secret(SECRET, strlen(SECRET)));
	ck_assert(redact_contains_secret(STOKEN, strlen(STOKEN)));

	/* long-term credentials stay cached: the environment is not re-read */
	setenv("AWS_ACCESS_KEY_ID", "AKIDOTHER", 1);
	get1(p, &g);
	ck_assert_str_eq(g.akid, AKID);
	/* until invalidated */
	aws_creds_invalidate(p);
	get1(p, &g);
	ck_assert_str_eq(g.akid, "AKIDOTHER");
	aws_creds_free(p);

	/* no session token: long-term credentials */
	unsetenv("AWS_SESSION_TOKEN");
	p = provider();
	get1(p, &g);
	ck_assert_str_eq(g.token, "");
	{
		/* the signer's view */
		const struct aws_creds c = { "a", "b", NULL, 0, "x" };

		aws_creds_sigv4(&c, &sc);
		ck_assert_str_eq(sc.access_key_id, "a");
		ck_assert_str_eq(sc.secret_access_key, "b");
		ck_assert_ptr_null(sc.session_token);
	}
	aws_creds_free(p);
}
END_TEST

/* Expected "no AWS credentials" message with nothing configured. */
static void
all_fail_message(char *out, size_t len)
{
	snprintf(out, len, "no AWS credentials: environment: AWS_ACCESS_KEY_ID "
	    "not set; web identity: AWS_WEB_IDENTITY_TOKEN_FILE not set; "
	    "shared files: %s: no such file, %s: no such file; container: "
	    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/FULL_URI not set",
	    tpath(".aws/credentials"), tpath(".aws/config"));
}

START_TEST(failure_lists_every_source)
{
	struct aws_creds_provider *p;
	struct got g = { 0 };
	char want[2048];

	p = provider();
	get1(p, &g);
	ck_assert_int_eq(g.ok, 0);
	all_fail_message(want, sizeof(want));
	ck_assert_str_eq(g.err, want);

	/* each source's own reason */
	setenv("AWS_ACCESS_KEY_ID", AKID, 1);
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", tpath("jwt"), 1);
	setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "no-slash", 1);
	write_file(tpath(".aws/credentials"), "[other]\nx = 1\n");
	write_file(tpath(".aws/config"), "[profile other]\nx = 1\n");
	get1(p, &g);
	snprintf(want, sizeof(want), "no AWS credentials: environment: "
	    "AWS_SECRET_ACCESS_KEY not set; web identity: AWS_ROLE_ARN not "
	    "set; shared files: %s: no [default], %s: no [default]; "
	    "container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must be a path "
	    "of at most 1024 printable bytes", tpath(".aws/credentials"),
	    tpath(".aws/config"));
	ck_assert_str_eq(g.err, want);

	setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/demo", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "has space " SECRET, 1);
	get1(p, &g);
	ck_assert_msg(strstr(g.err, "environment: AWS_SECRET_ACCESS_KEY is "
	    "empty, too long, or holds spaces or control bytes; web "
	    "identity: ") != NULL, "%s", g.err);
	ck_assert(strstr(g.err, "/jwt: no such file; shared files:") != NULL);
	assert_no_secret(g.err);
	aws_creds_free(p);
}
END_TEST

/* ---- credentials: shared files ---- */

START_TEST(shared_files_profiles)
{
	struct aws_creds_provider *p;
	struct got g = { 0 };

	write_file(tpath(".aws/credentials"),
	    "[default]\n"
	    "aws_access_key_id = AKIDDEFAULT\n"
	    "aws_secret_access_key = " SECRET "\n"
	    "\n"
	    "[dev]\n"
	    "aws_access_key_id = AKIDDEV\n"
	    "aws_secret_access_key = " SECRET2 "\n"
	    "aws_session_token = " STOKEN "\n");
	write_file(tpath(".aws/config"),
	    "[default]\nregion = eu-west-1\n"
	    "[profile cfgonly]\n"
	    "aws_access_key_id = AKIDCFG\n"
	    "aws_secret_access_key = " SECRET "\n"
	    "[profile dev]\n"
	    "aws_access_key_id = AKIDSHADOWED\n"
	    "[profile split]\n"
	    "aws_access_key_id = AKIDSPLIT\n"
	    "[profile role]\n"
	    "role_arn = arn:aws:iam::123456789012:role/x\n"
	    "source_profile = default\n");

	p = provider();
	get1(p, &g);
	ck_assert_str_eq(g.akid, "AKIDDEFAULT");
	ck_assert_str_eq(g.secret, SECRET);
	ck_assert_str_eq(g.token, "");
	ck_assert_str_eq(g.source, "shared files");
	ck_assert_int_eq(g.exp, 0);
	aws_creds_free(p);

	/* the credentials file wins over the config file */
	setenv("AWS_PROFILE", "dev", 1);
	p = provider();
	get1(p, &g);
	ck_assert_str_eq(g.akid, "AKIDDEV");
	ck_assert_str_eq(g.secret, SECRET2);
	ck_assert_str_eq(g.token, STOKEN);
	aws_creds_free(p);

	/* "[profile NAME]" in the config file */
	setenv("AWS_PROFILE", "cfgonly", 1);
	p = provider();
	get1(p, &g);
	ck_assert_str_eq(g.akid, "AKIDCFG");
	aws_creds_free(p);

	/* half a key pair */
	setenv("AWS_PROFILE", "split", 1);
	p = provider();
	get1(p, &g);
	ck_assert_int_eq(g.ok, 3);
	ck_assert_msg(strstr(g.err, "; shared files: profile split: "
	    "aws_access_key_id without aws_secret_access_key; container:") !=
	    NULL, "%s", g.err);
	aws_creds_free(p);

	/* assume-role profiles are named, not silently skipped */
	setenv("AWS_PROFILE", "role", 1);
	p = provider();
	get1(p, &g);
	ck_assert_msg(strstr(g.err, "; shared files: profile role: role_arn "
	    "is not supported (only aws_access_key_id and "
	    "aws_secret_access_key); container:") != NULL, "%s", g.err);
	aws_creds_free(p);

	/* AWS_SHARED_CREDENTIALS_FILE elsewhere */
	write_file(tpath("creds2"), "[ci]\naws_access_key_id = AKIDCI\n"
	    "aws_secret_access_key = " SECRET2 "\n");
	setenv("AWS_SHARED_CREDENTIALS_FILE", tpath("creds2"), 1);
	setenv("AWS_PROFILE", "ci", 1);
	p = provider();
	get1(p, &g);
	ck_assert_str_eq(g.akid, "AKIDCI");
	aws_creds_free(p);
}
END_TEST

START_TEST(shared_files_malformed)
{
	struct aws_creds_provider *p;
	struct got g = { 0 };
	char want[1024];

	write_file(tpath(".aws/credentials"),
	    "[default]\n"
	    "aws_access_key_id = " AKID "\n"
	    "aws_secret_access_key " SECRET "\n");
	p = provider();
	get1(p, &g);
	ck_assert_int_eq(g.ok, 0);
	snprintf(want, sizeof(want), "; shared files: %s: line 3: expected "
	    "'[section]' or 'key = value'; container:",
	    tpath(".aws/credentials"));
	ck_assert_msg(strstr(g.err, want) != NULL, "%s", g.err);
	assert_no_secret(g.err);

	/* a value with spaces is refused without quoting it */
	write_file(tpath(".aws/credentials"),
	    "[default]\naws_access_key_id = " AKID "\n"
	    "aws_secret_access_key = TOPSECRETVALUE " SECRET "\n");
	get1(p, &g);
	ck_assert_msg(strstr(g.err, "; shared files: profile default: "
	    "aws_secret_access_key is empty, too long, or holds spaces or "
	    "control bytes; container:") != NULL, "%s", g.err);
	assert_no_secret(g.err);

	/* the file is read again on the next resolution: fixed, it works */
	write_file(tpath(".aws/credentials"),
	    "[default]\naws_access_key_id = " AKID "\n"
	    "aws_secret_access_key = " SECRET "\n");
	get1(p, &g);
	ck_assert_int_eq(g.ok, 1);
	ck_assert_str_eq(g.akid, AKID);
	aws_creds_free(p);
}
END_TEST

/* ---- credentials: container endpoint ---- */

START_TEST(full_uri_allowed_table)
{
	static const struct {
		const char	*uri;
		int		 ok;
	} t[] = {
		{ "https://creds.example.com/v1", 1 },
		{ "http://127.0.0.1:8080/creds", 1 },
		{ "http://127.200.3.4/creds", 1 },
		{ "http://localhost/creds", 1 },
		{ "http://LOCALHOST:99/", 1 },
		{ "http://[::1]:51679/creds", 1 },
		{ "http://169.254.170.2/v2/credentials/x", 1 },
		{ "http://169.254.170.23/v1/credentials", 1 },
		{ "http://[fd00:ec2::23]/v1/credentials", 1 },
		{ "http://169.254.169.254/latest/meta-data", 0 },
		{ "http://169.254.170.3/", 0 },
		{ "http://10.0.0.1/creds", 0 },
		{ "http://example.com/creds", 0 },
		{ "http://127.0.0.1.nip.io/creds", 0 },
		{ "http://[fd00:ec2::24]/", 0 },
		{ "http://[::2]/", 0 },
		{ "ftp://127.0.0.1/creds", 0 },
		{ "not a url", 0 },
	};
	char err[512];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ck_assert_msg(aws_creds_full_uri_allowed(t[i].uri, err,
		    sizeof(err)) == t[i].ok, "%s", t[i].uri);
	aws_creds_full_uri_allowed("http://user:TOPSECRETVALUE@10.1.2.3/p?"
	    "q=" SECRET2, err, sizeof(err));
	ck_assert_str_eq(err, "AWS_CONTAINER_CREDENTIALS_FULL_URI: host "
	    "10.1.2.3 is not allowed over http (use https, a loopback "
	    "address, or the ECS/EKS agent 169.254.170.2, 169.254.170.23, "
	    "fd00:ec2::23)");
}
END_TEST

START_TEST(container_relative_uri)
{
	struct aws_creds_provider *p;
	struct fresp r[1];
	struct got g = { 0 };
	struct fsrv s;
	char base[64], *log;

	container_json(&r[0], "ASIACONTAINER1", SECRET, 6 * 3600);
	fsrv_start(&s, r, 1);
	setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	    "/v2/credentials/2f3b-uuid", 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", AUTH_TOKEN, 1);
	p = provider();
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", s.port);
	ck_assert_int_eq(aws_creds_set_container_base(p, base), 0);
	get1(p, &g);
	ck_assert_msg(g.ok == 1, "%s", g.err);
	ck_assert_str_eq(g.akid, "ASIACONTAINER1");
	ck_assert_str_eq(g.secret, SECRET);
	ck_assert_str_eq(g.token, STOKEN);
	ck_assert_str_eq(g.source, "container");
	ck_assert_int_le(llabs((long long)(g.exp - (time(NULL) + 6 * 3600))),
	    5);
	ck_assert(redact_contains_secret(SECRET, strlen(SECRET)));

	log = fsrv_log(&s);
	ck_assert_msg(strncmp(log, "=== REQUEST ===\nGET "
	    "/v2/credentials/2f3b-uuid HTTP/1.1\r\n", 52) == 0, "%s", log);
	ck_assert_msg(strstr(log, "\r\nAuthorization: " AUTH_TOKEN "\r\n") !=
	    NULL, "%s", log);
	ck_assert_int_eq(count(log, "=== REQUEST ===\n"), 1);
	free(log);

	/* valid for hours: cached, no second request */
	get1(p, &g);
	ck_assert_int_eq(g.ok, 2);
	ck_assert_int_eq(fsrv_requests(&s), 1);
	aws_creds_free(p);
	fsrv_stop(&s);
}
END_TEST

START_TEST(container_full_uri_token_file_and_expiry)
{
	struct aws_creds_provider *p;
	struct fresp r[4];
	struct got g = { 0 };
	struct fsrv s;
	char uri[128], *log;

	/* in the past, near expiry, then valid for an hour */
	container_json(&r[0], "ASIAPAST", SECRET, -600);
	container_json(&r[1], "ASIANEAR", SECRET, 120);
	container_json(&r[2], "ASIAHOUR", SECRET2, 3600);
	container_json(&r[3], "ASIANEVER", SECRET2, 3600);
	fsrv_start(&s, r, 4);
	snprintf(uri, sizeof(uri), "http://127.0.0.1:%d/creds?id=1", s.port);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri, 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "ignored-env-token", 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tpath("agent-token"),
	    1);
	write_file(tpath("agent-token"), "token-one\n");
	p = provider();

	get1(p, &g);
	ck_assert_str_eq(g.akid, "ASIAPAST");
	/* expired: the next get asks again, with the token file re-read */
	write_file(tpath("agent-token"), "token-two");
	get1(p, &g);
	ck_assert_str_eq(g.akid, "ASIANEAR");
	/* valid for less than 5 minutes: asked again */
	get1(p, &g);
	ck_assert_str_eq(g.akid, "ASIAHOUR");
	get1(p, &g);
	ck_assert_str_eq(g.akid, "ASIAHOUR");
	ck_assert_int_eq(g.ok, 4);

	log = fsrv_log(&s);
	ck_assert_int_eq(count(log, "=== REQUEST ===\nGET /creds?id=1 "
	    "HTTP/1.1\r\n"), 3);
	ck_assert_int_eq(count(log, "\r\nAuthorization: token-one\r\n"), 1);
	ck_assert_int_eq(count(log, "\r\nAuthorization: token-two\r\n"), 2);
	ck_assert_int_eq(count(log, "ignored-env-token"), 0);
	free(log);

	/* a token file that went away is a clear error */
	aws_creds_invalidate(p);
	unlink(tpath("agent-token"));
	get1(p, &g);
	ck_assert_msg(strstr(g.err, "; container: AWS_CONTAINER_"
	    "AUTHORIZATION_TOKEN_FILE ") != NULL, "%s", g.err);
	ck_assert(strstr(g.err, "/agent-token: no such file") != NULL);
	ck_assert_int_eq(fsrv_requests(&s), 3);
	aws_creds_free(p);
	fsrv_stop(&s);
}
END_TEST

START_TEST(container_full_uri_refused)
{
	struct aws_creds_provider *p;
	struct got g = { 0 };

	/* TEST-NET-1: refused before any connection is tried */
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI",
	    "http://192.0.2.10:80/creds", 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", AUTH_TOKEN, 1);
	p = provider();
	get1(p, &g);
	ck_assert_int_eq(g.ok, 0);
	ck_assert_msg(strstr(g.err, "; container: AWS_CONTAINER_CREDENTIALS_"
	    "FULL_URI: host 192.0.2.10 is not allowed over http") != NULL,
	    "%s", g.err);
	ck_assert_int_eq(httpc_active(http), 0);
	ck_assert_int_eq(httpc_connections_opened(http), 0);
	assert_no_secret(g.err);
	aws_creds_free(p);
}
END_TEST

START_TEST(container_errors_and_retry)
{
	struct aws_creds_provider *p;
	struct fresp r[6];
	struct got g = { 0 };
	struct fsrv s;
	char uri[128];

	/* 500, then no answer at all, then the credentials */
	r[0].status = 500;
	snprintf(r[0].body, sizeof(r[0].body), "{\"message\":\"%s\"}", SECRET);
	r[1].status = 0;
	r[1].body[0] = '\0';
	container_json(&r[2], "ASIARETRIED", SECRET2, 3600);
	/* then: 403 (not retried), then JSON missing a field */
	r[3].status = 403;
	snprintf(r[3].body, sizeof(r[3].body), "{\"code\":\"%s\"}", SECRET);
	r[4].status = 200;
	snprintf(r[4].body, sizeof(r[4].body), "{\"AccessKeyId\":\"A\","
	    "\"SecretAccessKey\":\"%s\"}", SECRET);
	r[5].status = 200;
	snprintf(r[5].body, sizeof(r[5].body), "{\"AccessKeyId\":\"AKID\","
	    "\"SecretAccessKey\":\"%s\",\"Expiration\":\"tomorrow\"}", SECRET);
	fsrv_start(&s, r, 6);
	snprintf(uri, sizeof(uri), "http://localhost:%d/c", s.port);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri, 1);
	p = provider();
	get1(p, &g);
	ck_assert_msg(g.ok == 1, "%s", g.err);
	ck_assert_str_eq(g.akid, "ASIARETRIED");
	ck_assert_int_eq(fsrv_requests(&s), 3);

	aws_creds_invalidate(p);
	get1(p, &g);
	ck_assert_int_eq(g.ok, 1);
	ck_assert_msg(strstr(g.err, "; container: http://localhost:") != NULL &&
	    strstr(g.err, " answered HTTP 403") != NULL, "%s", g.err);
	ck_assert_int_eq(fsrv_requests(&s), 4);
	assert_no_secret(g.err);

	get1(p, &g);
	ck_assert_msg(strstr(g.err, "/c: response has no Expiration") ==
	    NULL && strstr(g.err, ": response has no Expiration") != NULL,
	    "%s", g.err);
	assert_no_secret(g.err);
	get1(p, &g);
	ck_assert_msg(strstr(g.err, ": response Expiration is not an ISO 8601 "
	    "time") != NULL, "%s", g.err);
	assert_no_secret(g.err);
	aws_creds_free(p);
	fsrv_stop(&s);
}
END_TEST

/* ---- credentials: web identity ---- */

static void
sts_xml(struct fresp *r, const char *id, time_t delta)
{
	char exp[32];

	iso_time(delta, exp, sizeof(exp));
	r->status = 200;
	snprintf(r->body, sizeof(r->body),
	    "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws."
	    "com/doc/2011-06-15/\">\n"
	    "  <AssumeRoleWithWebIdentityResult>\n"
	    "    <SubjectFromWebIdentityToken>system:sa</SubjectFromWebIdentity"
	    "Token>\n"
	    "    <AssumedRoleUser>\n"
	    "      <Arn>arn:aws:sts::123456789012:assumed-role/demo/s</Arn>\n"
	    "      <AssumedRoleId>AROA:s</AssumedRoleId>\n"
	    "    </AssumedRoleUser>\n"
	    "    <Credentials>\n"
	    "      <AccessKeyId>%s</AccessKeyId>\n"
	    "      <SecretAccessKey>%s</SecretAccessKey>\n"
	    "      <SessionToken>%s&amp;x</SessionToken>\n"
	    "      <Expiration>%s</Expiration>\n"
	    "    </Credentials>\n"
	    "  </AssumeRoleWithWebIdentityResult>\n"
	    "  <ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>\n"
	    "</AssumeRoleWithWebIdentityResponse>\n", id, SECRET, STOKEN, exp);
}

START_TEST(web_identity)
{
	struct aws_creds_provider *p;
	struct fresp r[2];
	struct got g = { 0 };
	struct fsrv s;
	char url[128], *log;

	sts_xml(&r[0], "ASIAWEBID1", 3600);
	sts_xml(&r[1], "ASIAWEBID2", 3600);
	fsrv_start(&s, r, 2);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", s.port);
	setenv("AWS_ENDPOINT_URL_STS", url, 1);
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", tpath("jwt"), 1);
	setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/demo", 1);
	setenv("AWS_ROLE_SESSION_NAME", "sess@afu9", 1);
	write_file(tpath("jwt"), JWT "\n");
	/* later sources are not consulted */
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://192.0.2.1/", 1);
	p = provider();
	get1(p, &g);
	ck_assert_msg(g.ok == 1, "%s", g.err);
	ck_assert_str_eq(g.akid, "ASIAWEBID1");
	ck_assert_str_eq(g.secret, SECRET);
	ck_assert_str_eq(g.token, STOKEN "&x");
	ck_assert_str_eq(g.source, "web identity");
	ck_assert_int_le(llabs((long long)(g.exp - (time(NULL) + 3600))), 5);

	log = fsrv_log(&s);
	ck_assert_msg(strncmp(log, "=== REQUEST ===\nPOST / HTTP/1.1\r\n",
	    33) == 0, "%s", log);
	ck_assert(strcasestr(log, "\r\nContent-Type: application/x-www-form-"
	    "urlencoded; charset=utf-8\r\n") != NULL);
	ck_assert_msg(strstr(log, "\r\n\r\nAction=AssumeRoleWithWebIdentity&"
	    "Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3A"
	    "role%2Fdemo&RoleSessionName=sess%40afu9&WebIdentityToken=" JWT
	    "\n") != NULL, "%s", log);
	/* unsigned */
	ck_assert(strcasestr(log, "\r\nAuthorization:") == NULL);
	free(log);
	get1(p, &g);
	ck_assert_str_eq(g.akid, "ASIAWEBID1");
	ck_assert_int_eq(fsrv_requests(&s), 1);
	aws_creds_free(p);
	fsrv_stop(&s);
}
END_TEST

START_TEST(web_identity_errors)
{
	struct aws_creds_provider *p;
	struct fresp r[3];
	struct got g = { 0 };
	struct fsrv s;
	char url[128];

	r[0].status = 400;
	snprintf(r[0].body, sizeof(r[0].body), "<ErrorResponse><Error><Type>"
	    "Sender</Type><Code>InvalidIdentityToken</Code><Message>Token "
	    "%s is expired</Message></Error></ErrorResponse>", JWT);
	r[1].status = 403;
	snprintf(r[1].body, sizeof(r[1].body), "<ErrorResponse><Error><Type>"
	    "Sender</Type><Code>AccessDenied</Code><Message>Not authorized "
	    "to perform sts:AssumeRoleWithWebIdentity</Message></Error>"
	    "<RequestId>x</RequestId></ErrorResponse>");
	r[2].status = 200;
	snprintf(r[2].body, sizeof(r[2].body), "<AssumeRoleWithWebIdentity"
	    "Response><AssumeRoleWithWebIdentityResult><Credentials>"
	    "<AccessKeyId>A</AccessKeyId><SecretAccessKey>%s</SecretAccessKey>"
	    "</Credentials></AssumeRoleWithWebIdentityResult>"
	    "</AssumeRoleWithWebIdentityResponse>", SECRET);
	fsrv_start(&s, r, 3);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", s.port);
	setenv("AWS_ENDPOINT_URL_STS", url, 1);
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", tpath("jwt"), 1);
	setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/demo", 1);
	write_file(tpath("jwt"), JWT);
	p = provider();

	get1(p, &g);
	ck_assert_int_eq(g.ok, 0);
	snprintf(url, sizeof(url), "; web identity: STS http://127.0.0.1:%d "
	    "answered HTTP 400 InvalidIdentityToken: (message withheld); "
	    "shared files: ", s.port);
	ck_assert_msg(strstr(g.err, url) != NULL, "%s", g.err);
	assert_no_secret(g.err);

	get1(p, &g);
	ck_assert_msg(strstr(g.err, " answered HTTP 403 AccessDenied: Not "
	    "authorized to perform sts:AssumeRoleWithWebIdentity; shared "
	    "files: ") != NULL, "%s", g.err);

	get1(p, &g);
	ck_assert_msg(strstr(g.err, ": response has no valid SessionToken; ") !=
	    NULL, "%s", g.err);
	assert_no_secret(g.err);
	ck_assert_int_eq(fsrv_requests(&s), 3);

	/* a session name STS would refuse is caught here */
	setenv("AWS_ROLE_SESSION_NAME", "has space", 1);
	get1(p, &g);
	ck_assert_msg(strstr(g.err, "; web identity: AWS_ROLE_SESSION_NAME "
	    "must be 2 to 64 of") != NULL, "%s", g.err);
	ck_assert_int_eq(fsrv_requests(&s), 3);
	aws_creds_free(p);
	fsrv_stop(&s);
}
END_TEST

/* ---- refresh, concurrency, lifetime ---- */

/* Run the loop until a request is in flight. */
static void
run_until_in_flight(void)
{
	double end = t_now_ms() + 5000.0 * t_slow();

	while (httpc_active(http) == 0 && t_now_ms() < end)
		ev_run(loop, EVRUN_NOWAIT);
	ck_assert_int_eq(httpc_active(http), 1);
}

START_TEST(one_refresh_for_many_callers)
{
	enum { N = 25 };
	struct aws_creds_provider *p;
	struct fresp r[3];
	struct got g[N];
	struct fsrv s;
	char uri[128];
	int i, wave, total = 0;

	memset(g, 0, sizeof(g));
	container_json(&r[0], "ASIAFIRST", SECRET, 200);	/* near expiry */
	container_json(&r[1], "ASIASECOND", SECRET2, 3600);
	container_json(&r[2], "ASIATHIRD", SECRET2, 3600);
	fsrv_start(&s, r, 3);
	snprintf(uri, sizeof(uri), "http://127.0.0.1:%d/c", s.port);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri, 1);
	p = provider();

	/*
	 * Two waves: the first get starts the request, the rest arrive while
	 * it is in flight.  The first wave's credentials are near expiry, so
	 * the second wave needs a refresh, and shares one.
	 */
	for (wave = 1; wave <= 2; wave++) {
		ck_assert_int_eq(aws_creds_get(p, on_creds, &g[0]), 0);
		run_until_in_flight();
		/* (the loop does not run here: the request stays in flight) */
		for (i = 1; i < N; i++)
			ck_assert_int_eq(aws_creds_get(p, on_creds, &g[i]), 0);
		for (i = 0; i < N; i++) {
			run_until(&g[i].n, wave);
			ck_assert_str_eq(g[i].akid, wave == 1 ? "ASIAFIRST" :
			    "ASIASECOND");
		}
		ck_assert_int_eq(fsrv_requests(&s), wave);
	}
	for (i = 0; i < N; i++)
		total += g[i].n;
	ck_assert_int_eq(total, 2 * N);
	aws_creds_free(p);
	fsrv_stop(&s);
}
END_TEST

/* A clock `skew` seconds ahead of the wall clock. */
static time_t skew;

static time_t
skewed_clock(void)
{
	return time(NULL) + skew;
}

START_TEST(prefetch_and_stale_fallback)
{
	struct aws_creds_provider *p;
	struct fresp r[3];
	struct got g = { 0 };
	struct fsrv s;
	char uri[128];

	container_json(&r[0], "ASIAPRE1", SECRET, 1200);
	container_json(&r[1], "ASIAPRE2", SECRET2, 1200);
	r[2].status = 503;
	snprintf(r[2].body, sizeof(r[2].body), "{}");
	fsrv_start(&s, r, 3);
	snprintf(uri, sizeof(uri), "http://127.0.0.1:%d/c", s.port);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri, 1);
	p = provider();
	skew = 0;
	aws_creds_set_clock(p, skewed_clock);
	get1(p, &g);
	ck_assert_str_eq(g.akid, "ASIAPRE1");

	/* 10 minutes later: still handed out, and refreshed behind */
	skew = 600;
	get1(p, &g);
	ck_assert_str_eq(g.akid, "ASIAPRE1");
	ck_assert_int_eq(httpc_active(http), 1);
	{
		double end = t_now_ms() + 5000.0 * t_slow();

		while (httpc_active(http) > 0 && t_now_ms() < end)
			ev_run(loop, EVRUN_ONCE);
	}
	ck_assert_int_eq(fsrv_requests(&s), 2);
	get1(p, &g);
	ck_assert_str_eq(g.akid, "ASIAPRE2");
	ck_assert_int_eq(fsrv_requests(&s), 2);

	/*
	 * 4 minutes before expiry the refresh fails (503, retried): the old
	 * credentials still work, so they are handed out.
	 */
	skew = 1200 - 240;
	get1(p, &g);
	ck_assert_msg(g.ok == 4, "%s", g.err);
	ck_assert_str_eq(g.akid, "ASIAPRE2");
	ck_assert_int_eq(fsrv_requests(&s), 2 + 3);
	/* once expired, the failure is reported */
	skew = 1300;
	get1(p, &g);
	ck_assert_int_eq(g.ok, 4);
	ck_assert_msg(strstr(g.err, " answered HTTP 503") != NULL, "%s", g.err);
	ck_assert_int_eq(fsrv_requests(&s), 2 + 6);
	aws_creds_free(p);
	fsrv_stop(&s);
}
END_TEST

/* Frees the provider from inside its callback. */
struct freer {
	struct aws_creds_provider *p;
	int	 n;
};

static void
free_in_cb(const struct aws_creds *c, const char *err, void *arg)
{
	struct freer *f = arg;

	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->access_key_id, "ASIAFREE");
	f->n++;
	aws_creds_free(f->p);
}

START_TEST(free_and_cancel)
{
	struct aws_creds_provider *p;
	struct fresp r[1];
	struct got a = { 0 }, b = { 0 }, c = { 0 };
	struct freer f = { 0 };
	struct fsrv s;
	char uri[128];

	container_json(&r[0], "ASIAFREE", SECRET, 3600);
	fsrv_start(&s, r, 1);
	snprintf(uri, sizeof(uri), "http://127.0.0.1:%d/c", s.port);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri, 1);

	/* cancel one of three; free from the first callback: none after */
	p = provider();
	f.p = p;
	ck_assert_int_eq(aws_creds_get(p, on_creds, &a), 0);
	ck_assert_int_eq(aws_creds_get(p, on_creds, &b), 0);
	ck_assert_int_eq(aws_creds_get(p, free_in_cb, &f), 0);
	ck_assert_int_eq(aws_creds_get(p, on_creds, &c), 0);
	aws_creds_cancel(p, on_creds, &b);
	run_until(&f.n, 1);
	ck_assert_int_eq(a.n, 1);
	ck_assert_int_eq(b.n, 0);
	ck_assert_int_eq(c.n, 0);
	ck_assert_int_eq(f.n, 1);
	/* nothing left running */
	ev_run(loop, EVRUN_NOWAIT);
	ck_assert_int_eq(c.n, 0);

	/* free with a request in flight: cancelled, no callback */
	p = provider();
	ck_assert_int_eq(aws_creds_get(p, on_creds, &c), 0);
	ev_run(loop, EVRUN_NOWAIT);
	ck_assert_int_eq(httpc_active(http), 1);
	aws_creds_free(p);
	ck_assert_int_eq(httpc_active(http), 0);
	ck_assert_int_eq(c.n, 0);
	fsrv_stop(&s);
}
END_TEST

static Suite *
awscreds_suite(void)
{
	Suite *s = suite_create("awscreds");
	TCase *tc;

	tc = tcase_create("config");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ini_parses_aws_files);
	tcase_add_test(tc, ini_refuses_malformed);
	tcase_add_test(tc, ini_load_files);
	tcase_add_test(tc, region_resolution_order);
	tcase_add_test(tc, region_profile_default_forms);
	tcase_add_test(tc, region_and_endpoint_errors);
	tcase_add_test(tc, endpoint_table);
	suite_add_tcase(s, tc);

	tc = tcase_create("creds");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, env_credentials);
	tcase_add_test(tc, failure_lists_every_source);
	tcase_add_test(tc, shared_files_profiles);
	tcase_add_test(tc, shared_files_malformed);
	tcase_add_test(tc, full_uri_allowed_table);
	tcase_add_test(tc, container_relative_uri);
	tcase_add_test(tc, container_full_uri_token_file_and_expiry);
	tcase_add_test(tc, container_full_uri_refused);
	tcase_add_test(tc, container_errors_and_retry);
	tcase_add_test(tc, web_identity);
	tcase_add_test(tc, web_identity_errors);
	tcase_add_test(tc, one_refresh_for_many_callers);
	tcase_add_test(tc, prefetch_and_stale_fallback);
	tcase_add_test(tc, free_and_cancel);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	return t_run(awscreds_suite());
}
