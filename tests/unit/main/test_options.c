/* Unit tests of the ossfs command line (src/main/options.c): every -o
 * option, mount(8)'s helper convention, values, defaults and errors. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "options_i.h"
#include "testutil.h"

#define EP "endpoint=oss-cn-hangzhou.aliyuncs.com"

static char err[512];

/* Parse then finish "PROG args... NULL"; returns the first error. */
static int run(struct opts *o, const char *prog, ...)
{
	char *argv[64];
	int argc = 0, rc;
	va_list ap;

	argv[argc++] = (char *)prog;
	va_start(ap, prog);
	for (char *a = va_arg(ap, char *); a && argc < 63;
	     a = va_arg(ap, char *))
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	opts_init(o, opts_mode_for_argv0(prog));
	err[0] = '\0';
	rc = opts_parse(o, argc, argv, err, sizeof(err));
	if (rc == 0)
		rc = opts_finish(o, err, sizeof(err));
	return rc;
}

/* ossfs bucket /mnt -o EP,LIST */
static int run_list(struct opts *o, const char *list)
{
	char all[1024];

	snprintf(all, sizeof(all), "%s,%s", EP, list);
	return run(o, "ossfs", "bucket", "/mnt", "-o", all, NULL);
}

static bool err_has(const char *s)
{
	return strstr(err, s) != NULL;
}

static void test_defaults(void)
{
	struct opts o;

	CHECK_INT(run(&o, "ossfs", "bucket", "/mnt", "-o", EP, NULL), 0);
	CHECK_INT(o.mode, OPTS_MODE_OSSFS);
	CHECK_STR(o.bucket, "bucket");
	CHECK_STR(o.prefix, "");
	CHECK_STR(o.mountpoint, "/mnt");
	CHECK_STR(o.endpoint_url, "https://oss-cn-hangzhou.aliyuncs.com");
	CHECK_STR(o.fsname, "bucket");
	CHECK(!o.foreground && !o.debug && !o.readonly && !o.s3);
	CHECK(!o.path_style && !o.ram_role && !o.public_bucket);
	CHECK(!o.allow_other && !o.allow_root && !o.nonempty);
	CHECK_INT(o.sig, OPTS_SIG_DEFAULT);
	CHECK(o.region == NULL && o.passwd_file == NULL);
	CHECK(o.cache_dir == NULL && o.logfile == NULL);
	/* -1: the owning module's default applies. */
	CHECK_INT(o.uid, -1);
	CHECK_INT(o.gid, -1);
	CHECK_INT(o.umask, -1);
	CHECK_INT(o.attr_ttl_ms, -1);
	CHECK_INT(o.dir_ttl_ms, -1);
	CHECK_INT(o.neg_ttl_ms, -1);
	CHECK_INT(o.cache_size_bytes, -1);
	CHECK_INT(o.cache_dir_size_bytes, -1);
	CHECK_INT(o.connections, -1);
	CHECK_INT(o.connect_timeout_ms, -1);
	CHECK_INT(o.stall_timeout_ms, -1);
	CHECK_INT(o.retries, -1);
	CHECK_INT(o.loglevel, -1);
	CHECK_INT(o.max_threads, -1);
	CHECK_INT(o.fuse_opts.len, 0);
	CHECK_INT(o.notes.len, 0);
	opts_fini(&o);
}

static void test_endpoint_options(void)
{
	struct opts o;

	CHECK_INT(run(&o, "ossfs", "b", "/m", "-o",
		      "url=http://127.0.0.1:9000/,region=cn-beijing,sigv1,"
		      "path_style",
		      NULL),
		  0);
	CHECK_STR(o.endpoint_url, "http://127.0.0.1:9000");
	CHECK_STR(o.region, "cn-beijing");
	CHECK_INT(o.sig, OPTS_SIG_V1);
	CHECK(o.path_style);
	opts_fini(&o);

	CHECK_INT(run_list(&o, "sigv1,sigv4,s3,use_path_request_style"), 0);
	CHECK_INT(o.sig, OPTS_SIG_V4);
	CHECK(o.s3 && o.path_style);
	opts_fini(&o);

	CHECK_INT(run(&o, "ossfs", "b", "/m", "-o", "url=127.0.0.1:9000", NULL),
		  0);
	CHECK_STR(o.endpoint_url, "https://127.0.0.1:9000");
	opts_fini(&o);
	CHECK_INT(run(&o, "ossfs", "b", "/m", "-o", "url=HTTPS://h.example",
		      NULL),
		  0);
	CHECK_STR(o.endpoint_url, "https://h.example");
	opts_fini(&o);
	CHECK_INT(run(&o, "ossfs", "b", "/m", "-o",
		      "endpoint=http://oss-cn-shanghai-internal.aliyuncs.com",
		      NULL),
		  0);
	CHECK_STR(o.endpoint_url,
		  "http://oss-cn-shanghai-internal.aliyuncs.com");
	opts_fini(&o);
}

