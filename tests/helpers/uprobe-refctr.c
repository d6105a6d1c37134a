// SPDX-License-Identifier: GPL-2.0
/*
 * Hold a uprobe on FILE:OFFSET with a reference counter (ref_ctr_offset), as
 * bcc's USDT probes do, until killed: memleak, probing the same address
 * without one, must then explain the kernel's EINVAL.
 * usage: uprobe-refctr FILE OFFSET REF_CTR_OFFSET
 */
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct perf_event_attr attr = { .size = sizeof(attr) };
	FILE *f = fopen("/sys/bus/event_source/devices/uprobe/type", "r");
	int type, fd;

	if (argc != 4 || !f || fscanf(f, "%d", &type) != 1) {
		fprintf(stderr, "usage: uprobe-refctr FILE OFFSET REF_CTR_OFFSET\n");
		return 2;
	}
	attr.type = type;
	attr.config1 = (unsigned long)argv[1];			/* uprobe_path */
	attr.config2 = strtoull(argv[2], NULL, 0);		/* probe_offset */
	attr.config = strtoull(argv[3], NULL, 0) << 32;		/* ref_ctr_offset:32-63 */
	fd = syscall(__NR_perf_event_open, &attr, -1, 0, -1, 0);
	if (fd < 0) {
		perror("perf_event_open");
		return 1;
	}
	ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
	printf("ready\n");
	fflush(stdout);
	pause();
	return 0;
}
