/* Daemonising with a report pipe; see daemon_i.h for why ossfs forks
 * before anything else.  Report line: "<status> <message>\n", status 0 for
 * ready. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base.h"
#include "daemon_i.h"

#define REPORT_MAX 2048

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int daemon_send_report(int fd, int code, const char *msg)
{
	char line[REPORT_MAX];
	int n;

	n = snprintf(line, sizeof(line) - 1, "%d %s", code,
		     msg ? msg : "ready");
	if (n < 0)
		return -EINVAL;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	/* One line: a newline inside the message would end it early. */
	for (int i = 0; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[n++] = '\n';
	return write_all(fd, line, (size_t)n);
}

/* Reads up to the first newline or EOF; returns the length read. */
static size_t read_line(int fd, char *line, size_t size)
{
	size_t len = 0;

	while (len + 1 < size) {
		ssize_t n = read(fd, line + len, size - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (memchr(line, '\n', len))
			break;
	}
	line[len] = '\0';
	return len;
}

static int child_vanished(pid_t child, const char *progname, FILE *errout)
{
	int st = 0;
	pid_t r;

	do {
		r = waitpid(child, &st, 0);
	} while (r < 0 && errno == EINTR);
	if (r == child && WIFEXITED(st) && WEXITSTATUS(st) != 0) {
		fprintf(errout, "%s: exited with status %d while starting\n",
			progname, WEXITSTATUS(st));
		return WEXITSTATUS(st);
	}
	if (r == child && WIFSIGNALED(st))
		fprintf(errout, "%s: killed by signal %d (%s) while starting\n",
			progname, WTERMSIG(st), strsignal(WTERMSIG(st)));
	else
		fprintf(errout, "%s: stopped before the mount was ready\n",
			progname);
	return 1;
}

int daemon_wait_report(int fd, pid_t child, const char *progname, FILE *errout)
{
	char line[REPORT_MAX];
	char *nl, *msg;
	long code;

	if (read_line(fd, line, sizeof(line)) == 0)
		return child_vanished(child, progname, errout);
	nl = strchr(line, '\n');
	if (nl)
		*nl = '\0';
	code = strtol(line, &msg, 10);
	if (msg == line || code < 0 || code > 255) {
		fprintf(errout, "%s: garbled start-up report\n", progname);
		return 1;
	}
	if (code != 0)
		fprintf(errout, "%s: %s\n", progname,
			*msg ? msg + 1 : "failed");
	return (int)code;
}

int daemon_start(struct daemon *d, bool background, const char *progname)
{
	int fds[2];
	pid_t pid;
	int rc = 0;

	d->background = background;
	d->report_fd = -1;
	if (!background)
		goto out;
	/* CLOEXEC: fusermount3, which libfuse runs to mount, must not hold
	 * the write end open. */
	if (pipe2(fds, O_CLOEXEC) < 0) {
		rc = -errno;
		goto out;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		goto out_pipe;
	}
	if (pid > 0) {
		close(fds[1]);
		exit(daemon_wait_report(fds[0], pid, progname, stderr));
	}
	close(fds[0]);
	d->report_fd = fds[1];
	/* Leave the terminal's session so its hangup and ^C do not reach the
	 * daemon. */
	setsid();
	goto out;
out_pipe:
	close(fds[0]);
	close(fds[1]);
out:
	return rc;
}

static void detach_stdio(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return;
	for (int i = 0; i <= 2; i++)
		if (fd != i)
			dup2(fd, i);
	if (fd > 2)
		close(fd);
}

void daemon_ready(struct daemon *d)
{
	if (!d->background)
		return;
	if (d->report_fd >= 0) {
		daemon_send_report(d->report_fd, 0, NULL);
		close(d->report_fd);
		d->report_fd = -1;
	}
	detach_stdio();
	if (chdir("/") < 0)
		log_warn("cannot change directory to /: %s", strerror(errno));
}

void daemon_fail(struct daemon *d, const char *progname, int code,
		 const char *msg)
{
	if (code < 1 || code > 255)
		code = 1;
	if (d->report_fd >= 0 &&
	    daemon_send_report(d->report_fd, code, msg) == 0) {
		close(d->report_fd);
		d->report_fd = -1;
		return;
	}
	fprintf(stderr, "%s: %s\n", progname, msg);
}