static void test_endpoint_errors(void)
{
	struct opts o;

	CHECK_INT(run(&o, "ossfs", "b", "/m", NULL), -EINVAL);
	CHECK(err_has("no endpoint") && err_has("endpoint=") &&
	      err_has("url="));
	opts_fini(&o);
	CHECK_INT(run_list(&o, "url=http://x"), -EINVAL);
	CHECK(err_has("not both"));
	opts_fini(&o);
	CHECK_INT(run(&o, "ossfs", "b", "/m", "-o", "url=ftp://x", NULL),
		  -EINVAL);
	CHECK(err_has("http or https"));
	opts_fini(&o);
	CHECK_INT(run(&o, "ossfs", "b", "/m", "-o", "url=http://x/path", NULL),
		  -EINVAL);
	CHECK(err_has("url=http://x/path"));
	opts_fini(&o);
	CHECK_INT(run(&o, "ossfs", "b", "/m", "-o", "url=http://", NULL),
		  -EINVAL);
	opts_fini(&o);
	/* Userinfo may hold a secret: refused without repeating it. */
	CHECK_INT(run(&o, "ossfs", "b", "/m", "-o",
		      "url=https://AKID:SECRET@h.example/", NULL),
		  -EINVAL);
	CHECK(err_has("password") && !err_has("SECRET") && !err_has("AKID"));
	opts_fini(&o);
	CHECK_INT(run_list(&o, "ram_role,ram_role_url=http://u:pw@127.0.0.1"),
		  -EINVAL);
	CHECK(err_has("ram_role_url=") && !err_has("pw@"));
	opts_fini(&o);
	/* Wherever a URL is mistyped, its user info is not repeated. */
	CHECK_INT(run_list(&o, "url:https://AKID:SECRET@h.example/x"), -EINVAL);
	CHECK_STR(err, "unknown option 'url:https://*@h.example/x'");
	opts_fini(&o);
	CHECK_INT(run_list(&o, "cache_size=http://a@b:c@h,noatime"), -EINVAL);
	CHECK(err_has("cache_size=http://*@h:") && !err_has("a@b"));
	opts_fini(&o);
	CHECK_INT(run(&o, "mount.ossfs", "b", "/m", "-s", "-o",
		      EP ",x:http://u:pw@h,y=1", NULL),
		  0);
	CHECK_STR(o.notes.data, "ignored unknown option 'x:http://*@h'\n"
				"ignored unknown option 'y'\n");
	CHECK_INT(o.notes.len, strlen(o.notes.data));
	opts_fini(&o);
}

static void test_credential_options(void)
{
	struct opts o;

	CHECK_INT(run_list(&o, "passwd_file=/etc/p,ram_role"), 0);
	CHECK_STR(o.passwd_file, "/etc/p");
	CHECK(o.ram_role && o.ram_role_name == NULL);
	opts_fini(&o);
	CHECK_INT(run_list(&o, "ram_role=web,ram_role_url=http://127.0.0.1:8"),
		  0);
	CHECK(o.ram_role);
	CHECK_STR(o.ram_role_name, "web");
	CHECK_STR(o.ram_role_url, "http://127.0.0.1:8");
	opts_fini(&o);
	CHECK_INT(run_list(&o, "ram_role=auto"), 0);
	CHECK(o.ram_role && o.ram_role_name == NULL);
	opts_fini(&o);
	CHECK_INT(run_list(&o, "ram_role=x,ram_role="), 0);
	CHECK(o.ram_role && o.ram_role_name == NULL);
	opts_fini(&o);
	CHECK_INT(run_list(&o, "public"), 0);
	CHECK(o.public_bucket);
	opts_fini(&o);
}

