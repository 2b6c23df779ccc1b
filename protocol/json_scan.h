/*
 * json_scan: JSON syntax checks that build no tree, for what jansson
 * cannot tell the JSON-RPC parser (rpc.c).
 *
 *  - jscan_text(): is a text valid JSON (RFC 8259: one value with
 *    whitespace around it; strings of valid UTF-8 with no raw control
 *    and valid escapes, surrogates paired), whatever policy jansson adds
 *    on top (duplicate keys, integers beyond int64, nesting past its
 *    limit, \u0000)?  For a top-level object it also reports the
 *    envelope members and the exact bytes of the "id" value, so that a
 *    reply echoes "\u0041" as it was sent.
 *  - jscan_loadable(): would json_loadb() with JSON_REJECT_DUPLICATES
 *    take this object or array, and build the value the text spells,
 *    without building it?  Conservative: what it cannot decide cheaply
 *    counts as no, so it never accepts what jansson refuses.
 *
 * Both are iterative.  jscan_text() keeps one bit per nesting level on
 * the heap, never a stack frame, so any depth is scanned; jscan_loadable()
 * gives up past JSCAN_LOADABLE_MAX_DEPTH.
 *
 * Nothing is allocated for the caller and nothing needs NUL-terminated
 * input; pointers handed back borrow from the text.
 */
#ifndef AFU9_JSON_SCAN_H
#define AFU9_JSON_SCAN_H

#include <stddef.h>

/* An integer of up to this many digits always fits int64. */
#define JSCAN_SAFE_INT_DIGITS	18
/* Containers nested deeper are left to jansson by jscan_loadable(). */
#define JSCAN_LOADABLE_MAX_DEPTH 256

/* jscan_text() results. */
#define JSCAN_OK		0
#define JSCAN_INVALID		(-1)	/* not one JSON text */
#define JSCAN_NOMEM		(-2)	/* the nesting record could not grow */

/* A read position in a text: p never passes end. */
struct jscan_cur {
	const unsigned char	*p, *end;
};

/* What jscan_text() saw. */
struct jscan_top {
	int		 first;	/* first byte after leading whitespace, -1 if none */
	size_t		 stop;	/* offset where the scan stopped: the length
				   when valid; else a byte of the first token
				   that is not valid there (where a string
				   broke, inside it), or the length when the
				   text ended too soon */
	/* Members of a top-level object; names compare after unescaping
	   ("\u0069d" is "id").  Counted as far as the scan got. */
	int		 ids;		/* members named "id" */
	const char	*id;		/* the value of the last of them, as
					   sent; NULL when none */
	size_t		 id_len;
	int		 has_method, has_result, has_error;
};

/*
 * Scan buf[0..len) as one JSON text and fill *top.  JSCAN_OK when it is
 * valid JSON, JSCAN_INVALID when not, JSCAN_NOMEM when nesting deeper
 * than 4096 levels could not be recorded.  top->id borrows from buf.
 */
int	jscan_text(const char *buf, size_t len, struct jscan_top *top);

/*
 * The object or array at c->p, checked as jansson would check it (see
 * above): 0 with c->p moved past it, or -1 with c unchanged when jansson
 * might refuse it or build something else (an escape in a member name, an
 * integer of more than JSCAN_SAFE_INT_DIGITS digits, a real whose
 * exponent has more than two digits or that is longer than 200 bytes,
 * \u0000, nesting past JSCAN_LOADABLE_MAX_DEPTH) or when it is not JSON.
 */
int	jscan_loadable(struct jscan_cur *c);

/*
 * A string without escapes, c->p on its opening quote: 0 with c->p past
 * the closing quote, or -1 (c->p unspecified) when the string is not
 * valid JSON or holds an escape.
 */
int	jscan_plain_string(struct jscan_cur *c);

/* Skip JSON whitespace.  Inline: the envelope scanner calls it between
   every two tokens. */
static inline void
jscan_ws(struct jscan_cur *c)
{
	const unsigned char *p = c->p;

	while (p < c->end && (*p == ' ' || *p == '\t' || *p == '\n' ||
	    *p == '\r'))
		p++;
	c->p = p;
}

#endif /* AFU9_JSON_SCAN_H */
