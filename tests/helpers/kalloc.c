// SPDX-License-Identifier: GPL-2.0
/*
 * Make deterministic kernel allocations for the kernel-mode tests, and
 * release them on request.  usage: kalloc NSHM NKEYS NPIPES
 *   SIGUSR1: create NSHM SysV shm segments of 64 KiB (every page touched),
 *            add NKEYS user keys, open NPIPES pipes; prints "allocated"
 *   SIGUSR2: remove them all; prints "freed"
 *   SIGTERM: exit
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/keyctl.h>

#define SHM_SIZE (64 * 1024)

static volatile sig_atomic_t todo;

static void on_signal(int sig)
{
	todo = sig;
}

static long add_key(const char *desc, const void *payload, size_t len)
{
	return syscall(SYS_add_key, "user", desc, payload, len,
		       KEY_SPEC_PROCESS_KEYRING);
}

int main(int argc, char **argv)
{
	int nshm, nkeys, npipes, *shm, *keys, (*pipes)[2];
	char payload[100];

	if (argc != 4) {
		fprintf(stderr, "usage: kalloc NSHM NKEYS NPIPES\n");
		return 2;
	}
	nshm = atoi(argv[1]);
	nkeys = atoi(argv[2]);
	npipes = atoi(argv[3]);
	shm = calloc(nshm + 1, sizeof(*shm));
	keys = calloc(nkeys + 1, sizeof(*keys));
	pipes = calloc(npipes + 1, sizeof(*pipes));
	memset(payload, 'k', sizeof(payload));
	signal(SIGUSR1, on_signal);
	signal(SIGUSR2, on_signal);
	signal(SIGTERM, on_signal);
	/* the process keyring now, so SIGUSR1 allocates exactly NKEYS keys */
	syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 1);
	printf("ready\n");
	fflush(stdout);

	for (;;) {
		while (!todo)
			pause();
		if (todo == SIGTERM)
			return 0;
		if (todo == SIGUSR1) {
			for (int i = 0; i < nshm; i++) {
				char *p;

				shm[i] = shmget(IPC_PRIVATE, SHM_SIZE, IPC_CREAT | 0600);
				p = shmat(shm[i], NULL, 0);
				if (shm[i] < 0 || p == (void *)-1) {
					perror("shm");
					return 1;
				}
				for (int off = 0; off < SHM_SIZE; off += 4096)
					p[off] = 1;
				shmdt(p);
			}
			for (int i = 0; i < nkeys; i++) {
				char desc[64];

				snprintf(desc, sizeof(desc), "memleak-test-%d-%d", getpid(), i);
				keys[i] = add_key(desc, payload, sizeof(payload));
				if (keys[i] < 0) {
					perror("add_key");
					return 1;
				}
			}
			for (int i = 0; i < npipes; i++)
				if (pipe(pipes[i])) {
					perror("pipe");
					return 1;
				}
			printf("allocated\n");
		} else if (todo == SIGUSR2) {
			for (int i = 0; i < nshm; i++)
				shmctl(shm[i], IPC_RMID, NULL);
			for (int i = 0; i < nkeys; i++)
				syscall(SYS_keyctl, KEYCTL_INVALIDATE, keys[i]);
			for (int i = 0; i < npipes; i++) {
				close(pipes[i][0]);
				close(pipes[i][1]);
			}
			printf("freed\n");
		}
		fflush(stdout);
		todo = 0;
	}
}