static void test_mount_options(void)
{
	struct opts o;

	CHECK_INT(run_list(&o, "ro,allow_other,uid=1000,gid=100,umask=0027,"
			       "nonempty,auto_unmount,fsname=oss:x,"
			       "max_threads=16,default_permissions,debug"),
		  0);
	CHECK(o.readonly && o.allow_other && o.nonempty && o.auto_unmount);
	CHECK_INT(o.uid, 1000);
	CHECK_INT(o.gid, 100);
	CHECK_INT(o.umask, 027);
	CHECK_STR(o.fsname, "oss:x");
	CHECK_INT(o.max_threads, 16);
	CHECK_STR(o.fuse_opts.data, "default_permissions");
	CHECK(o.debug && o.foreground);
	opts_fini(&o);
	CHECK_INT(run_list(&o, "allow_root,ro,rw"), 0);
	CHECK(o.allow_root && !o.readonly);
	opts_fini(&o);
	CHECK_INT(run_list(&o, "kernel_cache"), 0);
	CHECK(strstr(o.notes.data, "kernel_cache") != NULL);
	opts_fini(&o);
}

static void test_cache_and_network_options(void)
{
	struct opts o;

	CHECK_INT(run_list(&o, "attr_timeout=5,dir_timeout=1.5,"
			       "negative_timeout=0,cache_size=64M,"
			       "cache_dir=/var/cache/ossfs,"
			       "cache_dir_size=10G,connections=8,"
			       "connect_timeout=3,readwrite_timeout=20,"
			       "retries=0"),
		  0);
	CHECK_INT(o.attr_ttl_ms, 5000);
	CHECK_INT(o.dir_ttl_ms, 1500);
	CHECK_INT(o.neg_ttl_ms, 0);
	CHECK_INT(o.cache_size_bytes, 64 << 20);
	CHECK_STR(o.cache_dir, "/var/cache/ossfs");
	CHECK_INT(o.cache_dir_size_bytes, 10LL << 30);
	CHECK_INT(o.connections, 8);
	CHECK_INT(o.connect_timeout_ms, 3000);
	CHECK_INT(o.stall_timeout_ms, 20000);
	CHECK_INT(o.retries, 0);
	opts_fini(&o);
	/* The ossfs 1.x / s3fs spellings. */
	CHECK_INT(run_list(&o, "stat_cache_expire=900,stall_timeout=7,"
			       "dbglevel=info"),
		  0);
	CHECK_INT(o.attr_ttl_ms, 900000);
	CHECK_INT(o.stall_timeout_ms, 7000);
	CHECK_INT(o.loglevel, LOG_LVL_INFO);
	opts_fini(&o);
	CHECK_INT(run_list(&o, "logfile=/tmp/l,loglevel=debug"), 0);
	CHECK_STR(o.logfile, "/tmp/l");
	CHECK_INT(o.loglevel, LOG_LVL_DEBUG);
	opts_fini(&o);
	CHECK_INT(run_list(&o, "loglevel=crit"), 0);
	CHECK_INT(o.loglevel, LOG_LVL_ERR);
	opts_fini(&o);
}

/* Each table entry needs a line here: a new option without a test fails. */
static const char *const samples[] = {
	"endpoint=x",
	"url=http://x",
	"region=cn-hangzhou",
	"sigv1",
	"sigv4",
	"s3",
	"path_style",
	"use_path_request_style",
	"passwd_file=/p",
	"ram_role",
	"ram_role_url=http://x",
	"public",
	"ro",
	"rw",
	"allow_other",
	"allow_root",
	"uid=1",
	"gid=1",
	"meta_fill=all",
	"umask=022",
	"nonempty",
	"auto_unmount",
	"fsname=f",
	"max_threads=2",
	"default_permissions",
	"kernel_cache",
	"debug",
	"attr_timeout=1",
	"stat_cache_expire=1",
	"dir_timeout=1",
	"negative_timeout=1",
	"cache_size=1M",
	"cache_dir=/c",
	"cache_dir_size=1G",
	"prefetch",
	"noprefetch",
	"prefetch_file_max=1M",
	"prefetch_window=64",
	"readahead=64M",
	"staging_dir=/var/tmp/st",
	"upload_delay=0.5",
	"upload_workers=4",
	"multipart_threshold=64M",
	"part_size=16M",
	"copy_part_threshold=2G",
	"connections=4",
	"connect_timeout=1",
	"readwrite_timeout=5",
	"stall_timeout=5",
	"retries=3",
	"logfile=/l",
	"loglevel=warn",
	"dbglevel=error",
	"dev",
	"nodev",
	"suid",
	"nosuid",
	"exec",
	"noexec",
	"atime",
	"noatime",
	"relatime",
	"norelatime",
	"strictatime",
	"diratime",
	"nodiratime",
	"lazytime",
	"nolazytime",
	"sync",
	"async",
	"dirsync",
	"defaults",
	"_netdev",
	"auto",
	"noauto",
	"nofail",
	"user",
	"users",
	"nouser",
	"owner",
	"group",
	"comment",
	"x-systemd.automount",
};

