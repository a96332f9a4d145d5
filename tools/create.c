// SPDX-License-Identifier: MIT
/* stmctl create: create a store. */
#include <stdlib.h>
#include <sys/stat.h>

#include "stmctl.h"

static const struct opt create_opts[] = {
	{ "mode", 'm', 1, "MODE", "permission bits, octal (default 0666 less the umask)" },
	{ NULL, 0, 0, NULL, NULL },
};

const struct usage create_usage = {
	"NAME [--mode MODE]",
	"NAME is 1-63 characters of [A-Za-z0-9._-].  Fails if NAME exists.\n",
	create_opts,
};

int cmd_create(int argc, char **argv)
{
	struct stm_store *s;
	const char *m;
	mode_t mode;
	struct args a;
	int ret;

	ret = parse_args("create", argc, argv, &a, 1, 1);
	if (ret)
		return ret < 0 ? EX_OK : ret;
	m = opt_val(&a, "mode");
	if (m) {
		char *end;
		unsigned long v = strtoul(m, &end, 8);

		if (!*m || *end || v > 0777)
			return usage_error("create", "bad mode '%s' (octal, at most 0777)", m);
		mode = v;
	} else {
		mode_t um = umask(0);

		umask(um);
		mode = 0666 & ~um;
	}
	ret = stm_open(a.pos[0], STM_CREAT | STM_EXCL, mode, &s);
	if (ret)
		return fail(ret, "%s", a.pos[0]);
	stm_close(s);
	return EX_OK;
}
