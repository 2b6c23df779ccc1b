/*
 * Replays files through a fuzz target's LLVMFuzzerTestOneInput() and
 * prints TAP, so `make check` runs every committed corpus file under the
 * plain (and sanitizer, and valgrind) build.  Linked only into the
 * t/fuzz/fuzz_<name>_replay programs; the libFuzzer builds bring their
 * own main.
 *
 * Arguments are files or directories (each directory's regular files, in
 * name order).  With none, the corpus named by the program is used:
 * fuzz_<name>_replay reads $AFU9_SRCDIR/t/fuzz/corpus/<name>.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define REPLAY_MAX_FILE	(64u * 1024 * 1024)

struct list {
	char	**v;
	size_t	  n, cap;
};

static void
die(const char *what, const char *path)
{
	printf("Bail out! %s %s: %s\n", what, path, strerror(errno));
	exit(1);
}

static void
add(struct list *l, const char *dir, const char *name)
{
	size_t len = strlen(dir) + strlen(name) + 2;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		if ((l->v = realloc(l->v, l->cap * sizeof(*l->v))) == NULL)
			die("out of memory at", name);
	}
	if ((l->v[l->n] = malloc(len)) == NULL)
		die("out of memory at", name);
	if (*dir)
		snprintf(l->v[l->n], len, "%s/%s", dir, name);
	else
		snprintf(l->v[l->n], len, "%s", name);
	l->n++;
}

static int
visible(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* A directory's regular files in name order, or the path itself. */
static void
collect(struct list *l, const char *path)
{
	struct dirent **ents;
	struct stat st;
	char *full;
	int i, n;

	if (stat(path, &st) == -1)
		die("cannot stat", path);
	if (!S_ISDIR(st.st_mode)) {
		add(l, "", path);
		return;
	}
	if ((n = scandir(path, &ents, visible, alphasort)) == -1)
		die("cannot list", path);
	for (i = 0; i < n; i++) {
		if (asprintf(&full, "%s/%s", path, ents[i]->d_name) < 0)
			die("out of memory at", path);
		if (stat(full, &st) == 0 && S_ISREG(st.st_mode))
			add(l, path, ents[i]->d_name);
		free(full);
		free(ents[i]);
	}
	free(ents);
}

/* Whole file into a malloc'd buffer (exactly its size; never NULL). */
static uint8_t *
slurp(const char *path, size_t *len)
{
	FILE *f;
	uint8_t *p;
	size_t cap = 4096, n = 0, k;

	if ((f = fopen(path, "rb")) == NULL)
		die("cannot open", path);
	if ((p = malloc(cap)) == NULL)
		die("out of memory at", path);
	while ((k = fread(p + n, 1, cap - n, f)) > 0) {
		n += k;
		if (n == cap) {
			if (cap >= REPLAY_MAX_FILE) {
				errno = EFBIG;
				die("file too large:", path);
			}
			cap *= 2;
			if ((p = realloc(p, cap)) == NULL)
				die("out of memory at", path);
		}
	}
	if (ferror(f))
		die("cannot read", path);
	fclose(f);
	/* shrink to fit so any read past the input is caught by ASan */
	if ((p = realloc(p, n ? n : 1)) == NULL)
		die("out of memory at", path);
	*len = n;
	return p;
}

/* fuzz_<name>_replay (libtool may add "lt-") -> <name>. */
static void
target_name(const char *argv0, char *out, size_t outsz)
{
	const char *b = strrchr(argv0, '/'), *end;
	size_t n;

	b = b ? b + 1 : argv0;
	if (strncmp(b, "lt-", 3) == 0)
		b += 3;
	if (strncmp(b, "fuzz_", 5) == 0)
		b += 5;
	end = strstr(b, "_replay");
	n = end ? (size_t)(end - b) : strlen(b);
	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, b, n);
	out[n] = '\0';
}

/* Test label: the path from "corpus/" on when it has one. */
static const char *
label(const char *path)
{
	const char *c = strstr(path, "corpus/");

	return c ? c : path;
}

int
main(int argc, char *argv[])
{
	struct list l = { NULL, 0, 0 };
	const char *src = getenv("AFU9_SRCDIR");
	char name[64], dir[4096];
	uint8_t *data;
	size_t i, len;
	int a;

	if (argc > 1)
		for (a = 1; a < argc; a++)
			collect(&l, argv[a]);
	else {
		target_name(argv[0], name, sizeof(name));
		snprintf(dir, sizeof(dir), "%s/t/fuzz/corpus/%s",
		    src && *src ? src : ".", name);
		collect(&l, dir);
	}
	printf("1..%zu\n", l.n);
	fflush(stdout);
	for (i = 0; i < l.n; i++) {
		data = slurp(l.v[i], &len);
		LLVMFuzzerTestOneInput(data, len);
		free(data);
		printf("ok %zu - %s\n", i + 1, label(l.v[i]));
		fflush(stdout);
		free(l.v[i]);
	}
	free(l.v);
	return 0;
}