static bool sample_covers(const char *name, const char *sample)
{
	size_t n = strlen(name);

	if (n && name[n - 1] == '*')
		return strncmp(sample, name, n - 1) == 0;
	return strncmp(sample, name, n) == 0 &&
	       (sample[n] == '\0' || sample[n] == '=');
}

static void test_every_option(void)
{
	for (size_t i = 0; i < opts_table_size(); i++) {
		const char *name = opts_table_name(i);
		bool found = false;

		for (size_t k = 0; k < OSSFS_ARRAY_SIZE(samples); k++)
			found = found || sample_covers(name, samples[k]);
		if (!found)
			fprintf(stderr, "no sample for option %s\n", name);
		CHECK(found);
	}
	for (size_t k = 0; k < OSSFS_ARRAY_SIZE(samples); k++) {
		struct opts o;
		int rc;

		opts_init(&o, OPTS_MODE_OSSFS);
		rc = opts_parse_list(&o, samples[k], err, sizeof(err));
		if (rc != 0)
			fprintf(stderr, "%s: %s\n", samples[k], err);
		CHECK_INT(rc, 0);
		opts_fini(&o);
	}
	CHECK(opts_table_name(opts_table_size()) == NULL);
}

static void test_mount8_options_ignored(void)
{
	struct opts o;

	CHECK_INT(run_list(&o, "defaults,_netdev,auto,noauto,nofail,user,"
			       "user=alice,users,nouser,owner,group,"
			       "comment=systemd.automount,x-systemd.automount,"
			       "x-systemd.requires=network-online.target"),
		  0);
	CHECK_INT(o.fuse_opts.len, 0);
	CHECK_INT(o.notes.len, 0);
	CHECK(!o.readonly);
	opts_fini(&o);
	/* What mount.fuse3 adds, and kernel flags: passed to FUSE. */
	CHECK_INT(run_list(&o, "rw,dev,suid,exec,noatime,nodiratime,sync"), 0);
	CHECK_STR(o.fuse_opts.data, "dev,suid,exec,noatime,nodiratime,sync");
	CHECK(!o.readonly);
	opts_fini(&o);
	/* mount.fuse3 may also hand us an empty option: ",,". */
	CHECK_INT(run_list(&o, ",ro,,"), 0);
	CHECK(o.readonly);
	opts_fini(&o);
}

static void test_unknown_options(void)
{
	struct opts o;

	CHECK_INT(run_list(&o, "ro,bogus"), -EINVAL);
	CHECK_STR(err, "unknown option 'bogus'");
	opts_fini(&o);
	CHECK_INT(run_list(&o, "bogus=1"), -EINVAL);
	CHECK_STR(err, "unknown option 'bogus'");
	opts_fini(&o);
	CHECK_INT(run(&o, "ossfs", "b", "/m", "-x", NULL), -EINVAL);
	CHECK_STR(err, "unknown option '-x'");
	opts_fini(&o);
	CHECK_INT(run(&o, "ossfs", "--bogus", NULL), -EINVAL);
	CHECK_STR(err, "unknown option '--bogus'");
	opts_fini(&o);
	/* -s, -n and -t belong to mount(8)'s helper convention only. */
	CHECK_INT(run(&o, "ossfs", "-s", "b", "/m", NULL), -EINVAL);
	CHECK_STR(err, "unknown option '-s'");
	opts_fini(&o);
	CHECK_INT(run(&o, "ossfs", "-t", "x", "b", "/m", NULL), -EINVAL);
	opts_fini(&o);
	/* Prefix entries match only their prefix. */
	CHECK_INT(run_list(&o, "xsystemd"), -EINVAL);
	opts_fini(&o);
}

