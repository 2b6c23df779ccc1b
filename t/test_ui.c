/*
 * test_ui: the console's pieces that need no browser.
 *
 * ui/html.h: HTML escaping (the five characters, invalid UTF-8, NUL and
 * controls, a full buffer), URL components, form and query parsing,
 * the Cookie header.  ui/uiauth.h: session ids (form, randomness,
 * expiry, logout, the table full, who logged in).  api/auth.h without a
 * database: the bootstrap token's check and the failure budgets.
 * Then the login through the afu9 binary (AFU9_API_TOKEN, no database):
 * no token no /ui/; the redirect to the login; the form and its
 * headers; a wrong token, a form from elsewhere, a body too large; the
 * cookie's attributes (Secure only through TLS) and that it is not the
 * token; a page with the cookie; logout; the rate limit; the token in
 * no log line.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "ui/html.h"
#include "ui/uiauth.h"
#include "api/auth.h"
#include "orchtest.h"
#include "testutil.h"

#define TOKEN	"uitok-Hq8Zr2Lm5Vx9Kc3W"

static char tmpdir[] = "/tmp/afu9-test-ui.XXXXXX";

/* html_esc() of s[0..n) as a new string. */
static char *
esc(const char *s, size_t n)
{
	struct buf b;
	char *r;

	buf_init(&b, 1 << 16);
	ck_assert_int_eq(html_esc(&b, s, n), 0);
	ck_assert_ptr_nonnull(r = buf_used(&b) ? strndup(buf_data(&b),
	    buf_used(&b)) : strdup(""));
	buf_free(&b);
	return r;
}

static void
esc_is(const char *s, size_t n, const char *want)
{
	char *got = esc(s, n);

	ck_assert_msg(strcmp(got, want) == 0, "esc: got '%s', want '%s'",
	    got, want);
	free(got);
}

