// SPDX-License-Identifier: GPL-2.0
/*
 * The traced process: started by memleak (-c) and held before execve until
 * the probes exist, or an existing one (-p).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <elf.h>
#include <sys/prctl.h>
#include <sys/user.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "target/target.h"
#include "util/util.h"

extern char **environ;

/* Under sudo, give the command back to the user who ran sudo. */
static int drop_to_sudo_user(void)
{
	const char *u = getenv("SUDO_UID"), *g = getenv("SUDO_GID");
	uint64_t uid, gid;
	struct passwd *pw;

	if (getuid() != 0 || !u || !g || !ml_parse_u64(u, 1, 0xfffffffe, false, &uid) ||
	    !ml_parse_u64(g, 0, 0xfffffffe, false, &gid))
		return 0;
	pw = getpwuid(uid);
	if ((pw ? initgroups(pw->pw_name, gid) : setgroups(0, NULL)) ||
	    setgid(gid) || setuid(uid))
		return -errno;
	return 0;
}

static void child_fail(int fd, int err)
{
	if (write(fd, &err, sizeof(err)) < 0)
		_exit(127);
	_exit(127);
}

int ml_target_spawn(struct ml_target *t, const char *prog, char *const argv[])
{
	int go[2], errp[2];
	pid_t pid;
	char c;

	memset(t, 0, sizeof(*t));
	t->pidfd = -1;
	if (pipe2(go, O_CLOEXEC) || pipe2(errp, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		sigset_t none;

		close(go[1]);
		close(errp[0]);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (drop_to_sudo_user())
			child_fail(errp[1], errno);
		/*
		 * From here on only read() and execve(): once the probes
		 * exist, anything allocated here would count as the
		 * command's own.
		 */
		if (read(go[0], &c, 1) != 1)
			_exit(127);
		execve(prog, argv, environ);
		child_fail(errp[1], errno);
	}
	close(go[0]);
	close(errp[1]);
	t->pid = pid;
	t->child = true;
	t->go_fd = go[1];
	t->err_fd = errp[0];

	/* Watch it for its exit, and take it with us if we die. */
	if (ptrace(PTRACE_SEIZE, pid, 0,
		   PTRACE_O_TRACEEXIT | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL)) {
		int err = -errno;

		ml_target_kill(t);
		return err;
	}
	return 0;
}

int ml_target_start(struct ml_target *t)
{
	struct pollfd pfd = { .fd = t->err_fd, .events = POLLIN };
	int err = 0;
	ssize_t n = 0;

	if (write(t->go_fd, "g", 1) != 1)
		return -errno;
	close(t->go_fd);
	t->go_fd = -1;
	/*
	 * EOF: execve succeeded and closed the pipe; 4 bytes: its errno.
	 * Meanwhile a signal (Ctrl-C) can stop the child in ptrace before it
	 * gets there: pass such signals on, or we would wait for each other.
	 */
	for (;;) {
		int r = poll(&pfd, 1, 50);

		if (r > 0) {
			n = read(t->err_fd, &err, sizeof(err));
			if (n >= 0 || errno != EINTR)
				break;
		} else if (r == 0 && ml_target_update(t, NULL, NULL)) {
			break;		/* it died before its execve */
		} else if (r < 0 && errno != EINTR) {
			break;
		}
	}
	close(t->err_fd);
	t->err_fd = -1;
	return n == sizeof(err) ? -err : 0;
}

int ml_target_attach(struct ml_target *t, pid_t pid)
{
	memset(t, 0, sizeof(*t));
	t->go_fd = t->err_fd = -1;
	t->pid = pid;
	t->pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (t->pidfd < 0)
		return -errno;
	return 0;
}

/*
 * At the execve stop only the program and ld.so are mapped.  An int3 at the
 * entry point stops the program again once ld.so has mapped its libraries
 * and before the program's first instruction: the moment at_entry needs.
 */
static void set_entry_breakpoint(struct ml_target *t)
{
	long word;

	if (!t->at_entry)
		return;
	t->entry = ml_proc_auxv(t->pid, AT_ENTRY);
	if (!t->entry)
		return;
	errno = 0;
	word = ptrace(PTRACE_PEEKTEXT, t->pid, t->entry, 0);
	if (errno || ptrace(PTRACE_POKETEXT, t->pid, t->entry,
			    (word & ~0xffL) | 0xcc)) {
		t->entry = 0;
		return;
	}
	t->entry_word = word;
}

/* The stop is our entry breakpoint: put the text back, rewind, forget it. */
static bool at_entry_breakpoint(struct ml_target *t)
{
#ifdef __x86_64__
	struct user_regs_struct regs;

	if (!t->entry || ptrace(PTRACE_GETREGS, t->pid, 0, &regs) ||
	    regs.rip - 1 != t->entry)
		return false;
	ptrace(PTRACE_POKETEXT, t->pid, t->entry, t->entry_word);
	regs.rip = t->entry;
	ptrace(PTRACE_SETREGS, t->pid, 0, &regs);
	t->entry = 0;
	return true;
#else
	return false;
#endif
}

bool ml_target_update(struct ml_target *t, void (*at_exit)(void *), void *arg)
{
	int st;

	if (t->gone)
		return true;
	if (!t->child) {
		/* A pidfd polls readable once its process has exited. */
		struct pollfd pfd = { .fd = t->pidfd, .events = POLLIN };

		if (poll(&pfd, 1, 0) != 0)
			t->gone = true;
		return t->gone;
	}
	for (;;) {
		pid_t r = waitpid(t->pid, &st, WNOHANG | __WALL);
		int event, sig;

		if (r == 0)
			return false;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			t->gone = true;
			return true;
		}
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			t->status = st;
			t->gone = true;
			return true;
		}
		if (!WIFSTOPPED(st))
			continue;
		event = st >> 16;
		sig = WSTOPSIG(st);
		if (event == PTRACE_EVENT_EXIT) {
			unsigned long msg = 0;

			ptrace(PTRACE_GETEVENTMSG, t->pid, 0, &msg);
			t->exit_status = msg;
			if (at_exit)
				at_exit(arg);
			ptrace(PTRACE_CONT, t->pid, 0, 0);
		} else if (event == PTRACE_EVENT_EXEC) {
			t->entry = 0;	/* a new program: its own entry point */
			set_entry_breakpoint(t);
			ptrace(PTRACE_CONT, t->pid, 0, 0);
		} else if (sig == SIGTRAP && !event && at_entry_breakpoint(t)) {
			if (t->at_entry)
				t->at_entry(t->entry_arg);
			ptrace(PTRACE_CONT, t->pid, 0, 0);
		} else if (event == PTRACE_EVENT_STOP) {
			/* group stop (SIGSTOP, SIGTSTP): stay stopped */
			ptrace(PTRACE_LISTEN, t->pid, 0, 0);
		} else {
			/* a signal for the command: deliver it */
			ptrace(PTRACE_CONT, t->pid, 0, sig);
		}
	}
}

int ml_target_exit_code(const struct ml_target *t)
{
	if (WIFEXITED(t->status))
		return WEXITSTATUS(t->status);
	if (WIFSIGNALED(t->status))
		return 128 + WTERMSIG(t->status);
	return 1;
}

void ml_target_kill(struct ml_target *t)
{
	if (t->go_fd >= 0)
		close(t->go_fd);
	if (t->err_fd >= 0)
		close(t->err_fd);
	t->go_fd = t->err_fd = -1;
	if (!t->child || t->gone)
		return;
	kill(t->pid, SIGKILL);
	while (waitpid(t->pid, &t->status, __WALL) < 0 && errno == EINTR)
		;
	t->gone = true;
}
