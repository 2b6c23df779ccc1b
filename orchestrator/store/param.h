/*
 * store/param: the text of statement parameters (param.c), for every
 * writer of rows: the store's audit and server rows, the agent
 * recorder.  Each returns a malloc'd string, NULL on ENOMEM.
 */
#ifndef AFU9_STORE_PARAM_H
#define AFU9_STORE_PARAM_H

#include <stddef.h>
#include <jansson.h>

/* s redacted, then cleaned to UTF-8 and cut to max bytes. */
char	*param_text(const char *s, size_t max);
/* Compact JSON text of v for a jsonb parameter (\u0000 made \ufffd). */
char	*param_json(const json_t *v);
char	*param_printf(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
/* Free p[0..n) and set each to NULL. */
void	 param_free(char **p, size_t n);

#endif
