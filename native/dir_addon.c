/*
 * Files relative to a held directory descriptor, for the server: netdumpd
 * opens every file relative to its dump directory's descriptor inside a
 * Capsicum sandbox, so a client's directory swapped for a symlink mid-dump
 * cannot lead its writes elsewhere. Linux's openat2(RESOLVE_BENEATH) gives
 * the same confinement for the one lookup that takes a client's path; every
 * later file is named relative to the descriptor that lookup returned.
 * Names are byte strings (Buffers): a herald path is bytes, not text.
 *
 * And pwrite(2) at a 64-bit offset: Node's writeSync treats a position it
 * cannot represent exactly as "the current position".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "napi_util.h"

/* A NUL-terminated copy of a Buffer's bytes, or NULL (and a JS error) if it holds a NUL. */
static char *get_name(napi_env env, napi_value value, const char *what)
{
	void *data;
	size_t len;
	char *name;

	if (nd_get_bytes(env, value, &data, &len) < 0 || len == 0 || memchr(data, 0, len) != NULL) {
		nd_throw(env, "EINVAL", EINVAL, what);
		return NULL;
	}
	if ((name = malloc(len + 1)) == NULL) {
		nd_throw_errno(env, ENOMEM, what);
		return NULL;
	}
	memcpy(name, data, len);
	name[len] = '\0';
	return name;
}

/* Two names for one call; 0, or -1 with a JS error and nothing left allocated. */
static int get_two_names(napi_env env, napi_value a, napi_value b, char **first, char **second, const char *what)
{
	if ((*first = get_name(env, a, what)) == NULL)
		return -1;
	if ((*second = get_name(env, b, what)) == NULL) {
		free(*first);
		return -1;
	}
	return 0;
}

static int get_fd(napi_env env, napi_value value, int *fd)
{
	return napi_get_value_int32(env, value, fd) == napi_ok && *fd >= 0 ? 0 : -1;
}

static napi_value fd_value(napi_env env, int fd)
{
	napi_value value;

	CHECK(env, napi_create_int32(env, fd, &value));
	return value;
}

/* openBeneath(dirfd, path): a directory below dirfd; no absolute path, no escape by ".." or symlink. */
static napi_value open_beneath(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2] = { NULL, NULL };
	struct open_how how = {
		.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	char *path;
	int dirfd, saved;
	long fd;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 2 || get_fd(env, argv[0], &dirfd) < 0)
		return nd_throw(env, "EINVAL", EINVAL, "openBeneath needs a directory descriptor and a path");
	if ((path = get_name(env, argv[1], "openBeneath needs a non-empty path without NUL bytes")) == NULL)
		return NULL;
	fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	saved = errno;
	free(path);
	if (fd < 0)
		return nd_throw_errno(env, saved, "openat2");
	return fd_value(env, (int)fd);
}

/* openAt(dirfd, name, flags, mode): openat(2); O_CLOEXEC is always added. */
static napi_value open_at(napi_env env, napi_callback_info info)
{
	size_t argc = 4;
	napi_value argv[4] = { NULL, NULL, NULL, NULL };
	uint32_t flags, mode;
	char *name;
	int dirfd, fd, saved;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 4 || get_fd(env, argv[0], &dirfd) < 0 || napi_get_value_uint32(env, argv[2], &flags) != napi_ok ||
	    napi_get_value_uint32(env, argv[3], &mode) != napi_ok)
		return nd_throw(env, "EINVAL", EINVAL, "openAt needs a directory descriptor, a name, flags and a mode");
	if ((name = get_name(env, argv[1], "openAt needs a non-empty name without NUL bytes")) == NULL)
		return NULL;
	fd = openat(dirfd, name, (int)flags | O_CLOEXEC, (mode_t)mode);
	saved = errno;
	free(name);
	if (fd < 0)
		return nd_throw_errno(env, saved, "openat");
	return fd_value(env, fd);
}