static void test_bad_values(void)
{
	struct opts o;

	CHECK_INT(run_list(&o, "uid=abc"), -EINVAL);
	CHECK(err_has("uid=abc"));
	opts_fini(&o);
	CHECK_INT(run_list(&o, "uid"), -EINVAL);
	CHECK_STR(err, "option 'uid' needs a value (uid=N)");
	opts_fini(&o);
	CHECK_INT(run_list(&o, "url="), -EINVAL);
	CHECK(err_has("needs a value"));
	opts_fini(&o);
	CHECK_INT(run_list(&o, "ro=1"), -EINVAL);
	CHECK_STR(err, "option 'ro' takes no value");
	opts_fini(&o);
	CHECK_INT(run_list(&o, "connections=0"), -EINVAL);
	CHECK(err_has("connections=0") && err_has("out of range"));
	opts_fini(&o);
	CHECK_INT(run_list(&o, "connections=-1"), -EINVAL);
	opts_fini(&o);
	CHECK_INT(run_list(&o, "uid=4294967295"), -EINVAL);
	opts_fini(&o);
	CHECK_INT(run_list(&o, "loglevel=loud"), -EINVAL);
	CHECK(err_has("loglevel=loud"));
	opts_fini(&o);
	CHECK_INT(run_list(&o, "cache_size=lots"), -EINVAL);
	CHECK(err_has("cache_size=lots"));
	opts_fini(&o);
	CHECK_INT(run_list(&o, "attr_timeout=-1"), -EINVAL);
	opts_fini(&o);
	CHECK_INT(run_list(&o, "readwrite_timeout=0.5"), -EINVAL);
	CHECK(err_has("seconds"));
	opts_fini(&o);
	CHECK_INT(run_list(&o, "retries=101"), -EINVAL);
	opts_fini(&o);
}

static void test_umask_octal(void)
{
	static const struct {
		const char *in;
		int rc;
		int64_t want;
	} cases[] = {
		{ "umask=022", 0, 022 },       { "umask=0022", 0, 022 },
		{ "umask=0", 0, 0 },	       { "umask=777", 0, 0777 },
		{ "umask=0777", 0, 0777 },     { "umask=8", -EINVAL, -1 },
		{ "umask=1000", -EINVAL, -1 }, { "umask=0x1f", -EINVAL, -1 },
		{ "umask=-022", -EINVAL, -1 },
	};

	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(cases); i++) {
		struct opts o;

		CHECK_INT(run_list(&o, cases[i].in), cases[i].rc);
		CHECK_INT(o.umask, cases[i].want);
		opts_fini(&o);
	}
}

static void test_sizes(void)
{
	static const struct {
		const char *in;
		int rc;
		uint64_t want;
	} cases[] = {
		{ "0", 0, 0 },
		{ "512", 0, 512 },
		{ "1K", 0, 1024 },
		{ "1k", 0, 1024 },
		{ "4KiB", 0, 4096 },
		{ "4KB", 0, 4096 },
		{ "4kb", 0, 4096 },
		{ "2M", 0, 2 << 20 },
		{ "3G", 0, 3ULL << 30 },
		{ "1T", 0, 1ULL << 40 },
		{ "18446744073709551615", 0, UINT64_MAX },
		{ "18446744073709551616", -ERANGE, 0 },
		{ "17179869184G", -ERANGE, 0 },
		{ "16777215T", 0, 16777215ULL << 40 },
		{ "1.5M", -EINVAL, 0 },
		{ "M", -EINVAL, 0 },
		{ "", -EINVAL, 0 },
		{ "1X", -EINVAL, 0 },
		{ "1MM", -EINVAL, 0 },
		{ "1 M", -EINVAL, 0 },
		{ "-1", -EINVAL, 0 },
	};

	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(cases); i++) {
		uint64_t v = 0;
		int rc = opts_parse_size(cases[i].in, &v);

		if (rc != cases[i].rc)
			fprintf(stderr, "size '%s'\n", cases[i].in);
		CHECK_INT(rc, cases[i].rc);
		if (rc == 0)
			CHECK(v == cases[i].want);
	}
}

