// SPDX-License-Identifier: MIT
/* stmctl rm: unlink stores. */
#include <errno.h>

#include "stmctl.h"

static const struct opt rm_opts[] = {
	{ "force", 'f', 0, NULL, "ignore stores that do not exist" },
	{ NULL, 0, 0, NULL, NULL },
};

const struct usage rm_usage = {
	"NAME...",
	"Attached handles keep working until closed, like an unlinked file.\n",
	rm_opts,
};

int cmd_rm(int argc, char **argv)
{
	int ret, rc = EX_OK;
	struct args a;

	ret = parse_args("rm", argc, argv, &a, 1, MAX_POS);
	if (ret)
		return ret < 0 ? EX_OK : ret;
	for (int i = 0; i < a.npos; i++) {
		ret = stm_unlink(a.pos[i]);
		if (ret == -ENOENT && has_opt(&a, "force"))
			continue;
		if (ret == -ENOENT) {
			fprintf(stderr, "stmctl: %s: no such store\n", a.pos[i]);
			rc = rc ? rc : EX_NOTFOUND;
		} else if (ret) {
			int e = fail(ret, "%s", a.pos[i]);

			rc = rc ? rc : e;
		}
	}
	return rc;
}
