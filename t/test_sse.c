/*
 * sse: the event stream reader against the standard's rules (each case
 * with the events it must give), every case cut at every byte and fed
 * one byte at a time (the events must not change), the bounds, a
 * callback that stops the reader, and the provider streams of
 * t/fixtures/sse/ (OpenAI-compatible and Anthropic, as they send them).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <jansson.h>

#include "buf.h"
#include "sse.h"
#include "utf8.h"
#include "testutil.h"

/* What a run gave: "type|id|data\n" per event, data's LF shown as \n. */
struct got {
	char	 s[65536];
	size_t	 n;
	int	 events;
	int	 stop_at;	/* stop (return 1) at this event; 0: never */
	int	 valid;		/* every field was valid UTF-8 */
};

static void
add(struct got *g, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && g->n + 3 < sizeof(g->s); i++) {
		if (s[i] == '\n') {
			g->s[g->n++] = '\\';
			g->s[g->n++] = 'n';
		} else if (s[i] == '\0') {
			g->s[g->n++] = '\\';
			g->s[g->n++] = '0';
		} else
			g->s[g->n++] = s[i];
	}
	g->s[g->n] = '\0';
}

static int
on_event(const struct sse_event *ev, void *arg)
{
	struct got *g = arg;

	if (!u8_valid(ev->type, strlen(ev->type)) ||
	    !u8_valid(ev->id, strlen(ev->id)) || !u8_valid(ev->data, ev->len) ||
	    ev->data[ev->len] != '\0')
		g->valid = 0;
	add(g, ev->type, strlen(ev->type));
	add(g, "|", 1);
	add(g, ev->id, strlen(ev->id));
	add(g, "|", 1);
	add(g, ev->data, ev->len);
	if (g->n + 1 < sizeof(g->s)) {
		g->s[g->n++] = '\n';	/* between events: not escaped */
		g->s[g->n] = '\0';
	}
	g->events++;
	return g->stop_at != 0 && g->events == g->stop_at;
}

/* Feed in[0..len) cut at the offsets cuts[0..ncuts) (ascending); the
   events, sse_finish()'s value in *left and the last retry. */
static void
run(const char *in, size_t len, const size_t *cuts, size_t ncuts,
    size_t max, struct got *g, int *left, long *retry)
{
	struct sse p;
	size_t i, from = 0, to;

	memset(g, 0, sizeof(*g));
	g->valid = 1;
	sse_init(&p, max, on_event, g);
	for (i = 0; i <= ncuts; i++) {
		to = i < ncuts ? cuts[i] : len;
		ck_assert_int_eq(sse_feed(&p, in + from, to - from, NULL), 0);
		from = to;
	}
	*retry = p.retry_ms;
	*left = sse_finish(&p);
	sse_free(&p);
}

/* The events of in, the same whole, cut once anywhere, and byte by byte. */
static void
check_every_cut(const char *name, const char *in, size_t len,
    const char *want, int want_left, long want_retry)
{
	struct got g;
	size_t cut, *all;
	int left;
	long retry;

	run(in, len, NULL, 0, 0, &g, &left, &retry);
	ck_assert_msg(strcmp(g.s, want) == 0, "%s: got\n%s\nwant\n%s", name,
	    g.s, want);
	ck_assert_msg(g.valid, "%s: not UTF-8", name);
	ck_assert_msg(left == want_left, "%s: left %d", name, left);
	ck_assert_msg(retry == want_retry, "%s: retry %ld", name, retry);
	for (cut = 1; cut < len; cut++) {
		run(in, len, &cut, 1, 0, &g, &left, &retry);
		ck_assert_msg(strcmp(g.s, want) == 0 && left == want_left &&
		    retry == want_retry, "%s cut at %zu: got\n%s", name, cut,
		    g.s);
	}
	if (len < 2)
		return;
	ck_assert_ptr_nonnull(all = calloc(len - 1, sizeof(*all)));
	for (cut = 1; cut < len; cut++)
		all[cut - 1] = cut;
	run(in, len, all, len - 1, 0, &g, &left, &retry);
	ck_assert_msg(strcmp(g.s, want) == 0 && left == want_left,
	    "%s byte by byte: got\n%s", name, g.s);
	free(all);
}

