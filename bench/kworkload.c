// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel-allocation benchmark workload: N iterations of
 * open/read/close, pipe/write/read/close and socket/close (about 36 kmem
 * events each).  usage: kworkload [N]   (default 200000)
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;
	struct timespec a, b;
	char buf[64];

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++) {
		int fd = open("/etc/hostname", O_RDONLY), p[2], s;

		if (fd >= 0) {
			if (read(fd, buf, sizeof(buf)) < 0)
				return 1;
			close(fd);
		}
		if (pipe(p) == 0) {
			if (write(p[1], "x", 1) != 1 || read(p[0], buf, 1) != 1)
				return 1;
			close(p[0]);
			close(p[1]);
		}
		s = socket(AF_UNIX, SOCK_STREAM, 0);
		if (s >= 0)
			close(s);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.3f\n", (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
	return 0;
}
