/*
 * Helpers shared by the afu9 binary tests (t/test_orch, t/test_orchdb):
 * config files, running afu9, plain HTTP GETs and the stdio gateway.
 * Failures abort the current Check test.
 */
#ifndef ORCHTEST_H
#define ORCHTEST_H

#include <check.h>

#include "testutil.h"

const char	*ot_write_config(const char *dir, const char *name,
		    const char *text);
void		 ot_spawn_afu9(struct tproc *, const char *const *args);
int		 ot_reap_afu9(struct tproc *, char **out, char **err);
int		 ot_run_afu9(const char *const *args, char **out, char **err);
int		 ot_http_raw(int port, const char *req, char **body);
int		 ot_http_get(int port, const char *path, char **body);
void		 ot_send(int fd, const char *line);
char		*ot_reply(int fd, const char *id, int timeout_ms,
		    int *list_changed);
int		 ot_main(Suite *, char *tmpdir);

#endif
