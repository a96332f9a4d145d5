// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/stm: one open file attaches one store; every command goes through
 * stm_dispatch(), whether it comes from ioctl() or (later) io_uring.
 */
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/nospec.h>
#include <linux/nsproxy.h>
#include <linux/sched.h>
#include <net/net_namespace.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include "stm.h"
#include "stm_trace.h"

#define STM_FEATURES	(STMDEV_F_STORE | STMDEV_F_READ | STMDEV_F_COMMIT | \
			 STMDEV_F_LIST | STMDEV_F_STATS | STMDEV_F_WAIT | \
			 STMDEV_F_FAMILY | STMDEV_F_URING | STMDEV_F_FETCH_OLD | \
			 STMDEV_F_ISOLATION | STMDEV_F_PERSIST | STMDEV_F_RANGE | \
			 STMDEV_F_RESERVE | STMDEV_F_ADD_BOUND | \
			 (STM_URING_CANCEL ? STMDEV_F_URING_CANCEL : 0))

union stm_cmd_arg {
	struct stmdev_features features;
	struct stmdev_nop nop;
	struct stmdev_attach attach;
	struct stmdev_unlink unlink;
	struct stmdev_info info;
	struct stmdev_list_stores list_stores;
	struct stmdev_read read;
	struct stmdev_commit commit;
	struct stmdev_list list;
	struct stmdev_stats stats;
	struct stmdev_wait wait;
	struct stmdev_watch watch;
	struct stmdev_family family;
	struct stmdev_family_stats family_stats;
	struct stmdev_export export;
	struct stmdev_import import;
	struct stmdev_range range;
	struct stmdev_reserve reserve;
};

static int stm_get_features(struct stm_file *f, union stm_cmd_arg *u, unsigned int how)
{
	struct stmdev_features *ft = &u->features;

	if (!stm_zero(ft->reserved, sizeof(ft->reserved)))
		return -EINVAL;
	ft->features = STM_FEATURES;
	ft->uapi_version = STMDEV_UAPI_VERSION;
	ft->max_key_len = STMDEV_KEY_MAX;
	ft->max_value_size = READ_ONCE(stm_max_value_size);
	ft->max_keys_per_call = READ_ONCE(stm_max_keys_per_call);
	return 0;
}

static int stm_nop(struct stm_file *f, union stm_cmd_arg *u, unsigned int how)
{
	return u->nop.reserved ? -EINVAL : 0;
}

static int stm_attach(struct stm_file *f, union stm_cmd_arg *u, unsigned int how)
{
	return stm_store_attach(f, &u->attach);
}

static int stm_unlink(struct stm_file *f, union stm_cmd_arg *u, unsigned int how)
{
	return stm_store_unlink(f, &u->unlink);
}

static int stm_info(struct stm_file *f, union stm_cmd_arg *u, unsigned int how)
{
	return stm_store_info(f, &u->info);
}

static int stm_list_stores(struct stm_file *f, union stm_cmd_arg *u, unsigned int how)
{
	return stm_store_list(f, &u->list_stores);
}

static int stm_read_cmd(struct stm_file *f, union stm_cmd_arg *u, unsigned int how)
{
	return stm_read(f, &u->read);
}

static int stm_commit_cmd(struct stm_file *f, union stm_cmd_arg *u, unsigned int how)
{
	return stm_commit(f, &u->commit, how);
}

static int stm_list_cmd(struct stm_file *f, union stm_cmd_arg *u, unsigned int how)
{
	return stm_list(f, &u->list);
}

static int stm_stats(struct stm_file *f, union stm_cmd_arg *u, unsigned int how)
{
	return stm_store_stats(f, &u->stats);
}

static int stm_wait_cmd(struct stm_file *f, union stm_cmd_arg *u, unsigned int how)
{
	return stm_wait(f, &u->wait);
}

static int stm_watch_cmd(struct stm_file *f, union stm_cmd_arg *u, unsigned int how)
{
	return stm_watch(f, &u->watch);
}

static int stm_family_cmd(struct stm_file *f, union stm_cmd_arg *u, unsigned int how)
{
	return stm_family_add(f, &u->family);
}

static int stm_family_stats_cmd(struct stm_file *f, union stm_cmd_arg *u, unsigned int how)
{
	return stm_family_stats(f, &u->family_stats);
}

static int stm_export_cmd(struct stm_file *f, union stm_cmd_arg *u, unsigned int how)
{
	return stm_export(f, &u->export);
}