START_TEST(escape_specials)
{
	esc_is("a&b", 3, "a&amp;b");
	esc_is("<img src=x onerror=alert(1)>", 28,
	    "&lt;img src=x onerror=alert(1)&gt;");
	esc_is("\"'", 2, "&quot;&#39;");
	esc_is("&amp;", 5, "&amp;amp;");
	esc_is("", 0, "");
	esc_is("plain text", 10, "plain text");
	/* valid UTF-8 stays as it is */
	esc_is("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14,
	    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	esc_is("a\tb\nc\rd", 7, "a\tb\nc\rd");
}
END_TEST

START_TEST(escape_invalid_utf8)
{
	/* a lone continuation byte, a cut sequence, an overlong '<', a
	   surrogate, past U+10FFFF, NUL and a control: all U+FFFD */
	esc_is("a\x80z", 3, "a\xef\xbf\xbdz");
	esc_is("\xe2\x82", 2, "\xef\xbf\xbd\xef\xbf\xbd");
	esc_is("\xc0\xbc", 2, "\xef\xbf\xbd\xef\xbf\xbd");
	esc_is("\xed\xa0\x80", 3,
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	esc_is("\xf4\x90\x80\x80", 4, "\xef\xbf\xbd\xef\xbf\xbd"
	    "\xef\xbf\xbd\xef\xbf\xbd");
	esc_is("a\0b", 3, "a\xef\xbf\xbd" "b");
	esc_is("\x1b[31m", 5, "\xef\xbf\xbd[31m");
	/* a broken byte right before a special */
	esc_is("\xff<", 2, "\xef\xbf\xbd&lt;");
}
END_TEST

START_TEST(escape_full_buffer)
{
	struct buf b;

	buf_init(&b, 8);
	ck_assert_int_eq(html_esc(&b, "<<<", 3), -1);
	ck_assert_uint_le(buf_used(&b), 8);
	buf_free(&b);
	buf_init(&b, 64);
	ck_assert_int_eq(html_str(&b, NULL), 0);
	ck_assert_uint_eq(buf_used(&b), 0);
	buf_free(&b);
}
END_TEST

START_TEST(url_component)
{
	struct buf b;

	buf_init(&b, 256);
	ck_assert_int_eq(html_url(&b, "a b&c=d/\"<'\xc3\xa9-._~"), 0);
	ck_assert_uint_eq(buf_used(&b), 35);
	ck_assert(memcmp(buf_data(&b), "a%20b%26c%3Dd%2F%22%3C%27%C3%A9-._~",
	    35) == 0);
	buf_free(&b);
}
END_TEST

START_TEST(form_parse)
{
	static const char bad[][24] = { "a=%", "a=%4", "a=%zz", "a=%00",
	    "a=%ff", "a=\xc3", "1&2&3&4&5&6&7&8&9" };
	struct html_form f;
	size_t i;
	int dup;
	char big[6000];

	ck_assert_int_eq(html_form_parse(&f, "token=a+b%2Bc&&x=&y", 19), 0);
	ck_assert_uint_eq(f.n, 3);
	ck_assert_str_eq(html_form_get(&f, "token", NULL), "a b+c");
	ck_assert_str_eq(html_form_get(&f, "x", NULL), "");
	ck_assert_str_eq(html_form_get(&f, "y", NULL), "");
	ck_assert_ptr_null(html_form_get(&f, "z", &dup));
	ck_assert_int_eq(dup, 0);
	ck_assert_int_eq(html_form_parse(&f, "a=1&a=2", 7), 0);
	ck_assert_ptr_null(html_form_get(&f, "a", &dup));
	ck_assert_int_eq(dup, 1);
	ck_assert_int_eq(html_form_parse(&f, "", 0), 0);
	ck_assert_uint_eq(f.n, 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(html_form_parse(&f, bad[i], strlen(bad[i])) ==
		    -1 && f.n == 0, "accepted %s", bad[i]);
	memset(big, 'x', sizeof(big));
	big[0] = 'a';
	big[1] = '=';
	ck_assert_int_eq(html_form_parse(&f, big, sizeof(big)), -1);
}
END_TEST

START_TEST(cookie_parse)
{
	char v[65];
	const char *h;

	h = "theme=dark; afu9_session=abc123; x=y";
	ck_assert_int_eq(html_cookie(h, strlen(h), "afu9_session", v,
	    sizeof(v)), 1);
	ck_assert_str_eq(v, "abc123");
	h = "afu9_session_old=1;afu9_session=z";
	ck_assert_int_eq(html_cookie(h, strlen(h), "afu9_session", v,
	    sizeof(v)), 1);
	ck_assert_str_eq(v, "z");
	h = "xafu9_session=1";
	ck_assert_int_eq(html_cookie(h, strlen(h), "afu9_session", v,
	    sizeof(v)), 0);
	h = "afu9_session=1; afu9_session=2";
	ck_assert_int_eq(html_cookie(h, strlen(h), "afu9_session", v,
	    sizeof(v)), -1);
	h = "afu9_session=0123456789012345678901234567890123456789012345678"
	    "901234567890123456789";
	ck_assert_int_eq(html_cookie(h, strlen(h), "afu9_session", v,
	    sizeof(v)), -1);
	ck_assert_int_eq(html_cookie("", 0, "afu9_session", v, sizeof(v)), 0);
}
END_TEST

/* What auth_token() found, for the checks below. */
static struct auth_result got;

static void
got_cb(const struct auth_result *r, void *arg)
{
	got = *r;
	(*(int *)arg)++;
}

/* The check of tok by peer for need (answered at once without a
   database); its status. */
static int
check(struct auth *au, const char *tok, const char *peer,
    enum auth_scope need)
{
	struct auth_need n = { need, NULL };
	int calls = 0;

	ck_assert_ptr_null(auth_token(au, tok, tok ? strlen(tok) : 0, peer,
	    "test", &n, got_cb, &calls));
	ck_assert_int_eq(calls, 1);
	return got.status;
}

START_TEST(auth_bootstrap)
{
	struct auth_opts o;
	struct auth *au;
	char e[256];

	memset(&o, 0, sizeof(o));
	ck_assert_ptr_null(auth_new(ev_default_loop(0), &o, e, sizeof(e)));
	ck_assert_msg(strstr(e, "AFU9_API_TOKEN"), "%s", e);
	o.bootstrap = TOKEN;
	ck_assert_ptr_nonnull(au = auth_new(ev_default_loop(0), &o, e,
	    sizeof(e)));
	ck_assert_int_eq(check(au, TOKEN, "p", AUTH_ADMIN), 0);
	ck_assert_str_eq(got.name, "bootstrap");
	ck_assert_int_eq(got.scope, AUTH_ADMIN);
	ck_assert(got.bootstrap);
	ck_assert_int_eq(check(au, TOKEN "x", "p", AUTH_READ), 401);
	ck_assert_str_eq(got.reason, "malformed");
	ck_assert_int_eq(check(au, "uitok-Hq8Zr2Lm5Vx9Kc3w", "p", AUTH_READ),
	    401);
	ck_assert_int_eq(check(au, NULL, "p", AUTH_READ), 401);
	ck_assert_str_eq(got.reason, "no token");
	ck_assert_int_eq(check(au, "afu9_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	    "AAAAAAA", "p", AUTH_READ), 401);
	ck_assert_str_eq(got.reason, "unknown token");
	/* nothing of the token is kept as text */
	ck_assert_ptr_null(memmem(au, 4096, TOKEN, strlen(TOKEN)));
	ck_assert_int_eq(auth_scope_parse("run", 3), AUTH_RUN);
	ck_assert_int_eq(auth_scope_parse("runs", 4), AUTH_NONE);
	ck_assert_str_eq(auth_scope_name(AUTH_READ), "read");
	auth_free(au);
}
END_TEST

START_TEST(auth_new_tokens)
{
	char t1[AUTH_TOKEN_LEN + 1], t2[AUTH_TOKEN_LEN + 1];
	unsigned char d1[AUTH_DIGEST_LEN], d2[AUTH_DIGEST_LEN];

	ck_assert_int_eq(auth_token_new(t1, d1), 0);
	ck_assert_int_eq(auth_token_new(t2, d2), 0);
	ck_assert_uint_eq(strlen(t1), AUTH_TOKEN_LEN);
	ck_assert(strncmp(t1, "afu9_", 5) == 0);
	ck_assert_str_ne(t1, t2);
	ck_assert(memcmp(d1, d2, sizeof(d1)) != 0);
	auth_token_digest(t1, strlen(t1), d2);
	ck_assert(memcmp(d1, d2, sizeof(d1)) == 0);
}
END_TEST

START_TEST(auth_sessions)
{
	static struct uiauth a;
	char s1[UIAUTH_SID_HEX + 1], s2[UIAUTH_SID_HEX + 1], bad[80];
	size_t i;

	struct uiauth_who who;

	memset(&who, 0, sizeof(who));
	who.scope = AUTH_RUN;
	snprintf(who.name, sizeof(who.name), "ops");
	ck_assert_int_eq(uiauth_init(&a, 100), 0);
	uiauth_open(&a, 1000, &who, s1);
	uiauth_open(&a, 1000, NULL, s2);
	ck_assert_uint_eq(strlen(s1), UIAUTH_SID_HEX);
	ck_assert_uint_eq(strspn(s1, "0123456789abcdef"), UIAUTH_SID_HEX);
	ck_assert_str_ne(s1, s2);
	ck_assert(uiauth_check(&a, s1, 1050));
	ck_assert(uiauth_check(&a, s2, 1050));
	/* who logged in, remembered */
	ck_assert_int_eq(uiauth_check(&a, s1, 1050)->who.scope, AUTH_RUN);
	ck_assert_str_eq(uiauth_check(&a, s1, 1050)->who.name, "ops");
	ck_assert_int_eq(uiauth_check(&a, s2, 1050)->who.scope, 0);
	/* the id itself is not in the table */
	ck_assert_ptr_null(memmem(&a, sizeof(a), s1, UIAUTH_SID_HEX));
	/* expiry */
	ck_assert(!uiauth_check(&a, s1, 1100));
	/* form: upper case, short, long, not hex, NULL */
	uiauth_open(&a, 2000, NULL, s1);
	snprintf(bad, sizeof(bad), "%s", s1);
	for (i = 0; bad[i]; i++)
		if (bad[i] >= 'a')
			bad[i] -= 32;
	ck_assert(strcmp(bad, s1) == 0 || !uiauth_check(&a, bad, 2001));
	snprintf(bad, sizeof(bad), "%.63s", s1);
	ck_assert(!uiauth_check(&a, bad, 2001));
	snprintf(bad, sizeof(bad), "%s0", s1);
	ck_assert(!uiauth_check(&a, bad, 2001));
	ck_assert(!uiauth_check(&a, NULL, 2001));
	ck_assert(!uiauth_check(&a, TOKEN, 2001));
	/* logout ends that session only */
	uiauth_open(&a, 2000, NULL, s2);
	uiauth_close(&a, s1);
	ck_assert(!uiauth_check(&a, s1, 2001));
	ck_assert(uiauth_check(&a, s2, 2001));
	uiauth_close(&a, "not-one");
	uiauth_clear(&a);
}
END_TEST

START_TEST(auth_table_full)
{
	static struct uiauth a;
	char first[UIAUTH_SID_HEX + 1], last[UIAUTH_SID_HEX + 1];
	size_t i;

	ck_assert_int_eq(uiauth_init(&a, 100000), 0);
	uiauth_open(&a, 0, NULL, first);
	for (i = 1; i < UIAUTH_SESSIONS_MAX; i++)
		uiauth_open(&a, (double)i, NULL, last);
	ck_assert(uiauth_check(&a, first, 2000));
	/* one more: the one closest to expiring (the first) goes */
	uiauth_open(&a, 2000, NULL, last);
	ck_assert(!uiauth_check(&a, first, 2001));
	ck_assert(uiauth_check(&a, last, 2001));
	uiauth_clear(&a);
}
END_TEST

/* The failure budgets: a peer's, everyone's; no token spends none;
   a spent budget refuses the right token too. */
START_TEST(auth_rate_limit)
{
	struct auth_opts o;
	struct auth *au;
	char e[256], p[32];
	int i;

	memset(&o, 0, sizeof(o));
	o.bootstrap = TOKEN;
	ck_assert_ptr_nonnull(au = auth_new(ev_default_loop(0), &o, e,
	    sizeof(e)));
	for (i = 0; i < 3 * AUTH_FAIL_BURST; i++)
		ck_assert_int_eq(check(au, NULL, "10.0.0.1", AUTH_READ), 401);
	for (i = 0; i < AUTH_FAIL_BURST; i++)
		ck_assert_int_eq(check(au, "wrong", "10.0.0.1", AUTH_READ),
		    401);
	ck_assert_int_eq(check(au, "wrong", "10.0.0.1", AUTH_READ), 429);
	ck_assert(got.retry_after >= 1 && got.retry_after <=
	    (unsigned)AUTH_FAIL_REFILL_S + 1);
	ck_assert_int_eq(check(au, TOKEN, "10.0.0.1", AUTH_READ), 429);
	/* another peer is not held up */
	ck_assert_int_eq(check(au, TOKEN, "10.0.0.2", AUTH_READ), 0);
	/* every client together: held up after AUTH_ALL_BURST */
	for (i = 0; i < AUTH_ALL_BURST; i++) {
		snprintf(p, sizeof(p), "192.0.2.%d", i % 200);
		(void)check(au, "wrong", p, AUTH_READ);
	}
	ck_assert_int_eq(check(au, TOKEN, "198.51.100.1", AUTH_READ), 429);
	auth_free(au);
}
END_TEST

/* ---- through the binary ---- */

struct afu9 {
	struct tproc	 p;
	int		 port;
	char		*log;
};

static void
start(struct afu9 *a, int token)
{
	const char *cfg = ot_write_config(tmpdir, "ui.json", "{\"mcpServers\":"
	    "{\"conf\":{\"command\":\"@SERVER@\"}},\"afu9\":{\"http\":{"
	    "\"listen\":\"127.0.0.1:0\"},\"shutdownGraceMs\":2000}}");
	const char *args[] = { "serve", "--config", cfg, NULL };
	char *at;
	int eof;

	unsetenv("DATABASE_URL");
	if (token)
		setenv("AFU9_API_TOKEN", TOKEN, 1);
	else
		unsetenv("AFU9_API_TOKEN");
	ot_spawn_afu9(&a->p, args);
	a->log = t_read_until(a->p.err, "(port ", 20000 * t_slow(), &eof);
	ck_assert_msg(a->log && (at = strstr(a->log, "(port ")) != NULL,
	    "no listening line: %s", a->log ? a->log : "(nothing)");
	a->port = atoi(at + 6);
}

static void
stop(struct afu9 *a)
{
	char *rest;
	int eof, st;

	kill(a->p.pid, SIGTERM);
	rest = t_read_until(a->p.err, "\001never", 20000 * t_slow(), &eof);
	close(a->p.in);
	st = t_finish(&a->p, 20000 * t_slow());
	close(a->p.out);
	close(a->p.err);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	ck_assert_msg(!strstr(a->log, TOKEN) && !(rest && strstr(rest,
	    TOKEN)), "the token in the log");
	free(rest);
	free(a->log);
}

/* The whole response (head and body) to req; its status. */
static int
http(int port, const char *req, char **resp)
{
	struct sockaddr_in sa;
	int fd, eof, status = -1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(fd = socket(AF_INET, SOCK_STREAM, 0), 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(t_write(fd, req, strlen(req)), 0);
	*resp = t_read_until(fd, "\001never", 10000 * t_slow(), &eof);
	close(fd);
	ck_assert_ptr_nonnull(*resp);
	sscanf(*resp, "HTTP/1.1 %d", &status);
	return status;
}

static int
get(int port, const char *path, const char *cookie, char **resp)
{
	char req[1024];

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
	    "%s%s%sConnection: close\r\n\r\n", path, port, cookie ?
	    "Cookie: afu9_session=" : "", cookie ? cookie : "", cookie ?
	    "\r\n" : "");
	return http(port, req, resp);
}

/* POST /ui/login with body; extra header lines (each ending CRLF). */
static int
login(int port, const char *body, const char *extra, char **resp)
{
	char req[8192];

	snprintf(req, sizeof(req), "POST /ui/login HTTP/1.1\r\nHost: "
	    "127.0.0.1:%d\r\nContent-Type: application/x-www-form-urlencoded"
	    "\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n%s", port,
	    strlen(body), extra, body);
	return http(port, req, resp);
}

static char *
origin(int port)
{
	static char o[128];

	snprintf(o, sizeof(o), "Origin: http://127.0.0.1:%d\r\n", port);
	return o;
}

/* The afu9_session value of a Set-Cookie in resp, into sid. */
static int
cookie_of(const char *resp, char *sid)
{
	const char *p = strstr(resp, "Set-Cookie: afu9_session=");

	if (p == NULL)
		return -1;
	p += 25;
	snprintf(sid, UIAUTH_SID_HEX + 1, "%.*s", (int)strcspn(p, ";\r"), p);
	return 0;
}

START_TEST(no_token_no_console)
{
	struct afu9 a;
	char *r;

	start(&a, 0);
	ck_assert_int_eq(get(a.port, "/ui/", NULL, &r), 404);
	free(r);
	ck_assert_int_eq(get(a.port, "/ui/login", NULL, &r), 404);
	free(r);
	stop(&a);
}
END_TEST

START_TEST(login_flow)
{
	struct afu9 a;
	char *r, sid[UIAUTH_SID_HEX + 1], sid2[UIAUTH_SID_HEX + 1], body[256],
	    xh[256];
	int i;

	start(&a, 1);
	/* no session: to the login */
	ck_assert_int_eq(get(a.port, "/ui/", NULL, &r), 303);
	ck_assert_msg(strstr(r, "\r\nLocation: /ui/login\r\n"), "%s", r);
	free(r);
	ck_assert_int_eq(get(a.port, "/ui/executions?status=failed", NULL,
	    &r), 303);
	free(r);
	/* the form, with the console's headers */
	ck_assert_int_eq(get(a.port, "/ui/login", NULL, &r), 200);
	ck_assert_msg(strstr(r, "Content-Security-Policy: default-src 'self'; "
	    "script-src 'self'; style-src 'self'; img-src 'self' data:; "
	    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
	    "%s", r);
	ck_assert(strstr(r, "X-Content-Type-Options: nosniff"));
	ck_assert(strstr(r, "Referrer-Policy: same-origin"));
	ck_assert(strstr(r, "Cache-Control: no-store"));
	ck_assert(strstr(r, "<form method=\"post\" action=\"/ui/login\""));
	ck_assert(!strstr(r, "unsafe-inline"));
	free(r);
	/* static files, cached, no session needed */
	ck_assert_int_eq(get(a.port, "/ui/static/console.css", NULL, &r), 200);
	ck_assert(strstr(r, "Content-Type: text/css"));
	ck_assert(strstr(r, "Cache-Control: public, max-age="));
	free(r);
	ck_assert_int_eq(get(a.port, "/ui/static/console.js", NULL, &r), 200);
	ck_assert(strstr(r, "Content-Type: text/javascript"));
	ck_assert(strstr(r, "EventSource"));
	free(r);
	/* a wrong token: the form again with its error */
	ck_assert_int_eq(login(a.port, "token=nope", origin(a.port), &r), 401);
	ck_assert(strstr(r, "That is not a valid token"));
	ck_assert(!strstr(r, "Set-Cookie"));
	free(r);
	/* posted from elsewhere, or from nowhere said */
	ck_assert_int_eq(login(a.port, "token=" TOKEN, "Origin: "
	    "https://evil.example\r\n", &r), 403);
	ck_assert(!strstr(r, "Set-Cookie"));
	free(r);
	ck_assert_int_eq(login(a.port, "token=" TOKEN, "", &r), 403);
	free(r);
	snprintf(xh, sizeof(xh), "Referer: http://127.0.0.1:%d/ui/login\r\n",
	    a.port);
	ck_assert_int_eq(login(a.port, "token=" TOKEN, xh, &r), 303);
	free(r);
	/* the right token: a session cookie that is not the token */
	ck_assert_int_eq(login(a.port, "token=" TOKEN, origin(a.port), &r),
	    303);
	ck_assert_msg(strstr(r, "\r\nLocation: /ui/\r\n"), "%s", r);
	ck_assert_int_eq(cookie_of(r, sid), 0);
	ck_assert_uint_eq(strlen(sid), UIAUTH_SID_HEX);
	ck_assert_uint_eq(strspn(sid, "0123456789abcdef"), UIAUTH_SID_HEX);
	ck_assert(!strstr(r, TOKEN));
	ck_assert(strstr(r, "; Path=/ui/; HttpOnly; SameSite=Strict"));
	ck_assert(!strstr(r, "Secure"));
	free(r);
	/* through TLS (the load balancer says so): Secure */
	snprintf(xh, sizeof(xh), "X-Forwarded-Proto: https\r\nOrigin: "
	    "https://127.0.0.1:%d\r\n", a.port);
	ck_assert_int_eq(login(a.port, "token=" TOKEN, xh, &r), 303);
	ck_assert(strstr(r, "HttpOnly; SameSite=Strict; Max-Age="));
	ck_assert(strstr(r, "; Secure\r\n"));
	ck_assert_int_eq(cookie_of(r, sid2), 0);
	ck_assert_str_ne(sid, sid2);
	free(r);
	/* pages with the cookie; the server's tools once it is ready */
	for (i = 0; ; i++) {
		ck_assert_int_eq(get(a.port, "/ui/servers", sid, &r), 200);
		if (strstr(r, "<code>echo</code>") || i == 200)
			break;
		free(r);
		usleep(100000);
	}
	ck_assert_msg(strstr(r, "<code>echo</code>"), "%s", r);
	ck_assert(strstr(r, "&quot;type&quot;:&quot;object&quot;"));
	ck_assert(strstr(r, "Cache-Control: no-store"));
	free(r);
	/* without a database: the overview says so, the lists 503 */
	ck_assert_int_eq(get(a.port, "/ui/", sid, &r), 200);
	ck_assert(strstr(r, "DATABASE_URL is not set"));
	free(r);
	ck_assert_int_eq(get(a.port, "/ui/executions", sid, &r), 503);
	free(r);
	ck_assert_int_eq(get(a.port, "/ui/webhooks", sid, &r), 503);
	free(r);
	ck_assert_int_eq(get(a.port, "/ui/webhooks?outcome=lost", sid, &r),
	    400);
	free(r);
	ck_assert_int_eq(get(a.port, "/ui/nothing-here", sid, &r), 404);
	free(r);
	/* a made-up cookie is no session */
	ck_assert_int_eq(get(a.port, "/ui/servers", "0123456789abcdef0123"
	    "456789abcdef0123456789abcdef0123456789abcdef", &r), 303);
	free(r);
	/* logout (from the console's own page only) ends it */
	snprintf(body, sizeof(body), "POST /ui/logout HTTP/1.1\r\nHost: "
	    "127.0.0.1:%d\r\nCookie: afu9_session=%s\r\nContent-Length: 0"
	    "\r\nConnection: close\r\n\r\n", a.port, sid);
	ck_assert_int_eq(http(a.port, body, &r), 403);
	free(r);
	snprintf(body, sizeof(body), "POST /ui/logout HTTP/1.1\r\nHost: "
	    "127.0.0.1:%d\r\nOrigin: http://127.0.0.1:%d\r\nCookie: "
	    "afu9_session=%s\r\nContent-Length: 0\r\nConnection: close\r\n"
	    "\r\n", a.port, a.port, sid);
	ck_assert_int_eq(http(a.port, body, &r), 303);
	ck_assert(strstr(r, "Max-Age=0"));
	free(r);
	ck_assert_int_eq(get(a.port, "/ui/servers", sid, &r), 303);
	free(r);
	ck_assert_int_eq(get(a.port, "/ui/servers", sid2, &r), 200);
	free(r);
	stop(&a);
}
END_TEST

START_TEST(login_limits)
{
	struct afu9 a;
	char *r, big[4200];
	int i;

	start(&a, 1);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "token=", 6);
	ck_assert_int_eq(login(a.port, big, origin(a.port), &r), 413);
	free(r);
	for (i = 0; i < AUTH_FAIL_BURST; i++) {
		ck_assert_int_eq(login(a.port, "token=wrong", origin(a.port),
		    &r), 401);
		free(r);
	}
	/* budget spent: refused even with the right token, for now */
	ck_assert_int_eq(login(a.port, "token=" TOKEN, origin(a.port), &r),
	    429);
	ck_assert(strstr(r, "Retry-After: "));
	ck_assert(!strstr(r, "Set-Cookie"));
	free(r);
	stop(&a);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("ui");
	TCase *tc = tcase_create("html");
	TCase *ta = tcase_create("auth");
	TCase *tb = tcase_create("binary");

	tcase_add_test(tc, escape_specials);
	tcase_add_test(tc, escape_invalid_utf8);
	tcase_add_test(tc, escape_full_buffer);
	tcase_add_test(tc, url_component);
	tcase_add_test(tc, form_parse);
	tcase_add_test(tc, cookie_parse);
	suite_add_tcase(s, tc);
	tcase_add_test(ta, auth_bootstrap);
	tcase_add_test(ta, auth_new_tokens);
	tcase_add_test(ta, auth_sessions);
	tcase_add_test(ta, auth_table_full);
	tcase_add_test(ta, auth_rate_limit);
	suite_add_tcase(s, ta);
	tcase_set_timeout(tb, 120);
	tcase_add_test(tb, no_token_no_console);
	tcase_add_test(tb, login_flow);
	tcase_add_test(tb, login_limits);
	suite_add_tcase(s, tb);
	return ot_main(s, tmpdir);
}
