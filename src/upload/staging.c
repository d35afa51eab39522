/* The staging directory and its journal.
 *
 * Every staged file is one file, ID.data: a header of UPLOAD_HDR_BYTES
 * holding a short text record of what the content is to become, then
 * the content:
 *
 *     ossfs-staging 1
 *     key <url-encoded key>
 *     mode 33188            (each line only when set)
 *     uid 0
 *     gid 0
 *     mtime 1700000000.123456789
 *     multipart <url-encoded upload ID>   (while one is running)
 *     (NUL padding to 4096 bytes)
 *
 * The record is there exactly while the content still has to be
 * uploaded; a blank header marks a clean copy, deleted at recovery.  One
 * file and no rename per staged file: creating inodes is most of what
 * staging costs for small files.  The header is rewritten with one
 * pwrite of a whole page, which the daemon's death (kill -9, a crash)
 * cannot cut in half: the page cache has the old record or the new one.
 * Nothing is fsync'ed: a power cut before the upload is outside what a
 * write-back mount can promise (SEMANTICS.md).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "upload_i.h"

#define JOURNAL_MAGIC	 "ossfs-staging 1"
#define STAGING_SUFFIXES 16

static int mkdir_p(const char *path)
{
	struct buf b;
	int err = 0;

	buf_init(&b, 0);
	if (buf_append_str(&b, path))
		return -ENOMEM;
	for (char *p = b.data + 1; !err; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(b.data, 0700) != 0 && errno != EEXIST)
			err = -errno;
		*p = c;
		if (c == '\0')
			break;
	}
	buf_fini(&b);
	return err;
}

/* 16 hex digits naming the bucket: the same bucket, the same directory. */
static void identity_hash(const char *identity, char out[17])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!EVP_Digest(identity, strlen(identity), md, &n, EVP_sha256(),
			NULL) ||
	    n < 8)
		memset(md, 0, 8);
	str_hex(out, md, 8);
}

/* Take dir if no other daemon holds it: 0, -EWOULDBLOCK, or -errno. */
static int try_lock(struct upload_mgr *m, const char *dir)
{
	struct buf p;
	int fd, err = 0;

	err = mkdir_p(dir);
	if (err)
		return err;
	buf_init(&p, 0);
	if (buf_appendf(&p, "%s/lock", dir)) {
		buf_fini(&p);
		return -ENOMEM;
	}
	fd = open(p.data, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	buf_fini(&p);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		err = -errno;
		close(fd);
		return err;
	}
	m->lock_fd = fd;
	return 0;
}

int upload_dir_open(struct upload_mgr *m)
{
	char hash[17];
	struct buf d;
	int err = -EWOULDBLOCK;

	identity_hash(m->cfg.identity ? m->cfg.identity : "", hash);
	buf_init(&d, 0);
	/* A second mount of the same bucket gets a directory of its own;
	 * each recovers what it finds in the one it holds. */
	for (int i = 0; i < STAGING_SUFFIXES && err == -EWOULDBLOCK; i++) {
		buf_reset(&d);
		if (i == 0)
			err = buf_appendf(&d, "%s/%s", m->cfg.staging_root,
					  hash);
		else
			err = buf_appendf(&d, "%s/%s-%d", m->cfg.staging_root,
					  hash, i);
		if (!err)
			err = try_lock(m, d.data);
	}
	if (!err) {
		m->dir = buf_steal(&d, NULL);
		err = m->dir ? 0 : -ENOMEM;
	}
	buf_fini(&d);
	return err;
}

void upload_dir_close(struct upload_mgr *m)
{
	if (m->lock_fd >= 0)
		close(m->lock_fd); /* drops the flock */
	m->lock_fd = -1;
	free(m->dir);
	m->dir = NULL;
}

static int stage_path(const struct upload_file *f, const char *ext,
		      struct buf *out)
{
	buf_reset(out);
	return buf_appendf(out, "%s/%s.%s", f->m->dir, f->id, ext);
}

