// SPDX-License-Identifier: GPL-2.0
/*
 * stm.ko: a shared, versioned, transactional key-value store for the
 * processes of one host, reached through the misc device /dev/stm.
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/miscdevice.h>
#include <linux/kstrtox.h>
#include "stm.h"

unsigned int stm_max_value_size = 64 << 10;
unsigned int stm_max_keys_per_store = 1 << 20;
unsigned long stm_max_bytes_per_store = 64UL << 20;
unsigned int stm_max_stores = 1024;
unsigned int stm_max_keys_per_call = 1024;
unsigned int stm_max_stores_per_user = 32;
unsigned long stm_max_keys_per_user = 1UL << 20;
unsigned long stm_max_mem_per_user = 256UL << 20;
unsigned int stm_max_waits_per_fd = 4096;
unsigned int stm_max_waits_per_user = 65536;
unsigned int stm_max_reserve_ms = 50;
unsigned int stm_max_reserved_per_user = 4096;

/* A bounded module parameter: writes outside [min, max] get EINVAL. */
struct stm_param {
	void *var;
	bool is_ulong;
	unsigned long min;
	unsigned long max;
};

static int stm_param_set(const char *val, const struct kernel_param *kp)
{
	const struct stm_param *p = kp->arg;
	unsigned long v;
	int err;

	err = kstrtoul(val, 0, &v);
	if (err)
		return err;
	if (v < p->min || v > p->max)
		return -EINVAL;
	if (p->is_ulong)
		WRITE_ONCE(*(unsigned long *)p->var, v);
	else
		WRITE_ONCE(*(unsigned int *)p->var, v);
	return 0;
}

static int stm_param_get(char *buf, const struct kernel_param *kp)
{
	const struct stm_param *p = kp->arg;

	if (p->is_ulong)
		return sysfs_emit(buf, "%lu\n", READ_ONCE(*(unsigned long *)p->var));
	return sysfs_emit(buf, "%u\n", READ_ONCE(*(unsigned int *)p->var));
}

static const struct kernel_param_ops stm_param_ops = {
	.set = stm_param_set,
	.get = stm_param_get,
};

#define STM_PARAM(name, ulong, lo, hi, desc)					\
	static struct stm_param stm_param_##name = {				\
		.var = &stm_##name, .is_ulong = ulong, .min = lo, .max = hi,	\
	};									\
	module_param_cb(name, &stm_param_ops, &stm_param_##name, 0644);		\
	MODULE_PARM_DESC(name, desc)

STM_PARAM(max_value_size, false, 0, 16U << 20,
	  "largest value in bytes (default 65536, at most 16 MiB)");
STM_PARAM(max_keys_per_store, false, 1, 1U << 30,
	  "keys one store may hold (default 1048576)");
STM_PARAM(max_bytes_per_store, true, 1, 1UL << 40,
	  "key + value bytes one store may hold (default 64 MiB)");
STM_PARAM(max_stores, false, 1, 1U << 20,
	  "stores that may exist at once, all users and namespaces (default 1024)");
STM_PARAM(max_keys_per_call, false, 1, 1U << 16,
	  "entries in one READ, COMMIT, WAIT or WATCH (default 1024)");
STM_PARAM(max_stores_per_user, false, 1, 1U << 20,
	  "stores one user may own (default 32)");
STM_PARAM(max_keys_per_user, true, 1, 1UL << 32,
	  "keys in all the stores one user owns (default 1048576)");
STM_PARAM(max_mem_per_user, true, 1UL << 16, 1UL << 40,
	  "kernel bytes of all the stores one user owns (default 256 MiB)");
STM_PARAM(max_waits_per_fd, false, 1, 1U << 24,
	  "wait and watch entries queued through one fd (default 4096)");
STM_PARAM(max_waits_per_user, false, 1, 1U << 24,
	  "wait and watch entries of the fds one user opened (default 65536)");
STM_PARAM(max_reserve_ms, false, 1, 1000,
	  "longest a RESERVE holds keys, in ms (default 50, at most 1000)");
STM_PARAM(max_reserved_per_user, false, 1, 1U << 20,
	  "keys reserved through the fds one user opened (default 4096)");

/*
 * /dev/stm is misc minor STM_MINOR (in 243-254, "reserved for local use"
 * in Documentation/admin-guide/devices.txt), so depmod writes it into
 * modules.devname: systemd creates /dev/stm at boot and the first open
 * loads the module.  Should another local driver hold that minor, stm
 * falls back to a dynamic one (no autoload then).  The node's mode is
 * dev_mode (default 0666, any local user); a udev rule may narrow it.
 */
#define STM_MINOR 250
MODULE_ALIAS_MISCDEV(STM_MINOR);
MODULE_ALIAS("devname:stm");

static ushort stm_dev_mode = 0666;
module_param_named(dev_mode, stm_dev_mode, ushort, 0444);
MODULE_PARM_DESC(dev_mode, "mode of /dev/stm at creation, at most 0666 (default 0666)");

static struct miscdevice stm_misc = {
	.minor	= STM_MINOR,
	.name	= "stm",
	.fops	= &stm_fops,
};

static int __init stm_init(void)
{
	int err;

	stm_scratch_init();
	if (stm_dev_mode & ~0666) {
		err = -EINVAL;
		goto out_scratch;
	}
	err = stm_keys_init();
	if (err)
		goto out_scratch;
	err = stm_stores_init();
	if (err)
		goto out_keys;
	stm_misc.mode = stm_dev_mode;
	err = misc_register(&stm_misc);
	if (err == -EBUSY) {
		pr_warn("misc minor %d is taken, using a dynamic one\n", STM_MINOR);
		stm_misc.minor = MISC_DYNAMIC_MINOR;
		err = misc_register(&stm_misc);
	}
	if (err)
		goto out_stores;
	pr_debug("loaded, uapi %d\n", STMDEV_UAPI_VERSION);
	return 0;

out_stores:
	stm_stores_exit();
out_keys:
	stm_keys_exit();
out_scratch:
	stm_scratch_exit();
	return err;
}

static void __exit stm_exit(void)
{
	misc_deregister(&stm_misc);
	stm_stores_exit();
	rcu_barrier();		/* keys freed by call_rcu() */
	stm_keys_exit();
	stm_scratch_exit();
}

module_init(stm_init);
module_exit(stm_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Shared versioned transactional key-value store");
MODULE_AUTHOR("The stm developers");
