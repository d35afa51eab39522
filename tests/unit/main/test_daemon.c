/* Unit tests of daemonising (src/main/daemon.c): the report pipe between
 * the daemon and the parent that waits for it, and the whole fork path
 * with real processes.  Nothing here depends on timing: every wait is for
 * a process or a pipe to end. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon_i.h"
#include "options_i.h"
#include "testutil.h"

static char out_text[4096];

/* Run daemon_wait_report on fd and keep what it printed in out_text. */
static int wait_report(int fd, pid_t child)
{
	FILE *f = tmpfile();
	int code;
	size_t n;

	code = daemon_wait_report(fd, child, "t", f);
	rewind(f);
	n = fread(out_text, 1, sizeof(out_text) - 1, f);
	out_text[n] = '\0';
	fclose(f);
	return code;
}

static void test_report_ready(void)
{
	int fds[2];

	CHECK_INT(pipe(fds), 0);
	CHECK_INT(daemon_send_report(fds[1], 0, NULL), 0);
	CHECK_INT(wait_report(fds[0], -1), 0);
	CHECK_STR(out_text, "");
	close(fds[0]);
	close(fds[1]);
}

static void test_report_error(void)
{
	int fds[2];

	CHECK_INT(pipe(fds), 0);
	CHECK_INT(daemon_send_report(fds[1], OSSFS_EXIT_REJECTED,
				     "bucket 'b' does not exist\nat x"),
		  0);
	CHECK_INT(wait_report(fds[0], -1), OSSFS_EXIT_REJECTED);
	/* One line: the newline inside became a space. */
	CHECK_STR(out_text, "t: bucket 'b' does not exist at x\n");
	close(fds[0]);
	close(fds[1]);

	CHECK_INT(pipe(fds), 0);
	CHECK(write(fds[1], "junk\n", 5) == 5);
	CHECK_INT(wait_report(fds[0], -1), 1);
	CHECK(strstr(out_text, "garbled") != NULL);
	close(fds[0]);
	close(fds[1]);
}

/* A child that dies without a report: the parent says how. */
static int vanish(void (*how)(void))
{
	int fds[2];
	pid_t pid;
	int code;

	CHECK_INT(pipe(fds), 0);
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		how();
		_exit(0);
	}
	close(fds[1]);
	code = wait_report(fds[0], pid);
	close(fds[0]);
	return code;
}

static void exit_7(void)
{
	_exit(7);
}

static void killed(void)
{
	raise(SIGKILL);
}

static void exit_0(void)
{
	_exit(0);
}

static void test_child_vanished(void)
{
	CHECK_INT(vanish(exit_7), 7);
	CHECK(strstr(out_text, "exited with status 7") != NULL);
	CHECK_INT(vanish(killed), 1);
	CHECK(strstr(out_text, "killed by signal 9") != NULL);
	CHECK_INT(vanish(exit_0), 1);
	CHECK(strstr(out_text, "before the mount was ready") != NULL);
}

/* The real path: a process calls daemon_start; its child (the daemon)
 * either fails or reports ready; the first process must exit with the
 * daemon's status and print its reason.  The daemon writes what it sees
 * (session, directory, stdout) on a side pipe. */
static void daemon_body(bool ready, int side)
{
	struct daemon d;
	char cwd[256] = "";
	char line[512];

	if (daemon_start(&d, true, "t") < 0)
		_exit(99);
	if (!ready) {
		daemon_fail(&d, "t", OSSFS_EXIT_NETWORK, "cannot reach x");
		_exit(OSSFS_EXIT_NETWORK);
	}
	daemon_ready(&d);
	if (!getcwd(cwd, sizeof(cwd)))
		cwd[0] = '\0';
	snprintf(line, sizeof(line), "leader=%d cwd=%s stdout_tty=%d",
		 getsid(0) == getpid(), cwd, isatty(1));
	if (write(side, line, strlen(line)) < 0)
		_exit(98);
	_exit(0);
}

static int run_daemon(bool ready, char *side_text, size_t side_size)
{
	int side[2], st = 0;
	FILE *errf = tmpfile();
	pid_t pid;
	size_t n;
	ssize_t r;

	CHECK_INT(pipe(side), 0);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(side[0]);
		dup2(fileno(errf), 2);
		daemon_body(ready, side[1]);
	}
	close(side[1]);
	/* EOF once both the parent and the daemon are gone. */
	n = 0;
	while ((r = read(side[0], side_text + n, side_size - 1 - n)) > 0)
		n += (size_t)r;
	side_text[n] = '\0';
	close(side[0]);
	CHECK_INT(waitpid(pid, &st, 0), pid);
	rewind(errf);
	n = fread(out_text, 1, sizeof(out_text) - 1, errf);
	out_text[n] = '\0';
	fclose(errf);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_daemon_fails(void)
{
	char side[512];

	CHECK_INT(run_daemon(false, side, sizeof(side)), OSSFS_EXIT_NETWORK);
	CHECK_STR(out_text, "t: cannot reach x\n");
	CHECK_STR(side, "");
}

static void test_daemon_ready(void)
{
	char side[512];

	CHECK_INT(run_daemon(true, side, sizeof(side)), 0);
	CHECK_STR(out_text, "");
	CHECK_STR(side, "leader=1 cwd=/ stdout_tty=0");
}

static void test_foreground(void)
{
	struct daemon d;
	char before[1024], after[1024];

	CHECK(getcwd(before, sizeof(before)) != NULL);
	CHECK_INT(daemon_start(&d, false, "t"), 0);
	CHECK_INT(d.report_fd, -1);
	daemon_ready(&d);
	CHECK(getcwd(after, sizeof(after)) != NULL);
	CHECK_STR(after, before);
}

TU_MAIN(TU_CASE(test_report_ready), TU_CASE(test_report_error),
	TU_CASE(test_child_vanished), TU_CASE(test_daemon_fails),
	TU_CASE(test_daemon_ready), TU_CASE(test_foreground))
