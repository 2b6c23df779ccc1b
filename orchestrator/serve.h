/*
 * serve: `afu9 serve [--config FILE] [--stdio] [--check-config]`, the
 * orchestrator process: configuration -> supervisor and router (one MCP
 * session per child) -> HTTP routes -> signals and graceful shutdown.
 * Also the shared start-up used by the CLI subcommands.
 */
#ifndef AFU9_SERVE_H
#define AFU9_SERVE_H

#include "conf.h"

/* `afu9 serve ...` (argv[0] is "serve").  Returns the exit status. */
int	serve_main(int argc, char **argv);
/*
 * Load the configuration: path, else $AFU9_CONFIG, else the built-in
 * one, with "afu9-*" commands looked up next to this binary.  NULL with
 * err filled.
 */
struct afu9_config *serve_load_config(const char *path, char *err,
	    size_t errlen);

#endif
