/*
 * agent_text: what the loop does to text between the tools and the
 * model, with no loop of its own: which tools a run offers (patterns,
 * read-only by default), outside text made safe (hidden content out),
 * an MCP tool result as the text the model gets, cut to a bound with a
 * note.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "utf8.h"
#include "agent.h"
#include "agent_int.h"

#define PATTERN_MAX	PROV_TOOL_MAX

/* '*' matches any run of bytes (none included); iterative, no blow-up. */
int
agent_pattern_match(const char *p, const char *s)
{
	const char *star = NULL, *resume = NULL;

	while (*s != '\0') {
		if (*p == '*') {
			star = p++;
			resume = s;
		} else if (*p == *s) {
			p++;
			s++;
		} else if (star != NULL) {
			p = star + 1;
			s = ++resume;
		} else
			return 0;
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

static int
pattern_ok(const char *p)
{
	size_t i;

	for (i = 0; p[i] != '\0'; i++) {
		if (i >= PATTERN_MAX)
			return 0;
		if (!((p[i] >= 'a' && p[i] <= 'z') ||
		    (p[i] >= 'A' && p[i] <= 'Z') ||
		    (p[i] >= '0' && p[i] <= '9') ||
		    strchr("_.*-", p[i]) != NULL))
			return 0;
	}
	return i > 0;
}

/* The tool's annotations say readOnlyHint: true. */
static int
read_only(const json_t *tool)
{
	json_t *ann = json_object_get(tool, "annotations");

	return json_is_true(json_object_get(ann, "readOnlyHint"));
}

json_t *
agent_select_tools(const json_t *tools, const char *const *patterns,
    char *err, size_t errlen)
{
	const char *name;
	json_t *out, *t;
	size_t i, j, np = 0;
	int hit;

	for (; patterns != NULL && patterns[np] != NULL; np++) {
		if (np >= AGENT_PATTERNS_MAX) {
			snprintf(err, errlen, "more than %d tool patterns",
			    AGENT_PATTERNS_MAX);
			return NULL;
		}
		if (!pattern_ok(patterns[np])) {
			snprintf(err, errlen, "tool pattern %zu: must be 1 to "
			    "%d bytes of [A-Za-z0-9_.*-] (server.tool, '*' "
			    "for any)", np + 1, PATTERN_MAX);
			return NULL;
		}
	}
	if ((out = json_array()) == NULL)
		goto nomem;
	json_array_foreach(tools, i, t) {
		name = json_string_value(json_object_get(t, "name"));
		if (name == NULL)
			continue;
		hit = np == 0 && read_only(t);
		for (j = 0; j < np && !hit; j++)
			hit = agent_pattern_match(patterns[j], name);
		if (hit && json_array_append(out, t) == -1)
			goto nomem;
	}
	/* a pattern that selects nothing is a typo or a server not up:
	   say so rather than run with fewer tools than meant */
	for (j = 0; j < np; j++) {
		hit = 0;
		json_array_foreach(tools, i, t) {
			name = json_string_value(json_object_get(t, "name"));
			if (name != NULL &&
			    agent_pattern_match(patterns[j], name)) {
				hit = 1;
				break;
			}
		}
		if (!hit) {
			snprintf(err, errlen, "tool pattern '%s' matches no "
			    "tool of the servers that are up", patterns[j]);
			json_decref(out);
			return NULL;
		}
	}
	return out;
nomem:
	json_decref(out);
	snprintf(err, errlen, "out of memory selecting tools");
	return NULL;
}

/* ---- hidden content ---- */

/* Code point of the valid UTF-8 character s[0..n) (n from u8_charlen). */
static uint32_t
cp_of(const unsigned char *s, size_t n)
{
	switch (n) {
	case 1:
		return s[0];
	case 2:
		return (uint32_t)(s[0] & 0x1f) << 6 | (s[1] & 0x3f);
	case 3:
		return (uint32_t)(s[0] & 0x0f) << 12 |
		    (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
	default:
		return (uint32_t)(s[0] & 0x07) << 18 |
		    (uint32_t)(s[1] & 0x3f) << 12 |
		    (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
	}
}

/* Invisible to a reader, visible to a model: what agent.h lists. */
static int
cp_hidden(uint32_t c)
{
	return c == 0x00ad || c == 0x061c || c == 0x180e || c == 0xfeff ||
	    (c >= 0x200b && c <= 0x200f) ||
	    (c >= 0x202a && c <= 0x202e) ||
	    (c >= 0x2060 && c <= 0x2064) ||
	    (c >= 0x2066 && c <= 0x2069) ||
	    (c >= 0xfe00 && c <= 0xfe0f) ||
	    (c >= 0xe0000 && c <= 0xe007f) ||
	    (c >= 0xe0100 && c <= 0xe01ef);
}

char *
agent_strip_hidden(const char *s, size_t len, size_t *outlen,
    size_t *removed)
{
	const unsigned char *p = (const unsigned char *)s;
	const char *end;
	size_t i = 0, n, cut = 0, olen = 0;
	char *out;

	/* at most 3 bytes out per byte in (U+FFFD for a bad one) */
	if (len > (SIZE_MAX - 1) / 3 || (out = malloc(len * 3 + 1)) == NULL)
		return NULL;
	while (i < len) {
		if (p[i] == '<' && len - i >= 4 && memcmp(s + i, "<!--", 4) == 0) {
			end = memmem(s + i + 4, len - i - 4, "-->", 3);
			n = end ? (size_t)(end - (s + i)) + 3 : len - i;
			cut += n;
			i += n;
			continue;
		}
		if ((n = u8_charlen(p + i, len - i)) == 0) {
			memcpy(out + olen, "\xef\xbf\xbd", 3);
			olen += 3;
			i++;
			continue;
		}
		if (n > 1 && cp_hidden(cp_of(p + i, n)))
			cut += n;
		else {
			memcpy(out + olen, s + i, n);
			olen += n;
		}
		i += n;
	}
	out[olen] = '\0';
	if (outlen)
		*outlen = olen;
	if (removed)
		*removed = cut;
	return out;
}

/* ---- tool results as text ---- */

/*
 * The text of a tools/call result: its text items joined by newlines;
 * other items (image, audio, resources) named with their size, not
 * inlined; a result with structuredContent and no text gives that JSON.
 * Appends to b; 0, or -1 when b is full or on ENOMEM.
 */
int
agent_result_text(const json_t *result, struct buf *b)
{
	const json_t *content, *item, *sc;
	const char *type, *text, *mime;
	size_t i, nout = 0;
	char *dump;
	int rc;

	content = json_object_get(result, "content");
	json_array_foreach(content, i, item) {
		type = json_string_value(json_object_get(item, "type"));
		if (nout++ > 0 && buf_append(b, "\n", 1) == -1)
			return -1;
		if (type != NULL && strcmp(type, "text") == 0 &&
		    (text = json_string_value(json_object_get(item, "text")))) {
			if (buf_append(b, text,
			    json_string_length(json_object_get(item, "text")))
			    == -1)
				return -1;
			continue;
		}
		mime = json_string_value(json_object_get(item, "mimeType"));
		text = json_string_value(json_object_get(item, "data"));
		if (buf_printf(b, "[%s content%s%s, %zu bytes, not shown]",
		    type ? type : "unknown", mime ? " " : "", mime ? mime : "",
		    text ? strlen(text) : (size_t)0) == -1)
			return -1;
	}
	sc = json_object_get(result, "structuredContent");
	if (nout == 0 && sc != NULL) {
		if ((dump = json_dumps(sc, JSON_COMPACT)) == NULL)
			return -1;
		rc = buf_append(b, dump, strlen(dump));
		free(dump);
		return rc;
	}
	return 0;
}

/*
 * The text s[0..len) cut to at most max bytes (max >= AGENT_RESULT_MIN),
 * on a character boundary, the note saying what was cut included: a new
 * string in *out; NULL in *out (s is fine as it is) when it fits.  0, or
 * -1 on ENOMEM.
 */
int
agent_trim(const char *s, size_t len, size_t max, char **out)
{
	enum { NOTE_MAX = 200 };
	size_t keep;
	char *t;

	*out = NULL;
	if (len <= max)
		return 0;
	keep = max > 2 * NOTE_MAX ? max - NOTE_MAX : max / 2;
	keep = u8_cut(s, len, keep);
	if ((t = malloc(keep + NOTE_MAX)) == NULL)
		return -1;
	memcpy(t, s, keep);
	snprintf(t + keep, NOTE_MAX, "\n[cut: the result has %zu bytes, the "
	    "first %zu are shown; ask for less (a narrower query, a range, a "
	    "page) to see the rest]", len, keep);
	*out = t;
	return 0;
}
