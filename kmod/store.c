// SPDX-License-Identifier: GPL-2.0
/*
 * The registry of named stores, one per network namespace: create, attach
 * with POSIX-shm-like permissions, unlink, list.  A store lives until it is
 * unlinked (or its namespace dies) and its last fd is closed.
 */
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/mutex.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/user_namespace.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include "stm.h"
#include "stm_trace.h"

/*
 * Stores live in a network namespace: the one of the process that opened
 * the fd used (Documentation/kernel.rst, "Who can do what", says why).  The
 * namespace's registry dies with it: its stores are unlinked then, and
 * freed once the last fd attached to them is closed.
 */
struct stm_ns {
	struct mutex lock;
	struct list_head stores;	/* by id */
	u64 next_id;
};

static unsigned int stm_net_id __read_mostly;
static atomic_t stm_nstores;		/* in every namespace: max_stores */

static struct stm_ns *stm_ns(const struct net *net)
{
	return net_generic(net, stm_net_id);
}

static const u32 stm_attach_flags = STMDEV_ATTACH_CREAT | STMDEV_ATTACH_EXCL |
				    STMDEV_ATTACH_RDONLY | STMDEV_ATTACH_NONBLOCK;

/*
 * Are these @len bytes a name: [A-Za-z0-9._-] only?  Spelled out, since
 * the kernel's isalnum() takes Latin-1 letters (0xc0..0xff) for letters.
 */
bool stm_name_ok(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return len > 0;
}

/* 1..63 bytes of [A-Za-z0-9._-], NUL-terminated within the field. */
static int stm_check_name(const char *name)
{
	size_t len = strnlen(name, STMDEV_NAME_MAX);

	if (len == STMDEV_NAME_MAX)
		return -ENAMETOOLONG;
	return stm_name_ok(name, len) ? 0 : -EINVAL;
}

/* Caller holds ns->lock. */
static struct stm_store *stm_store_find(struct stm_ns *ns, const char *name)
{
	struct stm_store *s;

	list_for_each_entry(s, &ns->stores, link)
		if (!strcmp(s->name, name))
			return s;
	return NULL;
}

/* Do the mode bits of @s grant the current task @mask (MAY_READ, MAY_WRITE)? */
static bool stm_mode_permits(const struct stm_store *s, int mask)
{
	umode_t mode = s->mode;

	if (uid_eq(current_fsuid(), s->uid))
		mode >>= 6;
	else if (in_group_p(s->gid))
		mode >>= 3;
	return ((mode & 7) & mask) == mask;
}

/*
 * May the current task open @s for @mask?  CAP_DAC_OVERRIDE counts in the
 * user namespace that owns the store's network namespace.
 */
static bool stm_store_permitted(const struct stm_file *f,
				const struct stm_store *s, int mask)
{
	return stm_mode_permits(s, mask) ||
	       ns_capable(f->net->user_ns, CAP_DAC_OVERRIDE);
}

/* What a store costs before it holds a key. */
static size_t stm_store_base_cost(void)
{
	return kmalloc_size_roundup(sizeof(struct stm_store)) +
	       sizeof(struct stm_pcpu_stats) * num_possible_cpus();
}

static struct stm_store *stm_store_create(const char *name, umode_t mode)
{
	struct stm_store *s;
	size_t base;
	int err = -ENOMEM;

	s = kzalloc(sizeof(*s), GFP_KERNEL_ACCOUNT);
	if (!s)
		return ERR_PTR(-ENOMEM);
	s->stats = alloc_percpu_gfp(struct stm_pcpu_stats, GFP_KERNEL_ACCOUNT);
	if (!s->stats)
		goto out_free;
	if (stm_table_init(s))
		goto out_free_stats;
	s->owner = stm_user_get(current_fsuid());
	if (!s->owner)
		goto out_table;
	err = stm_user_add_store(s->owner);
	if (err)
		goto out_put_user;
	base = stm_store_base_cost() + stm_table_cost(s, 0);
	err = stm_user_charge(s->owner, 0, base);
	if (err)
		goto out_del_store;
	atomic64_set(&s->mem, base);
	atomic64_set(&s->tbl_mem, stm_table_cost(s, 0));
	stm_wait_init(s);
	stm_resv_init(s);
	mutex_init(&s->fam_lock);
	stm_ranges_init(s);
	kref_init(&s->ref);
	strscpy(s->name, name, sizeof(s->name));
	s->uid = current_fsuid();
	s->gid = current_fsgid();
	s->mode = mode;
	s->seed = get_random_u32();
	return s;

out_del_store:
	stm_user_del_store(s->owner);
out_put_user:
	stm_user_put(s->owner);
out_table:
	stm_table_destroy(s);
out_free_stats:
	free_percpu(s->stats);
out_free:
	kfree(s);
	return ERR_PTR(err);
}

