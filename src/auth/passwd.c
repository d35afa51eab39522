/* The passwd-ossfs file (oss-protocol.md 7.2): "bucket:ak:sk" lines, which
 * win for their bucket, "ak:sk" lines for every bucket, and the older
 * "OSSAccessKeyId=" / "OSSSecretKey=" lines.  Errors name the file and the
 * line number, never the line: it holds a secret. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth_i.h"

#define PASSWD_MAX_BYTES ((size_t)1 << 20)

struct span {
	const char *p;
	size_t n;
};

struct passwd_scan {
	const char *bucket;
	const char *source;
	unsigned line;
	struct span bucket_id, bucket_secret; /* entry for our bucket */
	struct span def_id, def_secret;	      /* entry for every bucket */
	char *err;
	size_t err_size;
};

static int line_err(struct passwd_scan *s, const char *what)
{
	return auth_err(-EINVAL, s->err, s->err_size, "%s line %u: %s",
			s->source, s->line, what);
}

static bool span_eq(struct span a, const char *s)
{
	return s && strlen(s) == a.n && memcmp(a.p, s, a.n) == 0;
}

/* "OSSAccessKeyId=..." or "OSSSecretKey=..." (ossfs 1.x's other form). */
static int key_value_line(struct passwd_scan *s, struct span l, size_t eq)
{
	struct span key = { l.p, eq }, val = { l.p + eq + 1, l.n - eq - 1 };
	struct span *slot;

	if (span_eq(key, "OSSAccessKeyId"))
		slot = &s->def_id;
	else if (span_eq(key, "OSSSecretKey"))
		slot = &s->def_secret;
	else
		return line_err(s, "unknown key (expected OSSAccessKeyId= "
				   "or OSSSecretKey=)");
	if (val.n == 0)
		return line_err(s, "empty value");
	if (slot->p)
		return line_err(s, "second default entry");
	*slot = val;
	return 0;
}

static int colon_line(struct passwd_scan *s, struct span l)
{
	struct span f[3];
	size_t nf = 0, start = 0;

	for (size_t i = 0; i <= l.n; i++) {
		if (i < l.n && l.p[i] != ':')
			continue;
		if (nf == 3)
			return line_err(
				s, "too many ':' (expected "
				   "[bucket:]AccessKeyId:AccessKeySecret)");
		f[nf].p = l.p + start;
		f[nf++].n = i - start;
		start = i + 1;
	}
	if (nf < 2)
		return line_err(s, "expected [bucket:]AccessKeyId:"
				   "AccessKeySecret");
	for (size_t i = 0; i < nf; i++)
		if (f[i].n == 0)
			return line_err(s, "empty field");
	if (nf == 2) {
		if (s->def_id.p || s->def_secret.p)
			return line_err(s, "second default entry");
		s->def_id = f[0];
		s->def_secret = f[1];
		return 0;
	}
	if (!span_eq(f[0], s->bucket))
		return 0;
	if (s->bucket_id.p)
		return line_err(s, "second entry for this bucket");
	s->bucket_id = f[1];
	s->bucket_secret = f[2];
	return 0;
}

static int scan_line(struct passwd_scan *s, struct span l)
{
	const char *eq;

	if (l.n && l.p[l.n - 1] == '\r')
		l.n--;
	if (l.n == 0 || l.p[0] == '#')
		return 0;
	if (l.p[0] == '[')
		return line_err(s, "sections ([...]) are not supported");
	for (size_t i = 0; i < l.n; i++) {
		unsigned char c = (unsigned char)l.p[i];

		if (c == ' ' || c == '\t')
			return line_err(s, "white space is not allowed");
		if (c < 0x20 || c == 0x7F)
			return line_err(s, "control character");
	}
	eq = memchr(l.p, '=', l.n);
	if (eq && !memchr(l.p, ':', l.n))
		return key_value_line(s, l, (size_t)(eq - l.p));
	return colon_line(s, l);
}

static int pick_entry(struct passwd_scan *s, struct auth_creds *out)
{
	struct span id = s->bucket_id, secret = s->bucket_secret;
	char *cid, *csecret;
	int rc;

	if (!id.p) {
		if (!!s->def_id.p != !!s->def_secret.p)
			return auth_err(-EINVAL, s->err, s->err_size,
					"%s: OSSAccessKeyId and OSSSecretKey "
					"must both be set",
					s->source);
		id = s->def_id;
		secret = s->def_secret;
	}
	if (!id.p)
		return auth_err(-ENOENT, s->err, s->err_size,
				"%s has no credentials for bucket %s",
				s->source, s->bucket ? s->bucket : "(none)");
	cid = str_ndup(id.p, id.n);
	csecret = str_ndup(secret.p, secret.n);
	rc = cid && csecret
		     ? auth_creds_set(out, cid, csecret, NULL, s->source,
				      s->err, s->err_size)
		     : auth_err(-ENOMEM, s->err, s->err_size, "out of memory");
	auth_str_wipe(cid);
	auth_str_wipe(csecret);
	return rc;
}