static void test_seconds(void)
{
	static const struct {
		const char *in;
		int rc;
		uint64_t want_ms;
	} cases[] = {
		{ "60", 0, 60000 },   { "0", 0, 0 },
		{ "1.5", 0, 1500 },   { "0.001", 0, 1 },
		{ ".25", 0, 250 },    { "2.05", 0, 2050 },
		{ "1.", -EINVAL, 0 }, { "1.0001", -EINVAL, 0 },
		{ "", -EINVAL, 0 },   { "-1", -EINVAL, 0 },
		{ "1s", -EINVAL, 0 }, { "abc", -EINVAL, 0 },
	};

	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(cases); i++) {
		uint64_t v = 0;
		int rc = opts_parse_seconds_ms(cases[i].in, &v);

		if (rc != cases[i].rc)
			fprintf(stderr, "seconds '%s'\n", cases[i].in);
		CHECK_INT(rc, cases[i].rc);
		if (rc == 0)
			CHECK_INT(v, cases[i].want_ms);
	}
}

static void test_source(void)
{
	static const struct {
		const char *in;
		const char *bucket, *prefix; /* NULL = -EINVAL */
	} cases[] = {
		{ "bucket", "bucket", "" },
		{ "bucket:", "bucket", "" },
		{ "bucket:/", "bucket", "" },
		{ "bucket:/a", "bucket", "a/" },
		{ "bucket:/a/b/", "bucket", "a/b/" },
		{ "bucket:a//b", "bucket", "a/b/" },
		{ "ossfs#bucket:/x", "bucket", "x/" },
		{ "my-bucket.v2", "my-bucket.v2", "" },
		{ "bucket:/a b/c", "bucket", "a b/c/" },
		{ "bucket:/a/../c", NULL, NULL },
		{ "bucket:/./c", NULL, NULL },
		{ "bucket:/a..b", "bucket", "a..b/" },
		{ ":/x", NULL, NULL },
		{ "", NULL, NULL },
		{ "a/b", NULL, NULL },
		{ "a b", NULL, NULL },
	};

	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(cases); i++) {
		char *b = NULL, *p = NULL;
		int rc = opts_parse_source(cases[i].in, &b, &p);

		if (cases[i].bucket) {
			CHECK_INT(rc, 0);
			CHECK_STR(b, cases[i].bucket);
			CHECK_STR(p, cases[i].prefix);
		} else {
			CHECK_INT(rc, -EINVAL);
			CHECK(b == NULL && p == NULL);
		}
		free(b);
		free(p);
	}
}

static void test_source_on_command_line(void)
{
	struct opts o;

	CHECK_INT(run(&o, "ossfs", "bkt:/data/set", "/mnt", "-o", EP, NULL), 0);
	CHECK_STR(o.bucket, "bkt");
	CHECK_STR(o.prefix, "data/set/");
	CHECK_STR(o.fsname, "bkt:/data/set");
	opts_fini(&o);
	CHECK_INT(run(&o, "ossfs", "bkt:/../x", "/mnt", "-o", EP, NULL),
		  -EINVAL);
	CHECK(err_has("bkt:/../x") && err_has("BUCKET[:/PREFIX]"));
	opts_fini(&o);
}

static void test_positionals(void)
{
	struct opts o;

	CHECK_INT(run(&o, "ossfs", NULL), -EINVAL);
	CHECK_STR(err, "missing BUCKET and MOUNTPOINT");
	opts_fini(&o);
	CHECK_INT(run(&o, "ossfs", "b", "-o", EP, NULL), -EINVAL);
	CHECK_STR(err, "missing MOUNTPOINT");
	opts_fini(&o);
	CHECK_INT(run(&o, "ossfs", "b", "/m", "/x", NULL), -EINVAL);
	CHECK_STR(err, "unexpected argument '/x'");
	opts_fini(&o);
	/* Options may come first; "--" ends them. */
	CHECK_INT(run(&o, "ossfs", "-o", EP, "-f", "--", "b", "-m", NULL), 0);
	CHECK_STR(o.mountpoint, "-m");
	CHECK(o.foreground);
	opts_fini(&o);
}

