/*
 * strv: string vectors (see strv.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "redact.h"
#include "strv.h"

void
strv_free(char **v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++)
		redact_wipe_free(v[i]);
	free(v);
}

size_t
strv_len(const char *const *v)
{
	size_t n = 0;

	while (v != NULL && v[n] != NULL)
		n++;
	return n;
}

int
strv_has(char *const *v, const char *s)
{
	size_t i;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		if (strcmp(v[i], s) == 0)
			return 1;
	return 0;
}

int
strv_take(struct strv *sv, char *s)
{
	char **nv;
	size_t ncap;

	if (s == NULL)
		return -1;
	if (sv->n + 1 >= sv->cap) {
		ncap = sv->cap ? sv->cap * 2 : 8;
		if ((nv = reallocarray(sv->v, ncap, sizeof(*nv))) == NULL) {
			redact_wipe_free(s);
			return -1;
		}
		sv->v = nv;
		sv->cap = ncap;
	}
	sv->v[sv->n++] = s;
	sv->v[sv->n] = NULL;
	return 0;
}

char **
strv_steal(struct strv *sv)
{
	char **v = sv->v;

	if (v == NULL)
		v = calloc(1, sizeof(*v));
	memset(sv, 0, sizeof(*sv));
	return v;
}