int auth_passwd_parse_buffer(const char *data, size_t len, const char *bucket,
			     const char *source, struct auth_creds *out,
			     char *err, size_t err_size)
{
	struct passwd_scan s = { 0 };
	size_t start = 0;

	s.bucket = bucket && bucket[0] ? bucket : NULL;
	s.source = source ? source : "passwd file";
	s.err = err;
	s.err_size = err_size;
	while (start < len) {
		const char *nl = memchr(data + start, '\n', len - start);
		size_t end = nl ? (size_t)(nl - data) : len;
		struct span l = { data + start, end - start };
		int rc;

		s.line++;
		rc = scan_line(&s, l);
		if (rc)
			return rc;
		start = end + 1;
	}
	return pick_entry(&s, out);
}

/* ossfs 1.x's rules: never any "other" bit or execute bit; group bits only
 * for /etc/passwd-ossfs, and then only read. */
static int check_mode(const char *path, mode_t mode, bool allow_group_read,
		      char *err, size_t err_size)
{
	const char *need = allow_group_read ? "640" : "600";
	mode_t perm = mode & 07777;
	const char *why = NULL;

	if (perm & S_IROTH)
		why = "is readable by others";
	else if (perm & (S_IWOTH | S_IXOTH))
		why = "is accessible by others";
	else if (perm & (S_IXUSR | S_IXGRP))
		why = "is executable";
	else if (!allow_group_read && (perm & S_IRWXG))
		why = "is accessible by its group";
	else if (perm & S_IWGRP)
		why = "is writable by its group";
	else if (perm & (S_ISUID | S_ISGID | S_ISVTX))
		why = "has set-id or sticky bits";
	if (!why)
		return 0;
	return auth_err(-EPERM, err, err_size,
			"passwd file %s %s (mode 0%03o); run chmod %s %s", path,
			why, (unsigned)perm, need, path);
}

static int read_all(int fd, const char *path, struct buf *b, char *err,
		    size_t err_size)
{
	char chunk[4096];

	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return auth_err(-errno, err, err_size,
					"cannot read passwd file %s: %s", path,
					strerror(errno));
		if (n == 0)
			return 0;
		if (buf_append(b, chunk, (size_t)n))
			return auth_err(-EFBIG, err, err_size,
					"passwd file %s is larger than 1 MiB",
					path);
	}
}

int auth_creds_from_passwd_file(const char *path, const char *bucket,
				bool allow_group_read, struct auth_creds *out,
				char *err, size_t err_size)
{
	struct buf data;
	struct stat st;
	int fd, rc;

	buf_init(&data, PASSWD_MAX_BYTES);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rc = -errno;
		if (rc == -ENOENT)
			return auth_err(rc, err, err_size,
					"passwd file %s does not exist", path);
		return auth_err(rc, err, err_size,
				"cannot open passwd file %s: %s", path,
				strerror(-rc));
	}
	/* fstat on the open file: the checked file is the file read. */
	if (fstat(fd, &st) != 0) {
		rc = auth_err(-errno, err, err_size, "cannot stat %s: %s", path,
			      strerror(errno));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = auth_err(-EINVAL, err, err_size,
			      "passwd file %s is not a regular file", path);
		goto out_close;
	}
	rc = check_mode(path, st.st_mode, allow_group_read, err, err_size);
	if (!rc && (size_t)st.st_size > PASSWD_MAX_BYTES)
		rc = auth_err(-EFBIG, err, err_size,
			      "passwd file %s is larger than 1 MiB", path);
	/* Sized up front so growing never leaves a copy behind in freed
	 * memory. */
	if (!rc && buf_reserve(&data, (size_t)st.st_size))
		rc = auth_err(-ENOMEM, err, err_size, "out of memory");
	if (!rc)
		rc = read_all(fd, path, &data, err, err_size);
	if (!rc)
		rc = auth_passwd_parse_buffer(data.data, data.len, bucket, path,
					      out, err, err_size);
out_close:
	close(fd);
	auth_buf_wipe(&data);
	return rc;
}
