// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include "source/kmem.h"
#include "util/util.h"

static int ftrace_open(struct ml_source *src, const struct ml_source_config *cfg)
{
	ml_err("--backend ftrace: not yet");
	return -ENOSYS;
}
static int ftrace_attach(struct ml_source *src) { return 0; }
static uint64_t ftrace_misses(struct ml_source *src) { return 0; }
static void ftrace_close(struct ml_source *src) { }

const struct ml_source_ops ml_ftrace_source = {
	.name = "ftrace", .open = ftrace_open, .attach = ftrace_attach,
	.prog_misses = ftrace_misses, .close = ftrace_close,
};