static const struct {
	const char	*name, *in;
	size_t		 len;		/* 0: strlen(in) */
	const char	*want;
	int		 left;
	long		 retry;
} cases[] = {
	{ "one event", "data: hello\n\n", 0, "message||hello\n", 0, -1 },
	{ "LF, CR and CRLF ends", "data: a\r\rdata: b\r\n\r\ndata: c\n\n", 0,
	  "message||a\nmessage||b\nmessage||c\n", 0, -1 },
	{ "CRLF inside an event", "event: x\r\ndata: a\r\ndata: b\r\n\r\n", 0,
	  "x||a\\nb\n", 0, -1 },
	{ "lines joined with LF", "data: one\ndata:two\ndata\ndata: \n\n", 0,
	  "message||one\\ntwo\\n\\n\n", 0, -1 },
	{ "one space dropped, no more", "data:  two spaces\ndata:\ttab\n\n",
	  0, "message|| two spaces\\n\ttab\n", 0, -1 },
	{ "event type, reset after", "event: delta\ndata: 1\n\ndata: 2\n\n",
	  0, "delta||1\nmessage||2\n", 0, -1 },
	{ "the type of an event without data is forgotten",
	  "event: lost\n\ndata: x\n\n", 0, "message||x\n", 0, -1 },
	{ "no data: no event", "event: e\nid: 1\n\n\n\n", 0, "", 0, -1 },
	{ "data alone is an event with empty data", "data\n\n", 0,
	  "message||\n", 0, -1 },
	{ "comments and unknown fields", ": keep-alive\n:\nfoo: bar\n"
	  "Data: x\ndata: y\n\n", 0, "message||y\n", 0, -1 },
	{ "id kept across events", "id: 7\ndata: a\n\ndata: b\n\nid\ndata: c"
	  "\n\n", 0, "message|7|a\nmessage|7|b\nmessage||c\n", 0, -1 },
	{ "an id holding NUL is ignored", "id: 1\ndata: a\n\nid: 2\0x\ndata:"
	  " b\n\n", 32, "message|1|a\nmessage|1|b\n", 0, -1 },
	{ "retry: digits only", "retry: 1500\ndata: a\n\nretry: 2x\nretry:\n"
	  "retry: -1\n\n", 0, "message||a\n", 0, 1500 },
	{ "retry past a day is a day", "retry: 99999999999999999999\n\n", 0,
	  "", 0, 86400000 },
	{ "a BOM at the start is dropped", "\xef\xbb\xbf" "data: a\n\n", 0,
	  "message||a\n", 0, -1 },
	{ "only the first BOM", "\xef\xbb\xbf\xef\xbb\xbf" "data: a\n\n"
	  "data: b\n\n", 0, "message||b\n", 0, -1 },
	{ "a BOM's first bytes, then text", "\xef\xbb" "data: x\n\n"
	  "data: y\n\n", 0, "message||y\n", 0, -1 },
	{ "the last event without its empty line is not one",
	  "data: a\n\ndata: b\n", 0, "message||a\n", 1, -1 },
	{ "a last line without its end", "data: a\n\ndata: b", 0,
	  "message||a\n", 1, -1 },
	{ "invalid UTF-8 becomes U+FFFD", "data: a\xff" "b\xc3\n"
	  "event: t\xe2\x82\n\n", 0,
	  "t\xef\xbf\xbd\xef\xbf\xbd||a\xef\xbf\xbd" "b\xef\xbf\xbd\n", 0,
	  -1 },
	{ "UTF-8 kept whole", "data: Gr\xc3\xbc\xc3\x9f" "e \xf0\x9f\x9a\x80"
	  "\n\n", 0, "message||Gr\xc3\xbc\xc3\x9f" "e \xf0\x9f\x9a\x80\n", 0,
	  -1 },
	{ "NUL in data is kept", "data: a\0b\n\n", 11, "message||a\\0b\n", 0,
	  -1 },
	{ "empty stream", "", 0, "", 0, -1 },
};

