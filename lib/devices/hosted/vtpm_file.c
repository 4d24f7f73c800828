/* SPDX-License-Identifier: MIT */
/*
 * vTPM state storage in files (hosted only). Each blob lives in
 * <dir>/tpm2-<name>.bin. A store writes a temporary file in the same
 * directory, fsyncs it, renames it over the old file and fsyncs the
 * directory, so a crash leaves either the old or the new blob, never a torn one.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "paravisor/vtpm.h"

static bool name_ok(const char *name)
{
	size_t n = 0;
	for (; name[n]; n++) {
		char c = name[n];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return n > 0 && n <= 64;
}

static bool make_path(const struct pv_vtpm_file_storage *fs, const char *name, const char *suffix,
		      char *out, size_t cap)
{
	if (!name_ok(name))
		return false;
	int n = snprintf(out, cap, "%s/%stpm2-%s.bin", fs->dir, suffix, name);
	return n > 0 && (size_t)n < cap;
}

static pv_err_t file_load(void *ctx, const char *name, uint8_t *buf, size_t cap, size_t *len)
{
	char path[640];
	if (!make_path(ctx, name, "", path, sizeof(path)))
		return PV_EINVAL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? PV_ENOENT : PV_EIO;
	struct stat st;
	if (fstat(fd, &st) != 0 || st.st_size < 0) {
		close(fd);
		return PV_EIO;
	}
	size_t size = (size_t)st.st_size;
	*len = size;
	if (!buf || cap < size) {
		close(fd);
		return PV_ERANGE;
	}
	size_t got = 0;
	while (got < size) {
		ssize_t r = read(fd, buf + got, size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			close(fd);
			return PV_EIO;
		}
		got += (size_t)r;
	}
	close(fd);
	return PV_OK;
}

static pv_err_t file_store(void *ctx, const char *name, const uint8_t *data, size_t len)
{
	const struct pv_vtpm_file_storage *fs = ctx;
	char path[640], tmp[640];
	if (!make_path(fs, name, "", path, sizeof(path)) ||
	    !make_path(fs, name, ".tmp-", tmp, sizeof(tmp)))
		return PV_EINVAL;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return PV_EIO;
	size_t done = 0;
	while (done < len) {
		ssize_t w = write(fd, data + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		done += (size_t)w;
	}
	if (fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto fail;
	int dfd = open(fs->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return PV_OK;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return PV_EIO;
}

static pv_err_t file_remove(void *ctx, const char *name)
{
	char path[640];
	if (!make_path(ctx, name, "", path, sizeof(path)))
		return PV_EINVAL;
	if (unlink(path) != 0)
		return errno == ENOENT ? PV_ENOENT : PV_EIO;
	return PV_OK;
}

pv_err_t pv_vtpm_file_storage_init(struct pv_vtpm_file_storage *fs, const char *dir,
				   struct pv_vtpm_storage *out)
{
	if (!fs || !dir || !out)
		return PV_EINVAL;
	size_t n = strlen(dir);
	if (n == 0 || n >= sizeof(fs->dir))
		return PV_EINVAL;
	memcpy(fs->dir, dir, n + 1);
	out->ctx = fs;
	out->load = file_load;
	out->store = file_store;
	out->remove = file_remove;
	return PV_OK;
}
