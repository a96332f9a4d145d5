// SPDX-License-Identifier: GPL-2.0
/*
 * The registry of named stores: create, attach with POSIX-shm-like
 * permissions, unlink, list.  A store lives until it is unlinked and its
 * last fd is closed, or the module is unloaded.
 */
#include <linux/capability.h>
#include <linux/ctype.h>
#include <linux/cred.h>
#include <linux/mutex.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include "stm.h"

static DEFINE_MUTEX(stm_stores_lock);
static LIST_HEAD(stm_stores);		/* by id, under stm_stores_lock */
static unsigned int stm_nstores;	/* under stm_stores_lock */
static u64 stm_next_store_id = 1;	/* under stm_stores_lock */

static const u32 stm_attach_flags = STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL |
				    STMDEV_ATTACH_RDONLY | STMDEV_ATTACH_NONBLOCK;

/* 1..63 bytes of [A-Za-z0-9._-], NUL-terminated within the field. */
static int stm_check_name(const char *name)
{
	size_t len = strnlen(name, STMDEV_NAME_MAX);
	size_t i;

	if (len == STMDEV_NAME_MAX)
		return -ENAMETOOLONG;
	if (!len)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (!isalnum(c) && c != '.' && c != '_' && c != '-')
			return -EINVAL;
	}
	return 0;
}

/* Caller holds stm_stores_lock. */
static struct stm_store *stm_store_find(const char *name)
{
	struct stm_store *s;

	list_for_each_entry(s, &stm_stores, link)
		if (!strcmp(s->name, name))
			return s;
	return NULL;
}

/* Does @s's mode let the current task open it for @mask (MAY_READ, MAY_WRITE)? */
static bool stm_store_mode_permits(const struct stm_store *s, int mask)
{
	umode_t mode = s->mode;

	if (uid_eq(current_fsuid(), s->uid))
		mode >>= 6;
	else if (in_group_p(s->gid))
		mode >>= 3;
	return ((mode & 7) & mask) == mask;
}

/* May the current task open @s for @mask (MAY_READ, MAY_WRITE)? */
static bool stm_store_permitted(const struct stm_store *s, int mask)
{
	return stm_store_mode_permits(s, mask) || capable(CAP_DAC_OVERRIDE);
}

static struct stm_store *stm_store_create(const char *name, umode_t mode)
{
	struct stm_store *s;

	s = kzalloc(sizeof(*s), GFP_KERNEL_ACCOUNT);
	if (!s)
		return ERR_PTR(-ENOMEM);
	s->stats = alloc_percpu_gfp(struct stm_pcpu_stats, GFP_KERNEL_ACCOUNT);
	if (!s->stats)
		goto out_free;
	if (stm_table_init(s))
		goto out_free_stats;
	stm_wait_init(s);
	mutex_init(&s->fam_lock);
	kref_init(&s->ref);
	strscpy(s->name, name, sizeof(s->name));
	s->uid = current_fsuid();
	s->gid = current_fsgid();
	s->mode = mode;
	s->seed = get_random_u32();
	return s;

out_free_stats:
	free_percpu(s->stats);
out_free:
	kfree(s);
	return ERR_PTR(-ENOMEM);
}

static void stm_store_release(struct kref *ref)
{
	struct stm_store *s = container_of(ref, struct stm_store, ref);

	stm_table_destroy(s);
	free_percpu(s->stats);
	kfree(s);
}

void stm_store_put(struct stm_store *s)
{
	kref_put(&s->ref, stm_store_release);
}

int stm_store_attach(struct stm_file *f, struct stmdev_attach *a)
{
	int mask = MAY_READ;
	struct stm_store *s, *created = NULL;
	int err;

	if (a->flags & ~stm_attach_flags || a->reserved[0] || a->reserved[1])
		return -EINVAL;
	if ((a->flags & STMDEV_ATTACH_EXCL) && !(a->flags & STMDEV_ATTACH_CREAT))
		return -EINVAL;
	err = stm_check_name(a->name);
	if (err)
		return err;
	if (!(a->flags & STMDEV_ATTACH_RDONLY))
		mask |= MAY_WRITE;
	if (READ_ONCE(f->store))
		return -EBUSY;
	if (a->flags & STMDEV_ATTACH_CREAT) {
		created = stm_store_create(a->name, a->mode & 0777);
		if (IS_ERR(created))
			return PTR_ERR(created);
	}

	mutex_lock(&stm_stores_lock);
	err = -EBUSY;
	if (f->store)		/* attaches of one fd serialize on the lock */
		goto out_unlock;
	s = stm_store_find(a->name);
	if (s) {
		err = -EEXIST;
		if (a->flags & STMDEV_ATTACH_EXCL)
			goto out_unlock;
		err = -EACCES;
		if (!stm_store_permitted(s, mask))
			goto out_unlock;
	} else {
		err = -ENOENT;
		if (!created)
			goto out_unlock;
		err = -ENOSPC;
		if (stm_nstores >= READ_ONCE(stm_max_stores))
			goto out_unlock;
		s = created;
		created = NULL;
		s->id = stm_next_store_id++;
		list_add_tail(&s->link, &stm_stores);
		stm_nstores++;
	}
	f->flags = a->flags & (STMDEV_ATTACH_RDONLY | STMDEV_ATTACH_NONBLOCK);
	kref_get(&s->ref);
	/* Publish flags before the store: pairs with stm_dispatch(). */
	smp_store_release(&f->store, s);
	err = 0;
out_unlock:
	mutex_unlock(&stm_stores_lock);
	if (created)
		stm_store_put(created);
	return err;
}

