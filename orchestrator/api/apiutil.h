/*
 * api/apiutil: the input checks the /v1 JSON APIs share (wfapi.c,
 * agentapi.c): strict percent-decoding, UUIDs, keyset cursors and query
 * strings.  Nothing here allocates.
 */
#ifndef AFU9_API_APIUTIL_H
#define AFU9_API_APIUTIL_H

#include <stddef.h>

#include "http/httpparse.h"

#define API_UUID_LEN		36
#define API_CURSOR_TS_LEN	27	/* YYYY-MM-DDTHH:MM:SS.ffffffZ */
#define API_QUERY_MAX		8	/* parameters api_query() knows */
#define API_VALUE_MAX		128	/* bytes of one decoded value */

/*
 * Percent-decode p[n] into out[outlen] (NUL-terminated).  Strict: '%'
 * takes exactly two hex digits, %00 is refused, and so is a result that
 * does not fit.  0, or -1.
 */
int	api_pct_decode(const char *p, size_t n, char *out, size_t outlen);
/* A UUID (store_uuid_ok(): 8-4-4-4-12 hex digits, either case), lowered
   in place so messages show it as the database does. */
int	api_uuid_ok(char *s);
/*
 * A cursor ("YYYY-MM-DDTHH:MM:SS.ffffffZ/UUID", as next_cursor gives: a
 * real time, a UUID) split into ts[API_CURSOR_TS_LEN + 1] and
 * id[API_UUID_LEN + 1].  0, or -1.
 */
int	api_cursor_parse(const char *s, char *ts, char *id);
/*
 * The query string of req as name=value pairs joined by '&', each name
 * one of names[0..n) (n <= API_QUERY_MAX), at most once, its value
 * decoded (api_pct_decode(), not empty, < API_VALUE_MAX bytes) into
 * vals[i] with seen[i] set.  0, or -1 with what is wrong in err (a
 * sentence naming the parameter, for a 400).
 */
int	api_query(const struct http_request *req, const char *const *names,
	    size_t n, char vals[][API_VALUE_MAX], int *seen, char *err,
	    size_t errlen);

#endif /* AFU9_API_APIUTIL_H */