int upload_stage_create(struct upload_mgr *m, struct upload_file *f)
{
	struct timespec ts;
	struct buf p;
	int err;

	clock_gettime(CLOCK_REALTIME, &ts);
	/* Unique across runs too: the time, then a counter. */
	snprintf(f->id, sizeof(f->id), "%016" PRIx64 "-%" PRIu64,
		 (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec,
		 m->next_id++);
	buf_init(&p, 0);
	err = stage_path(f, "data", &p);
	if (!err) {
		f->fd = open(p.data, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
			     0600);
		if (f->fd < 0)
			err = -errno;
	}
	buf_fini(&p);
	return err;
}

static int format_record(const struct upload_file *f, struct buf *b)
{
	const struct oss_posix_meta *p = &f->posix;
	const char *id;
	int err = buf_append_str(b, JOURNAL_MAGIC "\nkey ");

	if (!err)
		err = str_urlencode(b, f->key, strlen(f->key), true);
	if (!err)
		err = buf_append(b, "\n", 1);
	if (!err && p->has_mode)
		err = buf_appendf(b, "mode %" PRIu32 "\n", p->mode);
	if (!err && p->has_uid)
		err = buf_appendf(b, "uid %" PRIu32 "\n", p->uid);
	if (!err && p->has_gid)
		err = buf_appendf(b, "gid %" PRIu32 "\n", p->gid);
	if (!err && p->has_mtime)
		err = buf_appendf(b, "mtime %lld.%09ld\n",
				  (long long)p->mtime.tv_sec, p->mtime.tv_nsec);
	id = upload_stream_id(f);
	if (!err && id && strlen(id) < 512) {
		err = buf_append_str(b, "multipart ");
		if (!err)
			err = str_urlencode(b, id, strlen(id), true);
		if (!err)
			err = buf_append(b, "\n", 1);
	}
	return err;
}

static int pwrite_all(int fd, const char *data, size_t len, off_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, data, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		data += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

int upload_journal_write(struct upload_file *f)
{
	struct buf rec;
	int err;

	buf_init(&rec, UPLOAD_HDR_BYTES);
	err = format_record(f, &rec);
	/* A key is at most 1023 bytes, 3069 encoded: it always fits. */
	if (!err && rec.len >= UPLOAD_HDR_BYTES)
		err = -ENAMETOOLONG;
	if (!err)
		err = buf_reserve(&rec, UPLOAD_HDR_BYTES - rec.len - 1);
	if (!err) {
		memset(rec.data + rec.len, 0, UPLOAD_HDR_BYTES - rec.len);
		err = pwrite_all(f->fd, rec.data, UPLOAD_HDR_BYTES, 0);
	}
	if (!err)
		f->journaled = true;
	else
		log_err("staging: cannot write the journal record of \"%s\" in "
			"%s: %s",
			f->key, f->m->dir, strerror(-err));
	buf_fini(&rec);
	return err;
}

void upload_journal_remove(struct upload_file *f)
{
	static const char blank[sizeof(JOURNAL_MAGIC)];

	if (!f->journaled)
		return;
	(void)pwrite_all(f->fd, blank, sizeof(blank), 0);
	f->journaled = false;
}

void upload_stage_remove(struct upload_file *f)
{
	struct buf p;

	f->journaled = false;
	buf_init(&p, 0);
	if (stage_path(f, "data", &p) == 0)
		unlink(p.data);
	buf_fini(&p);
}

void upload_link(struct upload_mgr *m, struct upload_file *f)
{
	f->m = m;
	f->prev = NULL;
	f->next = m->files;
	if (m->files)
		m->files->prev = f;
	m->files = f;
	m->st.files++;
}

/* ---- recovery -------------------------------------------------------------
 */

static int parse_u32(const char *s, uint32_t *out)
{
	uint64_t v;

	if (str_to_u64(s, 10, &v) || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int parse_mtime(const char *s, struct timespec *ts)
{
	const char *dot = strchr(s, '.');
	char sec[32];
	int64_t v;
	uint64_t ns = 0;

	if (!dot || (size_t)(dot - s) >= sizeof(sec))
		return -EINVAL;
	memcpy(sec, s, (size_t)(dot - s));
	sec[dot - s] = '\0';
	if (str_to_i64(sec, 10, &v) || str_to_u64(dot + 1, 10, &ns) ||
	    ns >= 1000000000u)
		return -EINVAL;
	ts->tv_sec = (time_t)v;
	ts->tv_nsec = (long)ns;
	return 0;
}

/* One "name value" line of a record into f.  0 or -EINVAL. */
static int parse_line(struct upload_file *f, char *line)
{
	char *val = strchr(line, ' ');
	struct oss_posix_meta *p = &f->posix;
	struct buf k;
	int err = 0;

	if (!val)
		return -EINVAL;
	*val++ = '\0';
	if (strcmp(line, "key") == 0) {
		buf_init(&k, 0);
		err = str_urldecode(&k, val, strlen(val), false);
		if (!err && (k.len == 0 || strlen(k.data) != k.len))
			err = -EINVAL; /* empty, or a NUL inside */
		if (!err) {
			free(f->key);
			f->key = buf_steal(&k, NULL);
		}
		buf_fini(&k);
	} else if (strcmp(line, "mode") == 0) {
		err = parse_u32(val, &p->mode);
		p->has_mode = !err;
	} else if (strcmp(line, "uid") == 0) {
		err = parse_u32(val, &p->uid);
		p->has_uid = !err;
	} else if (strcmp(line, "gid") == 0) {
		err = parse_u32(val, &p->gid);
		p->has_gid = !err;
	} else if (strcmp(line, "mtime") == 0) {
		err = parse_mtime(val, &p->mtime);
		p->has_mtime = !err;
	} else if (strcmp(line, "multipart") == 0) {
		buf_init(&k, 0);
		err = str_urldecode(&k, val, strlen(val), false);
		if (!err && (k.len == 0 || strlen(k.data) != k.len))
			err = -EINVAL;
		if (!err) {
			free(f->orphan_upload_id);
			f->orphan_upload_id = buf_steal(&k, NULL);
		}
		buf_fini(&k);
	}
	/* Unknown names are skipped: a newer daemon may add some. */
	return err;
}

/* The record at the head of an open staged file into f.  0 or
 * -EINVAL (no record: a clean copy) or -errno. */
static int parse_header(struct upload_file *f)
{
	char hdr[UPLOAD_HDR_BYTES + 1];
	char *save = NULL, *line;
	ssize_t n;
	int err = 0, i = 0;

	do
		n = pread(f->fd, hdr, UPLOAD_HDR_BYTES, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	hdr[n] = '\0'; /* the record ends at the first NUL */
	for (line = strtok_r(hdr, "\n", &save); line && !err;
	     line = strtok_r(NULL, "\n", &save), i++) {
		if (i == 0)
			err = strcmp(line, JOURNAL_MAGIC) ? -EINVAL : 0;
		else
			err = parse_line(f, line);
	}
	if (!err && (i == 0 || !f->key))
		err = -EINVAL;
	return err;
}

static void remove_data(struct upload_mgr *m, const char *id)
{
	struct buf p;

	buf_init(&p, 0);
	if (!buf_appendf(&p, "%s/%s.data", m->dir, id))
		unlink(p.data);
	buf_fini(&p);
}

/* The multipart upload the previous daemon was streaming f into is
 * aborted, so that its parts do not stay stored (and billed) for ever;
 * the file is uploaded again from its staged copy.  Failing is not
 * fatal: the upload is only left behind, as before. */
static void abort_orphan(struct upload_mgr *m, struct upload_file *f)
{
	struct oss_error oerr;
	int err;

	if (!f->orphan_upload_id)
		return;
	oss_error_clear(&oerr);
	err = m->store->ops->mp_abort(m->store->impl, f->key,
				      f->orphan_upload_id, &oerr);
	if (err && err != -ENOENT)
		log_warn("staging: cannot abort the unfinished multipart "
			 "upload of \"%s\": %s",
			 f->key, strerror(-err));
	else
		log_warn("staging: aborted the unfinished multipart upload of "
			 "\"%s\" a killed ossfs left",
			 f->key);
	free(f->orphan_upload_id);
	f->orphan_upload_id = NULL;
}

/* ID.data found: bring back the file it describes, queued, or delete a
 * clean copy.  Returns 1 when one was recovered. */
static int recover_one(struct upload_mgr *m, const char *id)
{
	struct upload_file *f = calloc(1, sizeof(*f));
	struct buf p;
	struct stat st;
	int err = -ENOMEM;

	buf_init(&p, 0);
	if (!f || strlen(id) >= sizeof(f->id))
		goto fail;
	str_lcpy(f->id, id, sizeof(f->id));
	f->m = m;
	f->fd = -1;
	err = stage_path(f, "data", &p);
	if (!err) {
		f->fd = open(p.data, O_RDWR | O_CLOEXEC);
		err = f->fd < 0 || fstat(f->fd, &st) != 0 ? -errno : 0;
	}
	if (!err)
		err = parse_header(f);
	if (err)
		goto fail;
	f->size = (uint64_t)st.st_size > UPLOAD_HDR_BYTES
			  ? (uint64_t)st.st_size - UPLOAD_HDR_BYTES
			  : 0;
	f->journaled = true;
	f->gen = 1; /* dirty: never stored as far as we know */
	f->state = UF_QUEUED;
	abort_orphan(m, f);
	pthread_mutex_lock(&m->mu);
	upload_link(m, f);
	m->st.recovered++;
	pthread_mutex_unlock(&m->mu);
	log_warn("staging: recovered \"%s\" (%" PRIu64 " bytes) from %s; "
		 "uploading it",
		 f->key, f->size, m->dir);
	buf_fini(&p);
	return 1;

fail:
	if (err == -EINVAL)
		remove_data(m, id); /* a clean copy: nothing to upload */
	else
		log_err("staging: %s/%s.data is unusable (%s); left in place",
			m->dir, id, strerror(-err));
	if (f && f->fd >= 0)
		close(f->fd);
	if (f) {
		free(f->key);
		free(f->orphan_upload_id);
	}
	free(f);
	buf_fini(&p);
	return 0;
}

size_t upload_recover(struct upload_mgr *m)
{
	DIR *d = opendir(m->dir);
	struct dirent *de;
	size_t found = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);

		if (str_has_suffix(de->d_name, ".data") && n > 5) {
			char id[64];

			if (n - 5 >= sizeof(id))
				continue;
			memcpy(id, de->d_name, n - 5);
			id[n - 5] = '\0';
			found += (size_t)recover_one(m, id);
		}
	}
	closedir(d);
	return found;
}