static int stm_import_cmd(struct stm_file *f, union stm_cmd_arg *u, unsigned int how)
{
	struct stm_store *s = f->store;
	int err;

	/*
	 * Only into a store with no declared range (range.c), and none
	 * declared meanwhile: imported keys are not commits, so no range
	 * would track them.
	 */
	if (mutex_lock_killable(&s->range_lock))
		return -EINTR;
	err = READ_ONCE(s->nranges) ? -ENOTEMPTY : stm_import(f, &u->import);
	mutex_unlock(&s->range_lock);
	return err;
}

static int stm_range_cmd(struct stm_file *f, union stm_cmd_arg *u, unsigned int how)
{
	return stm_range(f, &u->range, how);
}

static int stm_reserve_cmd(struct stm_file *f, union stm_cmd_arg *u, unsigned int how)
{
	return stm_reserve(f, &u->reserve);
}

/* stm_cmd.flags */
#define STM_ATTACHED	1	/* needs a store attached to the fd */
#define STM_OUT		2	/* has outputs: copy them back */
/* Side effects too: check the outputs are writable first, so EFAULT changes nothing. */
#define STM_PROBE	4
/*
 * Outputs on EINVAL and ERANGE too: COMMIT's conflict names an ADD onto a
 * non-8-byte value, or a bounded ADD out of its bounds.
 */
#define STM_OUT_EINVAL	8

struct stm_cmd {
	unsigned int cmd;
	unsigned int flags;
	int (*fn)(struct stm_file *f, union stm_cmd_arg *u, unsigned int how);
	u8 out_off;		/* the outputs: out_len bytes from out_off, */
	u8 out_len;		/* or the whole struct when out_len is 0 */
};

/* Only fields [first, end) of @type are outputs. */
#define STM_OUTPUTS(type, first, end)					\
	.out_off = offsetof(type, first),				\
	.out_len = offsetof(type, end) - offsetof(type, first)

#define A	STM_ATTACHED
#define O	STM_OUT
#define P	STM_PROBE
#define I	STM_OUT_EINVAL

/* Indexed by _IOC_NR(cmd); append only. */
static const struct stm_cmd stm_cmds[] = {
	{ STMDEV_IOC_GET_FEATURES,	O,	stm_get_features },
	{ STMDEV_IOC_NOP,		0,	stm_nop },
	{ STMDEV_IOC_ATTACH,		0,	stm_attach },
	{ STMDEV_IOC_UNLINK,		0,	stm_unlink },
	{ STMDEV_IOC_INFO,		A | O,	stm_info },
	{ STMDEV_IOC_LIST_STORES,	O,	stm_list_stores },
	{ STMDEV_IOC_READ,		A | O,	stm_read_cmd,
	  STM_OUTPUTS(struct stmdev_read, clock, reserved0) },
	{ STMDEV_IOC_COMMIT,		A | O | P | I, stm_commit_cmd,
	  STM_OUTPUTS(struct stmdev_commit, version, family) },
	{ STMDEV_IOC_LIST,		A | O,	stm_list_cmd },
	{ STMDEV_IOC_STATS,		A | O,	stm_stats },
	{ STMDEV_IOC_WAIT,		A | O,	stm_wait_cmd,
	  STM_OUTPUTS(struct stmdev_wait, index, family) },
	{ STMDEV_IOC_WATCH,		A,	stm_watch_cmd },
	{ STMDEV_IOC_FAMILY,		A | O | P, stm_family_cmd,
	  STM_OUTPUTS(struct stmdev_family, id, reserved) },
	{ STMDEV_IOC_FAMILY_STATS,	A | O,	stm_family_stats_cmd,
	  STM_OUTPUTS(struct stmdev_family_stats, count, reserved) },
	{ STMDEV_IOC_EXPORT,		A | O,	stm_export_cmd },
	{ STMDEV_IOC_IMPORT,		A | O | P, stm_import_cmd,
	  STM_OUTPUTS(struct stmdev_import, clock, reserved) },
	{ STMDEV_IOC_RANGE,		A | O,	stm_range_cmd },
	[_IOC_NR(STMDEV_IOC_RESERVE)] = { STMDEV_IOC_RESERVE, A | O | P, stm_reserve_cmd,
	  STM_OUTPUTS(struct stmdev_reserve, bound_ms, reserved0) },
};