static void test_flags_ossfs(void)
{
	struct opts o;

	CHECK_INT(run(&o, "/usr/bin/ossfs", "b", "/m", "-f", "-o", EP, NULL),
		  0);
	CHECK(o.foreground && !o.debug && !o.fake);
	opts_fini(&o);
	CHECK_INT(run(&o, "ossfs", "b", "/m", "-d", "-o" EP, NULL), 0);
	CHECK(o.debug && o.foreground);
	opts_fini(&o);
	CHECK_INT(run(&o, "ossfs", "b", "/m", "-fdo", EP, NULL), 0);
	CHECK(o.debug && o.foreground);
	CHECK_STR(o.endpoint, "oss-cn-hangzhou.aliyuncs.com");
	opts_fini(&o);
	CHECK_INT(run(&o, "ossfs", "b", "/m", "-o", NULL), -EINVAL);
	CHECK_STR(err, "option '-o' needs a value");
	opts_fini(&o);
	CHECK_INT(run(&o, "ossfs", "b", "/m", "-o", EP, "-o", "ro", NULL), 0);
	CHECK(o.readonly);
	opts_fini(&o);
}

static void test_help_and_version_flags(void)
{
	struct opts o;

	CHECK_INT(run(&o, "ossfs", "--help", NULL), 0);
	CHECK(o.show_help);
	opts_fini(&o);
	CHECK_INT(run(&o, "ossfs", "-h", NULL), 0);
	CHECK(o.show_help);
	opts_fini(&o);
	CHECK_INT(run(&o, "ossfs", "--version", NULL), 0);
	CHECK(o.show_version);
	opts_fini(&o);
	CHECK_INT(run(&o, "mount.ossfs", "-V", NULL), 0);
	CHECK(o.show_version);
	opts_fini(&o);
}

static void test_mount_helper(void)
{
	struct opts o;

	CHECK_INT(opts_mode_for_argv0("/sbin/mount.ossfs"),
		  OPTS_MODE_MOUNT_HELPER);
	CHECK_INT(opts_mode_for_argv0("mount.fuse.ossfs"),
		  OPTS_MODE_MOUNT_HELPER);
	CHECK_INT(opts_mode_for_argv0("/usr/local/bin/ossfs"), OPTS_MODE_OSSFS);
	CHECK_INT(opts_mode_for_argv0("mount.ossfsx"), OPTS_MODE_OSSFS);
	/* mount(8): mount.TYPE SPEC DIR [-sfnv] [-o OPTS] [-t TYPE]. */
	CHECK_INT(run(&o, "/sbin/mount.ossfs", "b:/p", "/mnt", "-sfnv", "-o",
		      "rw,_netdev," EP, "-t", "ossfs", NULL),
		  0);
	CHECK_STR(opts_progname(&o), "mount.ossfs");
	CHECK(o.sloppy && o.fake && o.no_mtab && o.verbose);
	CHECK(!o.foreground);
	CHECK_STR(o.prefix, "p/");
	opts_fini(&o);
	/* Sloppy: unknown options become warnings. */
	CHECK_INT(run(&o, "mount.ossfs", "b", "/m", "-s", "-o",
		      EP ",whatever,noxattr=1", NULL),
		  0);
	CHECK(strstr(o.notes.data, "'whatever'") != NULL);
	CHECK(strstr(o.notes.data, "'noxattr'") != NULL);
	opts_fini(&o);
	CHECK_INT(run(&o, "mount.ossfs", "b", "/m", "-o", EP ",whatever", NULL),
		  -EINVAL);
	CHECK_STR(err, "unknown option 'whatever'");
	opts_fini(&o);
	CHECK_INT(run(&o, "mount.ossfs", "b", "/m", "-N", "/proc/1/ns/mnt",
		      "-o", EP, NULL),
		  -EINVAL);
	CHECK(err_has("-N"));
	opts_fini(&o);
	CHECK_INT(run(&o, "mount.ossfs", "b", "/m", "-t", NULL), -EINVAL);
	opts_fini(&o);
}

static void test_conflicts(void)
{
	static const struct {
		const char *list, *why;
	} cases[] = {
		{ "sigv1,s3", "sigv1" },
		{ "allow_other,allow_root", "allow_root" },
		{ "public,passwd_file=/x", "public" },
		{ "public,ram_role", "public" },
		{ "ram_role_url=http://x", "ram_role_url" },
		{ "ram_role,ram_role_url=ftp://x", "ram_role_url=ftp://x" },
	};

	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(cases); i++) {
		struct opts o;

		CHECK_INT(run_list(&o, cases[i].list), -EINVAL);
		CHECK(err_has(cases[i].why));
		opts_fini(&o);
	}
}

