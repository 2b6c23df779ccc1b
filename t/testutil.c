#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static const char *
t_path(const char *envname, const char *rel)
{
	static char slots[4][4096];
	static int next;
	const char *dir = getenv(envname);
	char *p = slots[next++ % 4];

	snprintf(p, sizeof(slots[0]), "%s/%s", dir && *dir ? dir : ".", rel);
	return p;
}

const char *t_builddir(const char *rel) { return t_path("AFU9_BUILDDIR", rel); }
const char *t_srcdir(const char *rel) { return t_path("AFU9_SRCDIR", rel); }

int
t_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

int
t_shared_data(const char *why)
{
	const char *req = getenv("AFU9_REQUIRE_SHARED");

	if (req != NULL && strcmp(req, "1") == 0)
		return 1;
	printf("1..0 # SKIP %s (AFU9_REQUIRE_SHARED=1 makes this a failure)\n",
	    why);
	fflush(stdout);
	return 0;
}

int
t_slow(void)
{
	const char *v = getenv("AFU9_UNDER_VALGRIND");
	return v && *v && strcmp(v, "0") ? 10 : 1;
}

double
t_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int
t_spawn(struct tproc *p, char *const argv[], char *const envp[], int capture_err)
{
	int in[2], out[2], err[2] = { -1, -1 };
	const char *wrap = getenv("AFU9_TEST_WRAPPER");
	char *full[64], *wcopy = NULL, *tok, *save;
	int n = 0, i;

	if (wrap && *wrap) {
		wcopy = strdup(wrap);
		for (tok = strtok_r(wcopy, " ", &save); tok && n < 40;
		    tok = strtok_r(NULL, " ", &save))
			full[n++] = tok;
	}
	for (i = 0; argv[i] && n < 63; i++)
		full[n++] = argv[i];
	full[n] = NULL;

	if (pipe2(in, O_CLOEXEC) == -1 || pipe2(out, O_CLOEXEC) == -1)
		return -1;
	if (capture_err && pipe2(err, O_CLOEXEC) == -1)
		return -1;
	p->pid = fork();
	if (p->pid == -1)
		return -1;
	if (p->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		if (capture_err)
			dup2(err[1], 2);
		signal(SIGPIPE, SIG_DFL);
		if (envp)
			execve(full[0], full, envp);
		else
			execvp(full[0], full);
		_exit(127);
	}
	free(wcopy);
	close(in[0]);
	close(out[1]);
	if (capture_err)
		close(err[1]);
	p->in = in[1];
	p->out = out[0];
	p->err = capture_err ? err[0] : -1;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int
t_write(int fd, const void *data, size_t len)
{
	const char *p = data;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Bytes read ahead by t_read_line/t_read_cl, per fd (tests use few fds). */
static struct { int fd; char *data; size_t len; } ahead[16];

static char **
ahead_slot(int fd, size_t **lenp)
{
	int i, freei = -1;

	for (i = 0; i < 16; i++) {
		if (ahead[i].data && ahead[i].fd == fd) {
			*lenp = &ahead[i].len;
			return &ahead[i].data;
		}
		if (!ahead[i].data && freei < 0)
			freei = i;
	}
	if (freei < 0)
		abort();
	ahead[freei].fd = fd;
	ahead[freei].len = 0;
	*lenp = &ahead[freei].len;
	return &ahead[freei].data;
}

/* Fill the read-ahead buffer until pred() finds a complete unit. */
static int
fill(int fd, int timeout_ms, char **data, size_t *len,
    long (*pred)(const char *, size_t))
{
	double deadline = t_now_ms() + timeout_ms * t_slow();
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char tmp[65536];
	ssize_t n;
	long r;

	for (;;) {
		if (*data && (r = pred(*data, *len)) >= 0)
			return (int)r;
		int left = (int)(deadline - t_now_ms());
		if (left <= 0)
			return -1;
		if (poll(&pfd, 1, left) <= 0)
			continue;
		n = read(fd, tmp, sizeof(tmp));
		if (n <= 0)
			return -2;
		*data = realloc(*data, *len + (size_t)n + 1);
		memcpy(*data + *len, tmp, (size_t)n);
		*len += (size_t)n;
		(*data)[*len] = '\0';
	}
}

static char *
take(char **data, size_t *len, size_t start, size_t n, size_t consumed)
{
	char *s = malloc(n + 1);

	memcpy(s, *data + start, n);
	s[n] = '\0';
	memmove(*data, *data + consumed, *len - consumed);
	*len -= consumed;
	if (*len == 0) {
		free(*data);
		*data = NULL;
	} else
		(*data)[*len] = '\0';
	return s;
}

static long
pred_line(const char *d, size_t len)
{
	const char *nl = memchr(d, '\n', len);
	return nl ? (long)(nl - d) : -1;
}

char *
t_read_line(int fd, int timeout_ms)
{
	size_t *len;
	char **data = ahead_slot(fd, &len);
	int r = fill(fd, timeout_ms, data, len, pred_line);

	if (r < 0)
		return NULL;
	return take(data, len, 0, (size_t)r, (size_t)r + 1);
}

static long
pred_cl(const char *d, size_t len)
{
	const char *end = memmem(d, len, "\r\n\r\n", 4);
	const char *cl;
	long body;

	if (!end)
		return -1;
	cl = strcasestr(d, "content-length:");
	if (!cl || cl > end)
		return -1;
	body = strtol(cl + 15, NULL, 10);
	if ((size_t)(end + 4 - d) + (size_t)body > len)
		return -1;
	return (long)(end + 4 - d);
}

char *
t_read_cl(int fd, int timeout_ms)
{
	size_t *len;
	char **data = ahead_slot(fd, &len);
	int hdr = fill(fd, timeout_ms, data, len, pred_cl);
	const char *cl;
	long body;

	if (hdr < 0)
		return NULL;
	cl = strcasestr(*data, "content-length:");
	body = strtol(cl + 15, NULL, 10);
	return take(data, len, (size_t)hdr, (size_t)body, (size_t)hdr + (size_t)body);
}

char *
t_read_until(int fd, const char *needle, int timeout_ms, int *eof)
{
	double deadline = t_now_ms() + timeout_ms * t_slow();
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char *acc = NULL, tmp[65536];
	size_t len = 0;
	ssize_t n;

	if (eof)
		*eof = 0;
	for (;;) {
		if (acc && needle && strstr(acc, needle))
			return acc;
		int left = (int)(deadline - t_now_ms());
		if (left <= 0)
			return acc;
		if (poll(&pfd, 1, left) <= 0)
			continue;
		n = read(fd, tmp, sizeof(tmp));
		if (n <= 0) {
			if (eof)
				*eof = 1;
			if (!acc)
				acc = strdup("");
			return acc;
		}
		acc = realloc(acc, len + (size_t)n + 1);
		memcpy(acc + len, tmp, (size_t)n);
		len += (size_t)n;
		acc[len] = '\0';
	}
}

int
t_finish(struct tproc *p, int timeout_ms)
{
	double deadline = t_now_ms() + timeout_ms * t_slow();
	int status;
	pid_t r;

	if (p->in >= 0) {
		close(p->in);
		p->in = -1;
	}
	for (;;) {
		r = waitpid(p->pid, &status, WNOHANG);
		if (r == p->pid)
			break;
		if (t_now_ms() > deadline) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, &status, 0);
			status = -1;
			break;
		}
		usleep(2000);
	}
	if (p->out >= 0)
		close(p->out);
	if (p->err >= 0)
		close(p->err);
	p->out = p->err = -1;
	return status;
}

int
t_alive(pid_t pid)
{
	char path[64], buf[512], *s;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return 0;
	}
	fclose(f);
	s = strrchr(buf, ')');
	return s && s[1] == ' ' && s[2] != 'Z';
}

static void
t_tick_cb(struct ev_loop *l, ev_timer *w, int revents)
{
}

int
t_run_until(struct ev_loop *loop, int (*pred)(void), int ms)
{
	double deadline = t_now_ms() + ms;
	ev_timer tick;
	int ok;

	ev_timer_init(&tick, t_tick_cb, 0.005, 0.005);
	ev_timer_start(loop, &tick);
	while (!(ok = pred()) && t_now_ms() < deadline)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &tick);
	return ok;
}

char *
t_file_text(FILE *fp)
{
	long n;
	char *s;

	fflush(fp);
	ck_assert_int_eq(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	rewind(fp);
	ck_assert_ptr_nonnull(s = malloc((size_t)n + 1));
	ck_assert_int_eq(fread(s, 1, (size_t)n, fp), n);
	s[n] = '\0';
	return s;
}

int
t_count_str(const char *hay, const char *needle)
{
	int n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += strlen(needle);
	}
	return n;
}
