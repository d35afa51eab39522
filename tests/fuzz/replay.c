/* Replays a fuzz target's corpus as an ordinary test: every file named on
 * the command line (or found in a directory named there) is fed to
 * LLVMFuzzerTestOneInput once.  Built into every configuration, so the
 * corpora guard against regressions even without libFuzzer. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	long size;
	int rc = -1;

	if (!f)
		return -1;
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0)
		goto out_close;
	data = malloc((size_t)size + 1);
	if (!data)
		goto out_close;
	if (fread(data, 1, (size_t)size, f) != (size_t)size)
		goto out_free;
	LLVMFuzzerTestOneInput(data, (size_t)size);
	rc = 0;
out_free:
	free(data);
out_close:
	fclose(f);
	return rc;
}

static int replay_path(const char *path, int *count)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	int rc = 0;

	if (stat(path, &st) != 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return replay_file(path);
	}
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL) {
		char child[4096];

		if (de->d_name[0] == '.')
			continue;
		snprintf(child, sizeof(child), "%s/%s", path, de->d_name);
		if (replay_path(child, count) != 0)
			rc = -1;
	}
	closedir(d);
	return rc;
}

int main(int argc, char **argv)
{
	int count = 0, failed = 0;

	for (int i = 1; i < argc; i++) {
		if (replay_path(argv[i], &count) != 0) {
			fprintf(stderr, "cannot replay %s: %s\n", argv[i],
				strerror(errno));
			failed = 1;
		}
	}
	printf("replayed %d inputs\n", count);
	if (count == 0) {
		fprintf(stderr, "empty corpus\n");
		return 1;
	}
	return failed;
}
