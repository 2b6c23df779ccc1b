/*
 * pgrun: a throwaway PostgreSQL server (t/pgtest.c) for the tests that
 * are scripts (t/test_ui_browser.sh): starts it, creates database DB (argv[1],
 * default "afu9"), prints its conninfo as one line on stdout, then waits
 * for EOF on stdin and stops it (its directory removed).  When the
 * script dies, stdin closes, so the server never outlives it.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "pgtest.h"

int
main(int argc, char **argv)
{
	const char *db = argc > 1 ? argv[1] : "afu9";
	struct pgtest *pg;
	char err[4096], c;
	char *ci;

	if ((pg = pgt_start(err, sizeof(err))) == NULL) {
		fprintf(stderr, "pgrun: %s\n", err);
		return 1;
	}
	if (pgt_createdb(pg, db, err, sizeof(err)) == -1 ||
	    (ci = pgt_conninfo(pg, db)) == NULL) {
		fprintf(stderr, "pgrun: %s\n", err);
		pgt_stop(pg);
		return 1;
	}
	printf("%s\n", ci);
	fflush(stdout);
	free(ci);
	while (read(STDIN_FILENO, &c, 1) > 0)
		;
	pgt_stop(pg);
	return 0;
}