int stm_store_unlink(struct stmdev_unlink *u)
{
	struct stm_store *s;
	int err;

	if (u->reserved)
		return -EINVAL;
	err = stm_check_name(u->name);
	if (err)
		return err;
	mutex_lock(&stm_stores_lock);
	s = stm_store_find(u->name);
	err = -ENOENT;
	if (!s)
		goto out_unlock;
	err = -EPERM;
	if (!uid_eq(current_fsuid(), s->uid) && !capable(CAP_SYS_ADMIN))
		goto out_unlock;
	list_del(&s->link);
	stm_nstores--;
	s->unlinked = true;
	err = 0;
out_unlock:
	mutex_unlock(&stm_stores_lock);
	if (!err) {
		stm_wake_all(s);
		stm_store_put(s);
	}
	return err;
}

int stm_store_info(struct stm_file *f, struct stmdev_info *info)
{
	struct stm_store *s = f->store;
	struct user_namespace *ns = current_user_ns();

	if (info->reserved0 || !stm_zero(info->reserved, sizeof(info->reserved)))
		return -EINVAL;
	memcpy(info->name, s->name, sizeof(info->name));
	info->uid = from_kuid_munged(ns, s->uid);
	info->gid = from_kgid_munged(ns, s->gid);
	info->mode = s->mode;
	info->attach_flags = f->flags;
	info->keys = atomic64_read(&s->nkeys);
	info->bytes = atomic64_read(&s->nbytes);
	info->clock = atomic64_read(&s->clock);
	info->unlinked = READ_ONCE(s->unlinked);
	return 0;
}

int stm_store_list(struct stmdev_list_stores *ls)
{
	struct stmdev_store_ent __user *out = u64_to_user_ptr(ls->addr);
	struct user_namespace *ns = current_user_ns();
	struct stmdev_store_ent *ents;
	struct stm_store *s;
	u32 max, n = 0;
	u64 next = 0;
	int err = 0;
	/* Asked once, without an audit record: a listing is no access. */
	bool override = ns_capable_noaudit(&init_user_ns, CAP_DAC_OVERRIDE);

	if (ls->reserved)
		return -EINVAL;
	max = min_t(u32, ls->len / sizeof(*ents), 256);
	if (!max)
		return -E2BIG;
	ents = kcalloc(max, sizeof(*ents), GFP_KERNEL);
	if (!ents)
		return -ENOMEM;

	mutex_lock(&stm_stores_lock);
	list_for_each_entry(s, &stm_stores, link) {
		if (s->id < ls->cursor ||
		    !(override || stm_store_mode_permits(s, MAY_READ)))
			continue;
		if (n == max) {
			next = s->id;
			break;
		}
		memcpy(ents[n].name, s->name, sizeof(ents[n].name));
		ents[n].uid = from_kuid_munged(ns, s->uid);
		ents[n].gid = from_kgid_munged(ns, s->gid);
		ents[n].mode = s->mode;
		ents[n].keys = atomic64_read(&s->nkeys);
		ents[n].bytes = atomic64_read(&s->nbytes);
		n++;
	}
	mutex_unlock(&stm_stores_lock);

	if (copy_to_user(out, ents, n * sizeof(*ents)))
		err = -EFAULT;
	kfree(ents);
	ls->count = n;
	ls->cursor = next;
	return err;
}

int stm_store_stats(struct stm_file *f, struct stmdev_stats *st)
{
	struct stm_store *s = f->store;
	int cpu;

	if (!stm_zero(st->reserved, sizeof(st->reserved)))
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	for_each_possible_cpu(cpu) {
		const struct stm_pcpu_stats *c = per_cpu_ptr(s->stats, cpu);

		st->commits += READ_ONCE(c->commits);
		st->conflicts += READ_ONCE(c->conflicts);
		st->busy += READ_ONCE(c->busy);
		st->reads += READ_ONCE(c->reads);
		st->waits += READ_ONCE(c->waits);
		st->wakeups += READ_ONCE(c->wakeups);
	}
	st->keys = atomic64_read(&s->nkeys);
	st->bytes = atomic64_read(&s->nbytes);
	return 0;
}

/* Module exit: no fd is open, so every store has only the registry's ref. */
void stm_stores_destroy(void)
{
	struct stm_store *s, *tmp;

	mutex_lock(&stm_stores_lock);
	list_for_each_entry_safe(s, tmp, &stm_stores, link) {
		list_del(&s->link);
		stm_store_put(s);
	}
	stm_nstores = 0;
	mutex_unlock(&stm_stores_lock);
}
