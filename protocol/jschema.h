/*
 * jschema: the JSON Schema subset afu9's tool schemas use (draft 2020-12
 * semantics for these keywords):
 *   type (string or array of: object, array, string, integer, number,
 *   boolean, null), properties, required, additionalProperties (boolean or
 *   schema), enum, const, minimum, maximum, exclusiveMinimum,
 *   exclusiveMaximum, minLength, maxLength (in Unicode code points),
 *   pattern (POSIX ERE via regcomp; ECMA-only syntax is refused at compile),
 *   items, minItems, maxItems, description/title/default/examples/$schema
 *   (annotations, ignored).
 * "integer" accepts JSON integers and numbers with zero fraction.
 * Unknown keywords are refused by jschema_check() so a schema never claims
 * a constraint the validator would silently skip.
 */
#ifndef AFU9_JSCHEMA_H
#define AFU9_JSCHEMA_H

#include <stddef.h>
#include <jansson.h>

/*
 * Check that `schema` uses only supported keywords with valid values
 * (pattern compiles, required is an array of strings, ...).  0 or -1 with
 * a message naming the schema path in err; errno is then ENOMEM when a
 * pattern could not be compiled for want of memory (no verdict on the
 * schema: try again).
 */
int	jschema_check(const json_t *schema, char *err, size_t errlen);

/*
 * Validate `instance` against `schema`.  0 if valid; -1 with the first
 * failure in err, naming the argument path and the rule, e.g.
 *   "argument 'number': must be >= 1 (minimum)"
 *   "argument 'labels[2]': must be a string (type)"
 *   "missing required argument 'owner' (required)"
 *   "unexpected argument 'ownr' (additionalProperties)"
 * The path is relative to the root object (tool arguments).  A pattern
 * that cannot be compiled or matched (out of memory) fails with a message
 * naming the schema path instead, never as a verdict on the argument.
 */
int	jschema_validate(const json_t *schema, const json_t *instance,
	    char *err, size_t errlen);

/*
 * Free the cache of compiled patterns (also done at exit).  Later calls
 * compile again as needed.
 */
void	jschema_cache_clear(void);

#endif
