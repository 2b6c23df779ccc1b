/*
 * strv: NULL-terminated string vectors (argv, environments, name lists).
 *
 * Vectors often hold secrets ("GITHUB_TOKEN=..." in a child's
 * environment), so every string a vector frees is wiped first.
 */
#ifndef AFU9_STRV_H
#define AFU9_STRV_H

#include <stddef.h>

/* A growable vector being built; the strings are its own. */
struct strv {
	char	**v;
	size_t	  n;
	size_t	  cap;
};

/* Wipe and free every string of v, then v; NULL is a no-op. */
void	 strv_free(char **v);
/* Entries of v (NULL: 0). */
size_t	 strv_len(const char *const *v);
/* Is s one of the strings of v (NULL: none)? */
int	 strv_has(char *const *v, const char *s);
/* Append s, which the vector takes even on failure (then wiped and
   freed; s NULL counts as ENOMEM).  0, or -1 (ENOMEM). */
int	 strv_take(struct strv *sv, char *s);
/* Hand the vector over (never NULL unless ENOMEM; an empty one is a
   vector of no strings); sv is emptied. */
char	**strv_steal(struct strv *sv);

#endif /* AFU9_STRV_H */
