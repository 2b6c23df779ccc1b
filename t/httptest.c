/*
 * httptest: see httptest.h.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <check.h>
#include <jansson.h>

#include "httptest.h"
#include "testutil.h"

/* How long an answer may take: generous, the machine may be loaded. */
#define ANSWER_MS	15000

void
ht_resp_free(struct ht_resp *r)
{
	free(r->head);
	free(r->body);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

int
ht_dial(int port)
{
	struct sockaddr_in sa;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(fd = socket(AF_INET, SOCK_STREAM, 0), 0);
	ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0,
	    "connect to port %d: %s", port, strerror(errno));
	return fd;
}

void
ht_parse(const char *text, struct ht_resp *r)
{
	const char *sep = strstr(text, "\r\n\r\n");

	memset(r, 0, sizeof(*r));
	r->status = -1;
	sscanf(text, "HTTP/1.1 %d", &r->status);
	if (sep != NULL) {
		ck_assert_ptr_nonnull(r->head = strndup(text,
		    (size_t)(sep - text)));
		ck_assert_ptr_nonnull(r->body = strdup(sep + 4));
	} else {
		ck_assert_ptr_nonnull(r->head = strdup(text));
		ck_assert_ptr_nonnull(r->body = strdup(""));
	}
	r->json = json_loads(r->body, 0, NULL);
}

char *
ht_header(const struct ht_resp *r, const char *name)
{
	char pat[128], *at, *end;

	snprintf(pat, sizeof(pat), "\r\n%s: ", name);
	if (r->head == NULL || (at = strcasestr(r->head, pat)) == NULL)
		return NULL;
	at += strlen(pat);
	end = strstr(at, "\r\n");
	return strndup(at, end ? (size_t)(end - at) : strlen(at));
}

char *
ht_format(const char *method, const char *path, const char *tok,
    const char *extra, const char *body, int keepalive)
{
	char *s, cl[48] = "";

	if (body || keepalive)
		snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n",
		    body ? strlen(body) : 0);
	ck_assert_int_ne(asprintf(&s, "%s %s HTTP/1.1\r\nHost: t\r\n%s"
	    "%s%s%s%s%s%s\r\n%s", method, path,
	    keepalive ? "" : "Connection: close\r\n",
	    tok ? "Authorization: Bearer " : "", tok ? tok : "",
	    tok ? "\r\n" : "", extra ? extra : "",
	    body && !(extra && strcasestr(extra, "content-type:")) ?
	    "Content-Type: application/json\r\n" : "", cl, body ? body : ""),
	    -1);
	return s;
}

void
ht_send(int port, const char *head, const char *body, size_t blen,
    struct ht_resp *r)
{
	char *all;
	int fd = ht_dial(port), eof;

	(void)t_write(fd, head, strlen(head));
	if (body)
		(void)t_write(fd, body, blen);
	all = t_read_until(fd, "\001never", ANSWER_MS * t_slow(), &eof);
	close(fd);
	ck_assert_msg(all != NULL, "no answer from port %d", port);
	ht_parse(all, r);
	free(all);
}

void
ht_req(int port, const char *method, const char *path, const char *tok,
    const char *extra, const char *body, struct ht_resp *r)
{
	char *s = ht_format(method, path, tok, extra, body, 0);

	ht_send(port, s, NULL, 0, r);
	free(s);
}

void
ht_read_one(int fd, struct ht_resp *r)
{
	char buf[65536], *sep, *cl;
	size_t n = 0, need = 0;
	ssize_t k;
	double end = t_now_ms() + ANSWER_MS * t_slow();

	for (;;) {
		buf[n] = '\0';
		if ((sep = strstr(buf, "\r\n\r\n")) != NULL) {
			*sep = '\0';
			cl = strcasestr(buf, "\r\nContent-Length: ");
			*sep = '\r';
			need = (size_t)(sep + 4 - buf) + (cl ? strtoul(cl + 18,
			    NULL, 10) : 0);
			if (n >= need)
				break;
		}
		ck_assert_msg(n < sizeof(buf) - 1, "answer too large");
		ck_assert_msg(t_now_ms() < end, "no answer: %s", buf);
		k = recv(fd, buf + n, sizeof(buf) - 1 - n, 0);
		if (k == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		ck_assert_msg(k > 0, "connection closed after %zu bytes: %s",
		    n, buf);
		n += (size_t)k;
	}
	/* One request was sent: anything after its answer is wrong. */
	ck_assert_msg(n == need, "%zu bytes past the answer", n - need);
	ht_parse(buf, r);
}

void
ht_kreq(int fd, const char *method, const char *path, const char *tok,
    const char *extra, const char *body, struct ht_resp *r)
{
	char *s = ht_format(method, path, tok, extra, body, 1);

	ck_assert_int_eq(t_write(fd, s, strlen(s)), 0);
	free(s);
	ht_read_one(fd, r);
}