static void stm_store_release(struct kref *ref)
{
	struct stm_store *s = container_of(ref, struct stm_store, ref);

	stm_ranges_destroy(s);
	stm_table_destroy(s);
	free_percpu(s->stats);
	/* Everything the store held goes back to its owner. */
	stm_user_charge(s->owner, -atomic64_read(&s->nkeys),
			-atomic64_read(&s->mem));
	stm_user_del_store(s->owner);
	stm_user_put(s->owner);
	atomic_dec(&stm_nstores);
	kfree(s);
}

void stm_store_put(struct stm_store *s)
{
	kref_put(&s->ref, stm_store_release);
}

/* One more store in the whole module: ENOSPC at max_stores. */
static int stm_count_store(void)
{
	if (atomic_add_unless(&stm_nstores, 1, READ_ONCE(stm_max_stores)))
		return 0;
	trace_stm_quota(current_fsuid(), STM_LIMIT_STORES, 1, -ENOSPC);
	return -ENOSPC;
}

/*
 * The locked half of ATTACH: attach @f to the store named in @a, or, when
 * there is none, to @created (NULL: -ENOENT; an ERR_PTR: the reason it
 * could not be made).  Returns 0 with *@created consumed, or -errno.
 */
static int stm_store_attach_locked(struct stm_file *f, struct stm_ns *ns,
				   const struct stmdev_attach *a, int mask,
				   struct stm_store **created)
{
	struct stm_store *s;
	int err;

	mutex_lock(&ns->lock);
	err = -EBUSY;
	if (f->store)		/* attaches of one fd serialize on the lock */
		goto out_unlock;
	s = stm_store_find(ns, a->name);
	if (s) {
		err = -EEXIST;
		if (a->flags & STMDEV_ATTACH_EXCL)
			goto out_unlock;
		err = -EACCES;
		if (!stm_store_permitted(f, s, mask))
			goto out_unlock;
	} else {
		err = IS_ERR(*created) ? PTR_ERR(*created) : -ENOENT;
		if (IS_ERR_OR_NULL(*created))
			goto out_unlock;
		s = *created;
		*created = NULL;
		s->id = ns->next_id++;
		list_add_tail(&s->link, &ns->stores);
	}
	f->flags = a->flags & (STMDEV_ATTACH_RDONLY | STMDEV_ATTACH_NONBLOCK);
	kref_get(&s->ref);
	trace_stm_attach(s, a->flags);
	/* Publish flags before the store: pairs with stm_dispatch(). */
	smp_store_release(&f->store, s);
	err = 0;
out_unlock:
	mutex_unlock(&ns->lock);
	return err;
}

int stm_store_attach(struct stm_file *f, struct stmdev_attach *a)
{
	struct stm_ns *ns = stm_ns(f->net);
	struct stm_store *created = NULL;
	int mask = MAY_READ;
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
	/* The common case, an existing store, makes nothing. */
	err = stm_store_attach_locked(f, ns, a, mask, &created);
	if (err != -ENOENT || !(a->flags & STMDEV_ATTACH_CREAT))
		return err;

	/*
	 * The name was free: make a store outside the lock and look again.
	 * A limit that refuses it counts only if the name is still free, so
	 * CREAT of a store someone made meanwhile attaches even at a limit.
	 */
	created = ERR_PTR(stm_count_store());
	if (!PTR_ERR(created)) {
		created = stm_store_create(a->name, a->mode & 0777);
		if (IS_ERR(created))
			atomic_dec(&stm_nstores);
	}
	if (PTR_ERR(created) == -ENOMEM)
		return -ENOMEM;
	err = stm_store_attach_locked(f, ns, a, mask, &created);
	if (!IS_ERR_OR_NULL(created))
		stm_store_put(created);
	return err;
}

