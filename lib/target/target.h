/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The traced process: started by memleak (-c, held before execve until the
 * probes exist, watched with ptrace so its mappings can be read at exit) or
 * an existing one (-p, watched with a pidfd).
 */
#ifndef MEMLEAK_TARGET_H
#define MEMLEAK_TARGET_H

#include <stdbool.h>
#include <sys/types.h>

struct ml_target {
	pid_t pid;
	bool child;		/* started by us */
	bool gone;		/* exited and reaped (or vanished) */
	int status;		/* wait status, valid when gone && child */
	int exit_status;	/* wait status of the exit @at_exit is called for */
	int go_fd;		/* -c: writing to it lets the child execve */
	int err_fd;		/* -c: the child's execve errno, or EOF */
	int pidfd;		/* -p: readable once the process exits */
	/*
	 * -c: called once the program's libraries are mapped, before its
	 * first instruction (a breakpoint at its entry point).
	 */
	void (*at_entry)(void *arg);
	void *entry_arg;
	uint64_t entry;		/* the breakpoint's address, 0 if none */
	long entry_word;	/* the text it replaced */
};

/*
 * Fork a child for @argv (@prog: the resolved executable) that waits
 * before execve.  Under sudo it runs as SUDO_UID/SUDO_GID.  0 or -errno.
 */
int ml_target_spawn(struct ml_target *t, const char *prog, char *const argv[]);

/* Let the child execve.  0, or -errno from a failed execve (it then exits). */
int ml_target_start(struct ml_target *t);

/* Watch an existing process.  0, or -ESRCH if there is none. */
int ml_target_attach(struct ml_target *t, pid_t pid);

/*
 * Collect state changes (call on SIGCHLD or when pidfd is readable).
 * @at_exit runs while an exiting child's memory is still there.
 * Returns true once the target is gone.
 */
bool ml_target_update(struct ml_target *t, void (*at_exit)(void *), void *arg);

/* The shell-style exit code of a finished child: status or 128+signal. */
int ml_target_exit_code(const struct ml_target *t);

/* Kill and reap a child we started (memleak is giving up or quitting). */
void ml_target_kill(struct ml_target *t);

#endif /* MEMLEAK_TARGET_H */