START_TEST(standard_rules)
{
	size_t len = cases[_i].len ? cases[_i].len : strlen(cases[_i].in);

	check_every_cut(cases[_i].name, cases[_i].in, len, cases[_i].want,
	    cases[_i].left, cases[_i].retry);
}
END_TEST

/* A line, or one event's data, over max: EMSGSIZE, then EINVAL. */
START_TEST(bounds)
{
	struct got g;
	struct sse p;
	char big[64];

	memset(&g, 0, sizeof(g));
	sse_init(&p, 16, on_event, &g);
	ck_assert_int_eq(sse_feed(&p, "data: 0123456789\n\n", 18, NULL), 0);
	ck_assert_int_eq(g.events, 1);	/* the line is 16: at the bound */
	ck_assert_int_eq(sse_feed(&p, "data: 0123456789a\n", 18, NULL), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_int_eq(sse_feed(&p, "\n\n", 2, NULL), -1);
	ck_assert_int_eq(errno, EINVAL);
	sse_free(&p);

	/* short lines that add up past the bound in one event */
	memset(&g, 0, sizeof(g));
	sse_init(&p, 16, on_event, &g);
	ck_assert_int_eq(sse_feed(&p, "data: 01234567\n", 15, NULL), 0);
	ck_assert_int_eq(sse_feed(&p, "data: 01234567\n", 15, NULL), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_int_eq(g.events, 0);
	sse_free(&p);

	/* comments do not accumulate: a keep-alive stream runs forever */
	memset(&g, 0, sizeof(g));
	sse_init(&p, 16, on_event, &g);
	memset(big, 'x', sizeof(big));
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(sse_feed(&p, ": ping\n", 7, NULL), 0);
	ck_assert_int_eq(sse_feed(&p, big, 17, NULL), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	sse_free(&p);
}
END_TEST

/* The callback stops the reader; *used says where, the rest can follow. */
START_TEST(callback_stops)
{
	static const char in[] = "data: a\r\n\r\ndata: b\n\ndata: c\n\n";
	struct got g;
	struct sse p;
	size_t used, off = 0;

	memset(&g, 0, sizeof(g));
	g.stop_at = 1;
	sse_init(&p, 0, on_event, &g);
	ck_assert_int_eq(sse_feed(&p, in, sizeof(in) - 1, &used), 1);
	ck_assert_uint_eq(used, 11);	/* through the CRLF that ended a */
	off += used;
	g.stop_at = 2;
	ck_assert_int_eq(sse_feed(&p, in + off, sizeof(in) - 1 - off, &used),
	    1);
	ck_assert_uint_eq(used, 9);
	off += used;
	g.stop_at = 0;
	ck_assert_int_eq(sse_feed(&p, in + off, sizeof(in) - 1 - off, &used),
	    0);
	ck_assert_uint_eq(off + used, sizeof(in) - 1);
	ck_assert_str_eq(g.s, "message||a\nmessage||b\nmessage||c\n");
	ck_assert_int_eq(sse_finish(&p), 0);
	sse_free(&p);
}
END_TEST

/* ---- provider streams ---- */

static char *
slurp(const char *name, size_t *len)
{
	char path[4096];
	FILE *f;
	char *s;
	long n;

	snprintf(path, sizeof(path), "%s/%s", t_srcdir("t/fixtures/sse"),
	    name);
	ck_assert_msg((f = fopen(path, "rb")) != NULL, "%s", path);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	ck_assert_ptr_nonnull(s = malloc((size_t)n + 1));
	ck_assert_int_eq(fread(s, 1, (size_t)n, f), n);
	s[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return s;
}

struct prov {
	int	 events, done;
	int	 anthropic;
	char	 why[512];
	char	 types[2048];
};

/* Every event is JSON (or OpenAI's [DONE], last); an Anthropic event's
   type is its data's "type". */
static int
on_provider(const struct sse_event *ev, void *arg)
{
	struct prov *p = arg;
	json_t *j;
	json_error_t je;
	const char *t;

	p->events++;
	if (p->done)
		snprintf(p->why, sizeof(p->why), "an event after [DONE]");
	if (strcmp(ev->data, "[DONE]") == 0) {
		p->done = 1;
		return 0;
	}
	if ((j = json_loadb(ev->data, ev->len, 0, &je)) == NULL) {
		snprintf(p->why, sizeof(p->why), "event %d: %s", p->events,
		    je.text);
		return 0;
	}
	t = json_string_value(json_object_get(j, "type"));
	if (p->anthropic && (t == NULL || strcmp(t, ev->type) != 0))
		snprintf(p->why, sizeof(p->why), "event %d: type %s, data "
		    "type %s", p->events, ev->type, t ? t : "none");
	if (!p->anthropic && strcmp(ev->type, "message") != 0)
		snprintf(p->why, sizeof(p->why), "event %d: type %s",
		    p->events, ev->type);
	strncat(p->types, ev->type, sizeof(p->types) - strlen(p->types) - 2);
	strcat(p->types, " ");
	json_decref(j);
	return 0;
}

static const struct {
	const char	*file;
	int		 anthropic, events, done;
	const char	*types;		/* Anthropic: the event types */
} streams[] = {
	{ "openai-parallel-tools.sse", 0, 9, 1, NULL },
	{ "openai-text-no-usage.sse", 0, 5, 1, NULL },
	{ "anthropic-tool-use.sse", 1, 16, 0, "message_start "
	  "content_block_start ping content_block_delta content_block_delta "
	  "content_block_stop content_block_start content_block_delta "
	  "content_block_delta content_block_delta content_block_stop "
	  "content_block_start content_block_delta content_block_stop "
	  "message_delta message_stop " },
	{ "anthropic-error-midstream.sse", 1, 5, 0, "message_start "
	  "content_block_start content_block_delta content_block_annotation "
	  "error " },
};

START_TEST(provider_streams)
{
	struct prov pv;
	struct got g, whole;
	struct sse p;
	size_t len, cut;
	char *in = slurp(streams[_i].file, &len);
	int left;
	long retry;

	memset(&pv, 0, sizeof(pv));
	pv.anthropic = streams[_i].anthropic;
	sse_init(&p, 0, on_provider, &pv);
	ck_assert_int_eq(sse_feed(&p, in, len, NULL), 0);
	ck_assert_int_eq(sse_finish(&p), 0);
	sse_free(&p);
	ck_assert_msg(pv.why[0] == '\0', "%s: %s", streams[_i].file, pv.why);
	ck_assert_int_eq(pv.events, streams[_i].events);
	ck_assert_int_eq(pv.done, streams[_i].done);
	if (streams[_i].types != NULL)
		ck_assert_str_eq(pv.types, streams[_i].types);
	/* cut anywhere, the same events (UTF-8 and CRLF split included) */
	run(in, len, NULL, 0, 0, &whole, &left, &retry);
	for (cut = 1; cut < len; cut++) {
		run(in, len, &cut, 1, 0, &g, &left, &retry);
		ck_assert_msg(strcmp(g.s, whole.s) == 0, "%s cut at %zu",
		    streams[_i].file, cut);
	}
	free(in);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("sse");
	TCase *tc = tcase_create("sse");

	tcase_add_loop_test(tc, standard_rules, 0,
	    (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, bounds);
	tcase_add_test(tc, callback_stops);
	tcase_add_loop_test(tc, provider_streams, 0,
	    (int)(sizeof(streams) / sizeof(streams[0])));
	suite_add_tcase(s, tc);
	return t_run(s);
}
