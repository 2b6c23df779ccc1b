/*
 * provider_int: what provider.c, provider_openai.c and provider_anthropic.c
 * share, not for users of provider.h.
 */
#ifndef AFU9_PROVIDER_INT_H
#define AFU9_PROVIDER_INT_H

#include "buf.h"
#include "provider.h"

void	prov_seterr(char *err, size_t errlen, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Mark r failed with class e and a message (cut, redacted); returns -1. */
int	prov_fail(struct prov_reply *r, enum prov_err e, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	prov_call_free(struct prov_call *);

/* A streamed (or whole) reply being put together. */
struct pacc_call {
	char		*id;
	char		*name;
	json_t		*input;		/* Anthropic: content_block_start's */
	struct buf	 args;		/* the arguments' text so far */
	int		 closed;	/* Anthropic: content_block_stop seen */
};

struct prov_stream {
	enum prov_kind		 kind;
	const struct prov_conv	*conv;
	struct prov_reply	 r;
	struct buf		 text;
	struct pacc_call	 calls[PROV_MAX_CALLS];
	size_t			 ncalls;
	int			 blocks[PROV_MAX_BLOCKS]; /* Anthropic: index ->
						    call, -1 text, -2 other */
	size_t			 nblocks;
	int			 started;	/* message_start / a first chunk */
	int			 done;		/* [DONE] / message_stop */
	int			 failed;
};

/* Append text to the reply (bounded by PROV_MAX_TEXT); 0 or -1 (failed). */
int	pacc_text(struct prov_stream *, const char *s, size_t len);
/* A new call; NULL (failed) past PROV_MAX_CALLS. */
struct pacc_call *pacc_call(struct prov_stream *);
int	pacc_args(struct prov_stream *, struct pacc_call *, const char *s,
	    size_t len);
/* Hand what was assembled to the reply: calls get their parsed arguments
   and "server.tool" names; 0 or -1 (ENOMEM: failed). */
int	pacc_close(struct prov_stream *);
int	pacc_usage_num(const json_t *v, const char *key, uint64_t *out,
	    int *seen);

/* Classify an error object {type, message, code} under status. */
void	prov_classify(enum prov_kind, int status, const json_t *error,
	    struct prov_reply *r);

/*
 * prov_request_text()'s serialised pieces (provider.h), kept in the
 * conversation.  Any failure drops them all: the next request starts
 * over.
 */
struct prov_ser {
	enum prov_kind	 kind;
	int		 sys_ok, tools_ok;
	struct buf	 sys;	/* OpenAI: the system message; Anthropic:
				   the "system" array; empty: none */
	struct buf	 tools;	/* the "tools" array; empty: none */
	struct buf	 msgs;	/* OpenAI: the messages so far; Anthropic:
				   the turns before the last; ','-separated */
	size_t		 done;	/* messages of the conversation in it */
	int		 role;	/* Anthropic: the last turn's, still open to
				   more blocks: 0 user, 1 assistant, -1 none */
	struct buf	 turn;	/* ... its blocks, ','-separated */
};

void	prov_ser_reset(struct prov_ser *);
/* Append v's compact text to b, after a ',' if b is not empty and comma
   is set; steals v.  0, or -1 (ENOMEM, v NULL) with b unchanged. */
int	prov_ser_put(struct buf *b, int comma, json_t *v);
/* s as a JSON string's text (malloc'd), or NULL (ENOMEM, not UTF-8). */
char	*prov_ser_str(const char *s);
/* A literal piece of prov_ser_join()'s p[] and n[] at np. */
#define PIECE_LIT(s)	do { p[np] = (s); n[np++] = sizeof(s) - 1; } while (0)
/* The body from pieces (p[i], n[i]; NULL pieces skipped): malloc'd,
   NUL-terminated, its length in *len; NULL on ENOMEM. */
char	*prov_ser_join(const char *const *p, const size_t *n, size_t np,
	    size_t *len);

/* The providers' halves. */
int	prov_openai_request(const struct prov_conv *, const struct prov_opts *,
	    json_t *body, char *err, size_t errlen);
int	prov_anthropic_request(const struct prov_conv *,
	    const struct prov_opts *, json_t *body, char *err, size_t errlen);
/* The text of the body (prov_request_text()); c->ser set up for the
   kind.  Malloc'd, or NULL with err. */
char	*prov_openai_text(struct prov_conv *, const struct prov_opts *,
	    size_t *len, char *err, size_t errlen);
char	*prov_anthropic_text(struct prov_conv *, const struct prov_opts *,
	    size_t *len, char *err, size_t errlen);
int	prov_openai_body(struct prov_stream *, const json_t *body);
int	prov_anthropic_body(struct prov_stream *, const json_t *body);
int	prov_openai_event(struct prov_stream *, const struct sse_event *);
int	prov_anthropic_event(struct prov_stream *, const struct sse_event *);

#endif /* AFU9_PROVIDER_INT_H */