static void test_quoting_and_repeats(void)
{
	struct opts o;

	CHECK_INT(run_list(&o, "passwd_file=\"/tmp/a,b\",uid=1,uid=2"), 0);
	CHECK_STR(o.passwd_file, "/tmp/a,b");
	CHECK_INT(o.uid, 2);
	opts_fini(&o);
	CHECK_INT(run_list(&o, "passwd_file=/tmp/c\\,d,ro"), 0);
	CHECK_STR(o.passwd_file, "/tmp/c,d");
	CHECK(o.readonly);
	opts_fini(&o);
	CHECK_INT(run(&o, "ossfs", "b", "/m", "-o" EP ",ro", NULL), 0);
	CHECK(o.readonly);
	opts_fini(&o);
}

static void test_relative_cache_dir(void)
{
	char cwd[4096], want[4200];
	struct opts o;

	CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
	snprintf(want, sizeof(want), "%s/cache", cwd);
	CHECK_INT(run_list(&o, "cache_dir=cache"), 0);
	CHECK_STR(o.cache_dir, want);
	opts_fini(&o);
}

static char *capture_help(enum opts_mode mode)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	opts_print_help(f, mode);
	fclose(f);
	return text;
}

/* Every option is in --help and every line fits 80 columns. */
static void test_help_text(void)
{
	char *text = capture_help(OPTS_MODE_OSSFS);
	char *helper = capture_help(OPTS_MODE_MOUNT_HELPER);

	for (size_t i = 0; i < opts_table_size(); i++) {
		char name[64];

		snprintf(name, sizeof(name), " %s", opts_table_name(i));
		if (name[strlen(name) - 1] == '*')
			name[strlen(name) - 1] = '\0';
		if (!strstr(text, name))
			fprintf(stderr, "--help lacks %s\n", name);
		CHECK(strstr(text, name) != NULL);
	}
	for (char *line = text; *line;) {
		size_t n = strcspn(line, "\n");

		if (n > 80)
			fprintf(stderr, "long: %.*s\n", (int)n, line);
		CHECK(n <= 80);
		line += n + (line[n] == '\n');
	}
	CHECK(strstr(text, "usage: ossfs BUCKET[:/PREFIX] MOUNTPOINT") != NULL);
	CHECK(strstr(helper, "usage: mount.ossfs") != NULL);
	CHECK(strstr(helper, "sloppy") != NULL);
	free(text);
	free(helper);
}

/* man/ossfs.1 documents every option and exit status. */
static void test_man_page(void)
{
	FILE *f = fopen(OSSFS_MAN_DIR "/ossfs.1", "r");
	struct buf man;
	char chunk[4096];
	size_t n;

	CHECK(f != NULL);
	if (!f)
		return;
	buf_init(&man, 0);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		for (size_t i = 0; i < n; i++)
			if (!(chunk[i] == '\\' && i + 1 < n &&
			      chunk[i + 1] == '-'))
				CHECK_INT(buf_append(&man, &chunk[i], 1), 0);
	fclose(f);
	for (size_t i = 0; i < opts_table_size(); i++) {
		char name[64];

		snprintf(name, sizeof(name), "%s", opts_table_name(i));
		if (name[strlen(name) - 1] == '*')
			name[strlen(name) - 1] = '\0';
		if (!strstr(man.data, name))
			fprintf(stderr, "ossfs.1 lacks %s\n", name);
		CHECK(strstr(man.data, name) != NULL);
	}
	CHECK(strstr(man.data, "EXIT STATUS") != NULL);
	buf_fini(&man);
}

TU_MAIN(TU_CASE(test_defaults), TU_CASE(test_endpoint_options),
	TU_CASE(test_endpoint_errors), TU_CASE(test_credential_options),
	TU_CASE(test_mount_options), TU_CASE(test_cache_and_network_options),
	TU_CASE(test_every_option), TU_CASE(test_mount8_options_ignored),
	TU_CASE(test_unknown_options), TU_CASE(test_bad_values),
	TU_CASE(test_umask_octal), TU_CASE(test_sizes), TU_CASE(test_seconds),
	TU_CASE(test_source), TU_CASE(test_source_on_command_line),
	TU_CASE(test_positionals), TU_CASE(test_flags_ossfs),
	TU_CASE(test_help_and_version_flags), TU_CASE(test_mount_helper),
	TU_CASE(test_conflicts), TU_CASE(test_quoting_and_repeats),
	TU_CASE(test_relative_cache_dir), TU_CASE(test_help_text),
	TU_CASE(test_man_page))