#undef A
#undef O
#undef P
#undef I

/*
 * Can @len bytes at @uarg be written back?  Rewrite their first and last
 * bytes with what was read (fewer than a page, so those two cover every
 * page they touch).
 */
static int stm_probe_writable(void __user *uarg, const void *k, size_t len)
{
	u8 __user *u = uarg;
	const u8 *b = k;

	if (!user_access_begin(u, len))
		return -EFAULT;
	unsafe_put_user(b[0], u, efault);
	unsafe_put_user(b[len - 1], u + len - 1, efault);
	user_access_end();
	return 0;

efault:
	user_access_end();
	return -EFAULT;
}

/* Outputs are meaningful on success and on these errors. */
static bool stm_has_out(const struct stm_cmd *c, int err)
{
	return !err || err == -ESTALE || err == -E2BIG || err == -EBUSY ||
	       err == -ETIMEDOUT ||
	       ((err == -EINVAL || err == -ERANGE) && c->flags & STM_OUT_EINVAL);
}

/*
 * Run command @cmd with its struct at @uarg of @len bytes.  The one entry
 * point for ioctl() and io_uring.
 */
long stm_dispatch(struct stm_file *f, unsigned int cmd, void __user *uarg,
		  size_t len, unsigned int how)
{
	const struct stm_cmd *c;
	union stm_cmd_arg u;
	unsigned int nr = _IOC_NR(cmd);
	size_t off, olen;
	int err;

	if (_IOC_TYPE(cmd) != STMDEV_IOC_MAGIC || nr >= ARRAY_SIZE(stm_cmds))
		return -ENOTTY;
	c = &stm_cmds[array_index_nospec(nr, ARRAY_SIZE(stm_cmds))];
	if (c->cmd != cmd)
		return -ENOTTY;
	if (len != _IOC_SIZE(cmd) || WARN_ON_ONCE(len > sizeof(u)))
		return -EINVAL;
	/* Pairs with the release in stm_store_attach(). */
	if (c->flags & STM_ATTACHED && !smp_load_acquire(&f->store))
		return -ENOTCONN;
	if (stm_copy_in(&u, uarg, len))
		return -EFAULT;
	off = c->out_off;
	olen = c->out_len ?: len;
	if (c->flags & STM_PROBE &&
	    stm_probe_writable(uarg + off, (u8 *)&u + off, olen))
		return -EFAULT;
	err = c->fn(f, &u, how);
	if (c->flags & STM_OUT && stm_has_out(c, err) &&
	    stm_copy_out(uarg + off, (u8 *)&u + off, olen))
		return -EFAULT;
	return err;
}

static long stm_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	return stm_dispatch(file->private_data, cmd, (void __user *)arg,
			    _IOC_SIZE(cmd), 0);
}

static int stm_open(struct inode *inode, struct file *file)
{
	struct stm_file *f;

	f = kzalloc(sizeof(*f), GFP_KERNEL_ACCOUNT);
	if (!f)
		return -ENOMEM;
	f->user = stm_user_get(current_fsuid());
	if (!f->user) {
		kfree(f);
		return -ENOMEM;
	}
	/* Names are looked up in the opener's network namespace. */
	f->net = get_net(current->nsproxy->net_ns);
	mutex_init(&f->watch_lock);
	mutex_init(&f->persist_lock);
	init_waitqueue_head(&f->poll_wq);
	file->private_data = f;
	return 0;
}

static __poll_t stm_poll(struct file *file, struct poll_table_struct *pt)
{
	struct stm_file *f = file->private_data;

	poll_wait(file, &f->poll_wq, pt);
	return stm_watch_poll(f);
}

static int stm_release(struct inode *inode, struct file *file)
{
	struct stm_file *f = file->private_data;

	stm_watch_release(f);
	stm_persist_release(f);
	stm_resv_release(f);
	if (f->store) {
		trace_stm_detach(f->store);
		stm_store_put(f->store);
	}
	WARN_ON_ONCE(atomic_read(&f->nwaits));
	stm_user_put(f->user);
	put_net(f->net);
	kfree(f);
	return 0;
}

const struct file_operations stm_fops = {
	.owner		= THIS_MODULE,
	.open		= stm_open,
	.release	= stm_release,
	.poll		= stm_poll,
	.unlocked_ioctl	= stm_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.uring_cmd	= stm_uring_cmd,
	.llseek		= stm_no_llseek,
};
