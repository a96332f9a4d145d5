// SPDX-License-Identifier: MIT
/*
 * stmctl save / load: a store to a file and back (Documentation/stmctl.rst,
 * "Save files").
 *
 * The file, little-endian throughout:
 *   header  magic "STMSAVE\0", u32 format (1), u32 header length (104),
 *           u64 key count, u64 clock of the snapshot, u64 record bytes,
 *           char name[64] (the store saved, NUL-padded)
 *   records u64 version, u32 key length, u32 value length, key, value
 *   trailer u32 CRC-32 (IEEE 802.3, as zlib's crc32()) of header and
 *           records, u32 zero
 * save writes a temporary file beside FILE, fsyncs it, renames it over
 * FILE and fsyncs the directory: FILE is the old file or the new, whole.
 * load checks everything (size, magic, format, CRC, every record) before
 * it touches a store, then imports all keys in one call, or none.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stmctl.h"

#define SAVE_MAGIC	"STMSAVE"	/* and its NUL: 8 bytes */
#define SAVE_FORMAT	1
#define SAVE_HDR	104
#define SAVE_NAME	64
#define SAVE_TRAILER	8
#define SAVE_REC	16		/* a record's fixed part */

static const struct opt save_opts[] = {
	{ NULL, 0, 0, NULL, NULL },
};

const struct usage save_usage = {
	"NAME FILE",
	"Writes every key, value and version of store NAME, as one snapshot,\n"
	"to FILE (through a temporary file, fsynced and renamed over FILE).\n"
	"The format (versioned, with a CRC-32) is in stmctl(1), \"Save files\".\n",
	save_opts,
};

const struct usage load_usage = {
	"FILE [NAME]",
	"Loads a file written by save into store NAME (default: the name saved\n"
	"in FILE), creating it if it does not exist; the store must be empty.\n"
	"Keys keep their versions.  A truncated, corrupted or foreign file, or\n"
	"a refusal by the kernel (a limit, a non-empty store), loads nothing.\n",
	save_opts,
};

static uint32_t crc_table[256];

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

static uint32_t crc32_buf(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	if (!crc_table[1])
		crc_init();
	while (n--)
		c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* The file being built in memory. */
struct image {
	uint8_t *buf;
	size_t len, cap;
	uint64_t count;
};

static int image_room(struct image *im, size_t more)
{
	if (im->cap - im->len >= more)
		return 0;
	size_t cap = im->cap ? im->cap : 1 << 16;

	while (cap - im->len < more) {
		if (cap > SIZE_MAX / 2)
			return -ENOMEM;
		cap *= 2;
	}
	uint8_t *nb = realloc(im->buf, cap);

	if (!nb)
		return -ENOMEM;
	im->buf = nb;
	im->cap = cap;
	return 0;
}

static int save_cb(const struct stm_record *r, void *arg)
{
	struct image *im = arg;
	size_t sz = SAVE_REC + r->key_len + r->value_len;

	if (image_room(im, sz))
		return -ENOMEM;
	put64(im->buf + im->len, r->version);
	put32(im->buf + im->len + 8, (uint32_t)r->key_len);
	put32(im->buf + im->len + 12, (uint32_t)r->value_len);
	memcpy(im->buf + im->len + SAVE_REC, r->key, r->key_len);
	if (r->value_len)
		memcpy(im->buf + im->len + SAVE_REC + r->key_len, r->value,
		       r->value_len);
	im->len += sz;
	im->count++;
	return 0;
}

/* Write @len bytes to a temporary file beside @path, fsync, rename. */
static int write_atomic(const char *path, const uint8_t *buf, size_t len)
{
	char *tmp, *dcopy;
	int fd, dfd, ret = 0;
	size_t off = 0;

	if (asprintf(&tmp, "%s.tmpXXXXXX", path) < 0)
		return -ENOMEM;
	fd = mkstemp(tmp);
	if (fd < 0) {
		ret = -errno;
		free(tmp);
		return ret;
	}
	while (off < len) {
		ssize_t w = write(fd, buf + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			ret = w < 0 ? -errno : -EIO;
			break;
		}
		off += (size_t)w;
	}
	if (!ret && fchmod(fd, 0600))
		ret = -errno;
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret) {
		unlink(tmp);
		free(tmp);
		return ret;
	}
	free(tmp);
	/* The rename itself to disk: fsync the directory. */
	dcopy = strdup(path);
	if (!dcopy)
		return -ENOMEM;
	dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dcopy);
	if (dfd < 0)
		return -errno;
	if (fsync(dfd))
		ret = -errno;
	close(dfd);
	return ret;
}

