/* SPDX-License-Identifier: GPL-2.0 */
/* What every BPF event source asks of its libbpf object. */
#ifndef MEMLEAK_BPFOBJ_H
#define MEMLEAK_BPFOBJ_H

#include <stdint.h>

struct bpf_object;

/* The recursion misses of the loaded programs of @obj (NULL: 0). */
uint64_t ml_bpf_misses(struct bpf_object *obj);

#endif /* MEMLEAK_BPFOBJ_H */
