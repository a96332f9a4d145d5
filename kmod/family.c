// SPDX-License-Identifier: GPL-2.0
/*
 * Families: named statistics groups of a store (FAMILY, FAMILY_STATS).
 * Transactions name a family; COMMIT and WAIT count into it.
 */
#include <linux/mutex.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include "stm.h"

/* Family @id (1-based) of @s, or NULL. */
struct stm_family *stm_family_get(struct stm_store *s, u32 id)
{
	/* Pairs with the release in stm_family_add(). */
	if (!id || id > smp_load_acquire(&s->nfamilies))
		return NULL;
	return &s->families[id - 1];
}

int stm_family_add(struct stm_file *f, struct stmdev_family *fam)
{
	struct stm_store *s = f->store;
	size_t len = strnlen(fam->name, sizeof(fam->name));
	u32 i;
	int err;

	if (fam->reserved)
		return -EINVAL;
	if (len == sizeof(fam->name))
		return -ENAMETOOLONG;
	if (!stm_name_ok(fam->name, len))
		return -EINVAL;
	mutex_lock(&s->fam_lock);
	for (i = 0; i < s->nfamilies; i++)
		if (!strcmp(s->families[i].name, fam->name))
			goto out_found;
	/* Readers may name families, but only writers add them. */
	err = -EBADF;
	if (f->flags & STMDEV_ATTACH_RDONLY)
		goto out_unlock;
	err = -ENOSPC;
	if (i == STMDEV_FAMILIES_MAX)
		goto out_unlock;
	strscpy(s->families[i].name, fam->name, sizeof(s->families[i].name));
	/* Name before count: readers use stm_family_get(). */
	smp_store_release(&s->nfamilies, i + 1);
out_found:
	fam->id = i + 1;
	err = 0;
out_unlock:
	mutex_unlock(&s->fam_lock);
	return err;
}

int stm_family_stats(struct stm_file *f, struct stmdev_family_stats *fs)
{
	struct stmdev_family_ent __user *out = u64_to_user_ptr(fs->addr);
	struct stm_store *s = f->store;
	struct stmdev_family_ent e;
	u32 i, n;

	if (fs->reserved)
		return -EINVAL;
	/* Pairs with the release in stm_family_add(): names are set. */
	n = min_t(u32, smp_load_acquire(&s->nfamilies), fs->len / sizeof(e));
	for (i = 0; i < n; i++) {
		struct stm_family *fam = &s->families[i];

		memset(&e, 0, sizeof(e));
		memcpy(e.name, fam->name, sizeof(e.name));
		e.attempts = atomic64_read(&fam->attempts);
		e.commits = atomic64_read(&fam->commits);
		e.conflicts = atomic64_read(&fam->conflicts);
		e.busy = atomic64_read(&fam->busy);
		e.waits = atomic64_read(&fam->waits);
		e.retries = atomic64_read(&fam->retries);
		if (copy_to_user(&out[i], &e, sizeof(e)))
			return -EFAULT;
	}
	fs->count = n;
	return 0;
}