int cmd_save(int argc, char **argv)
{
	struct image im = { 0 };
	struct stm_store *s;
	struct args a;
	uint64_t clock = 0;
	int ret;

	ret = parse_args("save", argc, argv, &a, 2, 2);
	if (ret)
		return ret < 0 ? EX_OK : ret;
	if (strlen(a.pos[0]) >= SAVE_NAME)
		return usage_error("save", "store name too long");
	ret = open_store(a.pos[0], STM_RDONLY, &s);
	if (ret)
		return ret;
	ret = image_room(&im, SAVE_HDR);
	if (!ret) {
		im.len = SAVE_HDR;
		ret = stm_export(s, save_cb, &im, &clock);
	}
	stm_close(s);
	if (ret >= 0)
		ret = image_room(&im, SAVE_TRAILER);
	if (ret < 0) {
		free(im.buf);
		return fail(ret, "save %s", a.pos[0]);
	}
	memset(im.buf, 0, SAVE_HDR);
	memcpy(im.buf, SAVE_MAGIC, 8);
	put32(im.buf + 8, SAVE_FORMAT);
	put32(im.buf + 12, SAVE_HDR);
	put64(im.buf + 16, im.count);
	put64(im.buf + 24, clock);
	put64(im.buf + 32, im.len - SAVE_HDR);
	strncpy((char *)im.buf + 40, a.pos[0], SAVE_NAME - 1);
	put32(im.buf + im.len, crc32_buf(im.buf, im.len));
	put32(im.buf + im.len + 4, 0);
	im.len += SAVE_TRAILER;
	ret = write_atomic(a.pos[1], im.buf, im.len);
	free(im.buf);
	if (ret)
		return fail(ret, "%s", a.pos[1]);
	printf("saved %" PRIu64 " keys of %s at clock %" PRIu64 " to %s\n",
	       im.count, a.pos[0], clock, a.pos[1]);
	return EX_OK;
}

static int read_file(const char *path, uint8_t **out, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	size_t off = 0;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		ret = S_ISREG(st.st_mode) ? -errno : -EINVAL;
		close(fd);
		return ret;
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (off < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + off, (size_t)st.st_size - off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			ret = r < 0 ? -errno : -EIO;
			break;
		}
		off += (size_t)r;
	}
	close(fd);
	if (ret) {
		free(buf);
		return ret;
	}
	*out = buf;
	*len = off;
	return 0;
}

/* Check @buf as a save file; fill @recs (count of them).  NULL or a reason. */
static const char *parse_image(const uint8_t *buf, size_t len,
			       struct stm_record **recs, uint64_t *count,
			       char name[SAVE_NAME])
{
	uint64_t n, dlen, off = SAVE_HDR;
	struct stm_record *r;

	if (len < 8 || memcmp(buf, SAVE_MAGIC, 8))
		return "not a stmctl save file (bad magic)";
	if (len < SAVE_HDR + SAVE_TRAILER)
		return "truncated";
	if (get32(buf + 8) != SAVE_FORMAT)
		return "unsupported format version";
	if (get32(buf + 12) != SAVE_HDR)
		return "bad header length";
	n = get64(buf + 16);
	dlen = get64(buf + 32);
	if (dlen > len - SAVE_HDR - SAVE_TRAILER)
		return "truncated";
	if (dlen != len - SAVE_HDR - SAVE_TRAILER)
		return "trailing bytes";
	if (crc32_buf(buf, len - SAVE_TRAILER) != get32(buf + len - SAVE_TRAILER) ||
	    get32(buf + len - 4))
		return "checksum mismatch (corrupted)";
	memcpy(name, buf + 40, SAVE_NAME);
	if (name[SAVE_NAME - 1])
		return "bad store name";
	if (n > dlen / SAVE_REC)
		return "bad key count";
	r = calloc(n ? n : 1, sizeof(*r));
	if (!r)
		return "out of memory";
	for (uint64_t i = 0; i < n; i++) {
		uint64_t end = SAVE_HDR + dlen;
		uint32_t kl, vl;

		if (end - off < SAVE_REC)
			goto bad;
		r[i].version = get64(buf + off);
		kl = get32(buf + off + 8);
		vl = get32(buf + off + 12);
		if (!kl || kl > STM_KEY_MAX || !r[i].version ||
		    end - off - SAVE_REC < (uint64_t)kl + vl)
			goto bad;
		r[i].key = buf + off + SAVE_REC;
		r[i].key_len = kl;
		r[i].value = buf + off + SAVE_REC + kl;
		r[i].value_len = vl;
		off += SAVE_REC + (uint64_t)kl + vl;
	}
	if (off != SAVE_HDR + dlen)
		goto bad;
	*recs = r;
	*count = n;
	return NULL;
bad:
	free(r);
	return "bad record";
}

int cmd_load(int argc, char **argv)
{
	char saved[SAVE_NAME];
	struct stm_record *recs = NULL;
	struct stm_store *s;
	const char *why, *name;
	uint64_t n = 0, clock = 0;
	uint8_t *buf = NULL;
	size_t len = 0;
	struct args a;
	bool created = false;
	int ret;

	ret = parse_args("load", argc, argv, &a, 1, 2);
	if (ret)
		return ret < 0 ? EX_OK : ret;
	ret = read_file(a.pos[0], &buf, &len);
	if (ret)
		return fail(ret, "%s", a.pos[0]);
	why = parse_image(buf, len, &recs, &n, saved);
	if (why) {
		fprintf(stderr, "stmctl: %s: %s; nothing loaded\n", a.pos[0], why);
		free(buf);
		return EX_ERR;
	}
	name = a.npos > 1 ? a.pos[1] : saved;
	ret = stm_open(name, global_nonblock ? STM_NONBLOCK : 0, 0, &s);
	if (ret == -ENOENT) {
		mode_t um = umask(0);

		umask(um);
		ret = stm_open(name, STM_CREAT | STM_EXCL, 0666 & ~um, &s);
		created = !ret;
	}
	if (ret) {
		free(recs);
		free(buf);
		return fail(ret, "%s", name);
	}
	ret = stm_import(s, recs, n, &clock);
	stm_close(s);
	if (ret && created)
		stm_unlink(name);	/* as it was: no such store */
	free(recs);
	free(buf);
	if (ret)
		return fail(ret, "load into %s; nothing loaded", name);
	printf("loaded %" PRIu64 " keys into %s, clock %" PRIu64 "\n", n, name,
	       clock);
	return EX_OK;
}