/* Take @s out of its namespace (caller holds the namespace's lock). */
static void stm_store_unlist(struct stm_store *s)
{
	list_del(&s->link);
	WRITE_ONCE(s->unlinked, true);
}

int stm_store_unlink(struct stm_file *f, struct stmdev_unlink *u)
{
	struct stm_ns *ns = stm_ns(f->net);
	struct stm_store *s;
	int err;

	if (u->reserved)
		return -EINVAL;
	err = stm_check_name(u->name);
	if (err)
		return err;
	mutex_lock(&ns->lock);
	s = stm_store_find(ns, u->name);
	err = -ENOENT;
	if (!s)
		goto out_unlock;
	err = -EPERM;
	if (!uid_eq(current_fsuid(), s->uid) &&
	    !ns_capable(f->net->user_ns, CAP_SYS_ADMIN))
		goto out_unlock;
	stm_store_unlist(s);
	trace_stm_unlink(s);
	err = 0;
out_unlock:
	mutex_unlock(&ns->lock);
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
	info->charge = atomic64_read(&s->mem);
	return 0;
}

int stm_store_list(struct stm_file *f, struct stmdev_list_stores *ls)
{
	struct stmdev_store_ent __user *out = u64_to_user_ptr(ls->addr);
	struct user_namespace *uns = current_user_ns();
	struct stm_ns *ns = stm_ns(f->net);
	struct stmdev_store_ent *ents;
	struct stm_store *s;
	bool override;
	u32 max, n = 0;
	u64 next = 0;
	int err = 0;

	if (ls->reserved)
		return -EINVAL;
	max = min_t(u32, ls->len / sizeof(*ents), 256);
	if (!max)
		return -E2BIG;
	ents = kcalloc(max, sizeof(*ents), GFP_KERNEL_ACCOUNT);
	if (!ents)
		return -ENOMEM;
	/* Once, and without an audit record: listing is not an access. */
	override = ns_capable_noaudit(f->net->user_ns, CAP_DAC_OVERRIDE);

	mutex_lock(&ns->lock);
	list_for_each_entry(s, &ns->stores, link) {
		if (s->id < ls->cursor ||
		    !(override || stm_mode_permits(s, MAY_READ)))
			continue;
		if (n == max) {
			next = s->id;
			break;
		}
		memcpy(ents[n].name, s->name, sizeof(ents[n].name));
		ents[n].uid = from_kuid_munged(uns, s->uid);
		ents[n].gid = from_kgid_munged(uns, s->gid);
		ents[n].mode = s->mode;
		ents[n].keys = atomic64_read(&s->nkeys);
		ents[n].bytes = atomic64_read(&s->nbytes);
		n++;
	}
	mutex_unlock(&ns->lock);

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
	st->charge = atomic64_read(&s->mem);
	return 0;
}

static int __net_init stm_net_init(struct net *net)
{
	struct stm_ns *ns = stm_ns(net);

	mutex_init(&ns->lock);
	INIT_LIST_HEAD(&ns->stores);
	ns->next_id = 1;
	return 0;
}

/*
 * The namespace is dead: no process is in it and no fd opened in it is
 * left (each holds the namespace).  Unlink its stores.
 */
static void __net_exit stm_net_exit(struct net *net)
{
	struct stm_ns *ns = stm_ns(net);
	struct stm_store *s, *tmp;

	mutex_lock(&ns->lock);
	list_for_each_entry_safe(s, tmp, &ns->stores, link) {
		stm_store_unlist(s);
		stm_store_put(s);
		cond_resched();
	}
	mutex_unlock(&ns->lock);
}

static struct pernet_operations stm_net_ops = {
	.init	= stm_net_init,
	.exit	= stm_net_exit,
	.id	= &stm_net_id,
	.size	= sizeof(struct stm_ns),
};

int stm_stores_init(void)
{
	return register_pernet_subsys(&stm_net_ops);
}

/* Module exit: no fd is open; every namespace's stores are freed. */
void stm_stores_exit(void)
{
	unregister_pernet_subsys(&stm_net_ops);
}
