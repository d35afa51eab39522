/* main/daemon: going to the background without losing start-up errors.
 *
 * fork() keeps only the calling thread, and the http engine and the
 * RAM-role provider own threads, so ossfs forks FIRST, before building
 * anything, and the child does all the work.  The parent waits on a pipe
 * for one line from the child: "ready" once the mount is up (the parent
 * exits 0, so mount(8) and shell scripts see a working mount), or an error
 * with an exit status (the parent prints it to stderr and exits with it).
 * A child that dies without a word is reported too.
 *
 * Runs on the main thread only.
 */
#ifndef OSSFS_MAIN_DAEMON_I_H
#define OSSFS_MAIN_DAEMON_I_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

struct daemon {
	bool background;
	int report_fd; /* write end to the waiting parent; -1 when none */
};

/* In the foreground: no fork, returns 0.  In the background: forks; the
 * parent waits for the child's report and exits with its status (it never
 * returns); the child becomes a session leader and returns 0.  -errno
 * when the pipe or the fork failed (nothing forked then). */
int daemon_start(struct daemon *d, bool background, const char *progname);
/* The mount is up: tell the parent, then detach from the terminal (stdio
 * to /dev/null, working directory /).  Nothing in the foreground. */
void daemon_ready(struct daemon *d);
/* Start-up failed with exit status code (1..255): the parent prints
 * "PROGNAME: msg" and exits with code.  In the foreground the message is
 * printed here. */
void daemon_fail(struct daemon *d, const char *progname, int code,
		 const char *msg);

/* The two ends of the report, exposed for tests.  code 0 means ready. */
int daemon_send_report(int fd, int code, const char *msg);
/* Reads the child's report from fd and returns the exit status for the
 * parent, printing "PROGNAME: reason" to errout on failure.  child is
 * waited for only when it closed the pipe without a report. */
int daemon_wait_report(int fd, pid_t child, const char *progname, FILE *errout);

#endif
