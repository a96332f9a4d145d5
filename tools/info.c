// SPDX-License-Identifier: MIT
/* stmctl info: a store's owner, mode, size and commit clock. */
#include <inttypes.h>
#include <string.h>

#include "stmctl.h"

static const struct opt info_opts[] = {
	{ "json", 'j', 0, NULL, "print a JSON object" },
	{ NULL, 0, 0, NULL, NULL },
};

const struct usage info_usage = {
	"NAME [--json]",
	"Also shows the limits in force (key length, value size, keys per call).\n",
	info_opts,
};

int cmd_info(int argc, char **argv)
{
	struct stm_limits lim;
	struct stm_store *s;
	struct stm_info in;
	struct args a;
	int ret;

	ret = parse_args("info", argc, argv, &a, 1, 1);
	if (ret)
		return ret < 0 ? EX_OK : ret;
	ret = open_store(a.pos[0], STM_RDONLY, &s);
	if (ret)
		return ret;
	ret = stm_info(s, &in);
	stm_limits(s, &lim);
	stm_close(s);
	if (ret)
		return fail(ret, "%s", a.pos[0]);
	if (has_opt(&a, "json")) {
		printf("{\"name\":");
		json_name(stdout, in.name, sizeof(in.name));
		printf(",\"uid\":%u,\"gid\":%u,\"mode\":\"%04o\",\"keys\":%" PRIu64
		       ",\"bytes\":%" PRIu64 ",\"charge\":%" PRIu64
		       ",\"clock\":%" PRIu64 ",\"unlinked\":%s"
		       ",\"max_key_len\":%u,\"max_value_size\":%u,\"max_keys_per_call\":%u}\n",
		       in.uid, in.gid, in.mode, in.keys, in.bytes, in.charge, in.clock,
		       in.unlinked ? "true" : "false", lim.max_key_len, lim.max_value_size,
		       lim.max_keys_per_call);
	} else {
		printf("name:              ");
		print_name(stdout, in.name, sizeof(in.name));
		putchar('\n');
		printf("owner:             %u:%u\n", in.uid, in.gid);
		printf("mode:              %04o\n", in.mode);
		printf("keys:              %" PRIu64 "\n", in.keys);
		printf("bytes:             %" PRIu64 "\n", in.bytes);
		printf("charge:            %" PRIu64 "\n", in.charge);
		printf("clock:             %" PRIu64 "\n", in.clock);
		printf("unlinked:          %s\n", in.unlinked ? "yes" : "no");
		printf("max_key_len:       %u\n", lim.max_key_len);
		printf("max_value_size:    %u\n", lim.max_value_size);
		printf("max_keys_per_call: %u\n", lim.max_keys_per_call);
	}
	return EX_OK;
}
