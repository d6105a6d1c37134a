// SPDX-License-Identifier: GPL-2.0
/* What every BPF event source asks of its libbpf object. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "source/bpfobj.h"

uint64_t ml_bpf_misses(struct bpf_object *obj)
{
	struct bpf_program *prog;
	uint64_t misses = 0;

	if (!obj)
		return 0;
	bpf_object__for_each_program(prog, obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);

		/* programs not loaded (absent tracepoints) have no fd */
		if (bpf_program__fd(prog) >= 0 &&
		    bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) == 0)
			misses += info.recursion_misses;
	}
	return misses;
}
