/*
 * crashy: a misbehaving child for the supervisor tests, driven by argv.
 *
 *   crashy exit N            exit with status N
 *   crashy signal N          die by signal N (no core file)
 *   crashy echo              copy stdin to stdout until EOF, exit 0
 *   crashy env               print the environment, one entry a line
 *   crashy fds               print the open fds, "0,1,2"
 *   crashy pgid              print "pid pgid"
 *   crashy sigstate          print "blk=HEX ign=HEX" from /proc/self/status
 *   crashy cwd               print the working directory
 *   crashy ignterm           ignore SIGTERM, print "ready", wait forever
 *   crashy sleep MS [N]      sleep MS milliseconds, exit N (default 0)
 *   crashy stderr-long N     stderr: "one\r\ntwo\n", N x's and '\n',
 *                            "tail" without '\n'; exit 0
 *   crashy stderr TEXT       write TEXT to stderr ("\n" escapes a newline)
 *   crashy runs FILE K MS    count runs in FILE; run K sleeps MS; exit 1
 *   crashy daemon            fork a grandchild that keeps stderr open
 *                            and sleeps; print its pid; exit 0
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static int
do_signal(int sig)
{
	struct rlimit rl = { 0, 0 };

	setrlimit(RLIMIT_CORE, &rl);
	signal(sig, SIG_DFL);
	raise(sig);
	return 99;
}

static int
do_echo(void)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(0, buf, sizeof(buf))) > 0)
		if (write(1, buf, (size_t)n) != n)
			return 1;
	return 0;
}

static int
do_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int fds[256], n = 0, i, j, t;

	if (d == NULL)
		return 1;
	while ((e = readdir(d)) != NULL && n < 256)
		if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d))
			fds[n++] = atoi(e->d_name);
	closedir(d);
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (fds[j] < fds[i]) {
				t = fds[i];
				fds[i] = fds[j];
				fds[j] = t;
			}
	for (i = 0; i < n; i++)
		printf("%s%d", i ? "," : "", fds[i]);
	printf("\n");
	return 0;
}

static int
do_sigstate(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256], blk[256] = "?", ign[256] = "?";

	if (f == NULL)
		return 1;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "SigBlk:\t", 8) == 0)
			snprintf(blk, sizeof(blk), "%s", line + 8);
		if (strncmp(line, "SigIgn:\t", 8) == 0)
			snprintf(ign, sizeof(ign), "%s", line + 8);
	}
	fclose(f);
	printf("blk=%s ign=%s\n", blk, ign);
	return 0;
}

static int
do_stderr_long(long n)
{
	char *x = malloc((size_t)n + 1);

	if (x == NULL)
		return 1;
	memset(x, 'x', (size_t)n);
	x[n] = '\n';
	fputs("one\r\ntwo\n", stderr);
	fwrite(x, 1, (size_t)n + 1, stderr);
	fputs("tail", stderr);
	fflush(stderr);
	free(x);
	return 0;
}

static int
do_stderr(const char *s)
{
	for (; *s != '\0'; s++) {
		if (s[0] == '\\' && s[1] == 'n') {
			fputc('\n', stderr);
			s++;
		} else
			fputc(*s, stderr);
	}
	fflush(stderr);
	return 0;
}

static int
do_runs(const char *file, long k, long ms)
{
	FILE *f = fopen(file, "r+");
	long n = 0;

	if (f == NULL && (f = fopen(file, "w+")) == NULL)
		return 2;
	if (fscanf(f, "%ld", &n) != 1)
		n = 0;
	rewind(f);
	fprintf(f, "%ld\n", ++n);
	fclose(f);
	if (n == k)
		sleep_ms(ms);
	return 1;
}

static int
do_daemon(void)
{
	pid_t pid = fork();

	if (pid == -1)
		return 1;
	if (pid == 0) {
		close(0);
		close(1);
		sleep_ms(30000);
		_exit(0);
	}
	printf("%d\n", (int)pid);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "";
	char **e, buf[4096];

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(m, "exit") == 0 && argc > 2)
		return atoi(argv[2]);
	if (strcmp(m, "signal") == 0 && argc > 2)
		return do_signal(atoi(argv[2]));
	if (strcmp(m, "echo") == 0)
		return do_echo();
	if (strcmp(m, "env") == 0) {
		for (e = environ; *e != NULL; e++)
			printf("%s\n", *e);
		return 0;
	}
	if (strcmp(m, "fds") == 0)
		return do_fds();
	if (strcmp(m, "pgid") == 0) {
		printf("%d %d\n", (int)getpid(), (int)getpgid(0));
		return 0;
	}
	if (strcmp(m, "sigstate") == 0)
		return do_sigstate();
	if (strcmp(m, "cwd") == 0) {
		if (getcwd(buf, sizeof(buf)) == NULL)
			return 1;
		printf("%s\n", buf);
		return 0;
	}
	if (strcmp(m, "ignterm") == 0) {
		signal(SIGTERM, SIG_IGN);
		printf("ready\n");
		for (;;)
			pause();
	}
	if (strcmp(m, "sleep") == 0 && argc > 2) {
		sleep_ms(atol(argv[2]));
		return argc > 3 ? atoi(argv[3]) : 0;
	}
	if (strcmp(m, "stderr-long") == 0 && argc > 2)
		return do_stderr_long(atol(argv[2]));
	if (strcmp(m, "stderr") == 0 && argc > 2)
		return do_stderr(argv[2]);
	if (strcmp(m, "runs") == 0 && argc > 4)
		return do_runs(argv[2], atol(argv[3]), atol(argv[4]));
	if (strcmp(m, "daemon") == 0)
		return do_daemon();
	fprintf(stderr, "crashy: unknown mode '%s'\n", m);
	return 64;
}