/* renameAt(dirfd, from, to): renameat(2) within one directory. */
static napi_value rename_at(napi_env env, napi_callback_info info)
{
	size_t argc = 3;
	napi_value argv[3] = { NULL, NULL, NULL };
	char *from, *to;
	int dirfd, result, saved;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 3 || get_fd(env, argv[0], &dirfd) < 0)
		return nd_throw(env, "EINVAL", EINVAL, "renameAt needs a directory descriptor and two names");
	if (get_two_names(env, argv[1], argv[2], &from, &to, "renameAt needs names without NUL bytes") < 0)
		return NULL;
	result = renameat(dirfd, from, dirfd, to);
	saved = errno;
	free(from);
	free(to);
	if (result < 0)
		return nd_throw_errno(env, saved, "renameat");
	return NULL;
}

/* symlinkAt(target, dirfd, name): symlinkat(2). */
static napi_value symlink_at(napi_env env, napi_callback_info info)
{
	size_t argc = 3;
	napi_value argv[3] = { NULL, NULL, NULL };
	char *target, *name;
	int dirfd, result, saved;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 3 || get_fd(env, argv[1], &dirfd) < 0)
		return nd_throw(env, "EINVAL", EINVAL, "symlinkAt needs a target, a directory descriptor and a name");
	if (get_two_names(env, argv[0], argv[2], &target, &name, "symlinkAt needs names without NUL bytes") < 0)
		return NULL;
	result = symlinkat(target, dirfd, name);
	saved = errno;
	free(target);
	free(name);
	if (result < 0)
		return nd_throw_errno(env, saved, "symlinkat");
	return NULL;
}

/* unlinkAt(dirfd, name): unlinkat(2) of a file or symlink. */
static napi_value unlink_at(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2] = { NULL, NULL };
	char *name;
	int dirfd, result, saved;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 2 || get_fd(env, argv[0], &dirfd) < 0)
		return nd_throw(env, "EINVAL", EINVAL, "unlinkAt needs a directory descriptor and a name");
	if ((name = get_name(env, argv[1], "unlinkAt needs a name without NUL bytes")) == NULL)
		return NULL;
	result = unlinkat(dirfd, name, 0);
	saved = errno;
	free(name);
	if (result < 0)
		return nd_throw_errno(env, saved, "unlinkat");
	return NULL;
}

/*
 * pwriteAll(fd, data, position): writes all of data at a 64-bit position
 * (a BigInt). As in netdumpd, the unsigned offset becomes an off_t: one of
 * 2^63 or more is negative, and the kernel refuses it with EINVAL.
 */
static napi_value pwrite_all(napi_env env, napi_callback_info info)
{
	size_t argc = 3;
	napi_value argv[3] = { NULL, NULL, NULL };
	uint64_t position;
	bool lossless;
	void *data;
	size_t len, done = 0;
	int fd;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 3 || get_fd(env, argv[0], &fd) < 0 || nd_get_bytes(env, argv[1], &data, &len) < 0 ||
	    napi_get_value_bigint_uint64(env, argv[2], &position, &lossless) != napi_ok || !lossless)
		return nd_throw(env, "EINVAL", EINVAL, "pwriteAll needs a descriptor, bytes and a 64-bit BigInt position");
	while (done < len) {
		ssize_t n = pwrite(fd, (char *)data + done, len - done, (off_t)(position + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return nd_throw_errno(env, errno, "pwrite");
		done += (size_t)n;
	}
	return NULL;
}

napi_value nd_dir_functions(napi_env env, napi_value exports)
{
	const napi_property_descriptor functions[] = {
		FUNCTION("openBeneath", open_beneath), FUNCTION("openAt", open_at),     FUNCTION("renameAt", rename_at),
		FUNCTION("symlinkAt", symlink_at),     FUNCTION("unlinkAt", unlink_at), FUNCTION("pwriteAll", pwrite_all),
	};

	CHECK(env, napi_define_properties(env, exports, COUNT_OF(functions), functions));
	return exports;
}
