/*
 * httptest: a plain HTTP/1.1 client for the tests of afu9's routes
 * (t/test_auth, t/test_wfapi, t/test_webhooks, t/test_mcphttp), over
 * loopback TCP.  It writes exactly what it is told, so a test can send
 * what a real client would not; answers are framed by Content-Length or
 * read to EOF.  Failures abort the current Check test.
 */
#ifndef AFU9_HTTPTEST_H
#define AFU9_HTTPTEST_H

#include <stddef.h>

#include <jansson.h>

struct ht_resp {
	int	 status;	/* -1: no status line */
	char	*head;		/* status line and fields, without CRLFCRLF */
	char	*body;
	json_t	*json;		/* the body parsed, or NULL */
};

void	 ht_resp_free(struct ht_resp *);
/* A connected TCP socket to 127.0.0.1:port. */
int	 ht_dial(int port);
/* An answer's text (status line to end) split into *r. */
void	 ht_parse(const char *text, struct ht_resp *r);
/* The value of the first field called name (any case; malloc'd), or NULL. */
char	*ht_header(const struct ht_resp *r, const char *name);

/*
 * A request's text: "METHOD PATH HTTP/1.1", Host: t, Connection: close
 * unless keepalive, Authorization: Bearer tok (NULL: none), the extra
 * field lines (each ending in CRLF; NULL: none), for a body
 * Content-Type: application/json unless extra has a Content-Type, and
 * Content-Length (for a body, or always on a kept-alive connection);
 * then the blank line and body.  Malloc'd.
 */
char	*ht_format(const char *method, const char *path, const char *tok,
	    const char *extra, const char *body, int keepalive);

/*
 * On a connection of its own: write head (the whole head, blank line
 * included) and then body[blen] (write errors are ignored: a server may
 * refuse a large body before it is all sent), read the answer to EOF.
 */
void	 ht_send(int port, const char *head, const char *body, size_t blen,
	    struct ht_resp *r);
/* ht_format() (Connection: close) sent with ht_send(). */
void	 ht_req(int port, const char *method, const char *path,
	    const char *tok, const char *extra, const char *body,
	    struct ht_resp *r);
/* One Content-Length framed answer from fd, which stays open. */
void	 ht_read_one(int fd, struct ht_resp *r);
/* ht_format() (keep-alive) written on fd, one answer read. */
void	 ht_kreq(int fd, const char *method, const char *path,
	    const char *tok, const char *extra, const char *body,
	    struct ht_resp *r);

#endif
