// SPDX-License-Identifier: GPL-2.0
/*
 * scale BLOCKS STACKS [wait|deep]: allocate BLOCKS blocks of 16 bytes from
 * STACKS distinct call stacks, keep them all, and exit (or, with "wait",
 * say "ready" and wait for SIGUSR1, SIGINT or SIGTERM first, so a report
 * can be taken while they are outstanding).  With "deep", leaf() calls
 * malloc under PAD more frames of padded(), the same in every stack: the
 * frames that tell the stacks apart start at the twelfth.
 *
 * Block i is allocated under stack i % STACKS.  The stack of index k is a
 * walk down LEVELS calls of descend(), each made from one of its four call
 * sites chosen by two bits of k: four return addresses per level, so the
 * LEVELS frames spell k in base 4 and every index has its own stack.
 * LEVELS is the fewest that gives STACKS indexes, at least 1.
 *
 * Nothing else is allocated through libc: the pointers live in a static
 * array (bss, mapped by the kernel, not by mmap()), and messages are written
 * with write(2), so the outstanding blocks are exactly BLOCKS, in exactly
 * min(BLOCKS, STACKS) stacks, of 16 bytes each.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK_SIZE	16
#define MAX_BLOCKS	(1UL << 24)

static void *blocks[MAX_BLOCKS];
static unsigned long nblocks;
static int levels;
static volatile sig_atomic_t go;
static int deep;

#define PAD	8

static void *__attribute__((noinline)) padded(int n)
{
	void *p = n ? padded(n - 1) : malloc(BLOCK_SIZE);

	__asm__ volatile("" : : "r"(p) : "memory");	/* no tail call */
	return p;
}

static void __attribute__((noinline)) leaf(void)
{
	if (deep)
		blocks[nblocks++] = padded(PAD);
	else
		blocks[nblocks++] = malloc(BLOCK_SIZE);	/* CALL: malloc */
}

static void __attribute__((noinline)) descend(int level, unsigned long k)
{
	if (level == levels) {
		leaf();
		return;
	}
	switch ((k >> (2 * level)) & 3) {
	case 0:
		descend(level + 1, k);
		break;
	case 1:
		descend(level + 1, k);
		break;
	case 2:
		descend(level + 1, k);
		break;
	default:
		descend(level + 1, k);
		break;
	}
}

static void say(const char *s)
{
	if (write(STDOUT_FILENO, s, strlen(s)) < 0)
		_exit(3);
}

static void on_signal(int sig)
{
	go = 1;
}

static int usage(void)
{
	say("usage: scale BLOCKS STACKS [wait|deep]  (BLOCKS <= 16777216, STACKS >= 1)\n");
	return 2;
}

int main(int argc, char **argv)
{
	unsigned long nb, ns, i;
	struct sigaction sa;
	sigset_t mask, old;
	char *end;

	if (argc < 3 || argc > 4 ||
	    (argc == 4 && strcmp(argv[3], "wait") && strcmp(argv[3], "deep")))
		return usage();
	deep = argc == 4 && !strcmp(argv[3], "deep");
	nb = strtoul(argv[1], &end, 10);
	if (*end || nb > MAX_BLOCKS)
		return usage();
	ns = strtoul(argv[2], &end, 10);
	if (*end || ns < 1)
		return usage();
	for (levels = 1; levels < 32 && (1UL << (2 * levels)) < ns; levels++)
		;

	/* The signal that ends the wait may come before we wait: block it. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, &old);

	for (i = 0; i < nb; i++)
		descend(0, i % ns);
	for (i = 0; i < nb; i++)
		if (!blocks[i]) {
			say("scale: out of memory\n");
			return 1;
		}
	if (argc == 4 && !deep) {
		say("ready\n");
		while (!go)
			sigsuspend(&old);
	}
	return 0;
}
