/* Small helpers shared by the addon's classes. */
#define _GNU_SOURCE
#include "napi_util.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

napi_value nd_throw(napi_env env, const char *code, int errnum, const char *message)
{
	napi_value msg, err, code_value, errno_value;

	napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
	napi_create_error(env, NULL, msg, &err);
	napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_value);
	napi_create_int32(env, errnum, &errno_value);
	napi_set_named_property(env, err, "code", code_value);
	napi_set_named_property(env, err, "errno", errno_value);
	napi_throw(env, err);
	return NULL;
}

/*
 * errno's symbolic name ("ENOSPC"). glibc 2.32 and later name them all;
 * elsewhere (musl, older glibc) the ones our system calls report, and
 * "EIO" for the rest.
 */
const char *nd_errno_name(int errnum)
{
	const char *name = NULL;

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
	name = strerrorname_np(errnum);
#else
	switch (errnum) {
#define NAMED(e) case e: name = #e; break;
	NAMED(EPERM) NAMED(ENOENT) NAMED(EINTR) NAMED(EIO) NAMED(ENXIO) NAMED(EBADF) NAMED(EAGAIN)
	NAMED(ENOMEM) NAMED(EACCES) NAMED(EBUSY) NAMED(EEXIST) NAMED(ENODEV) NAMED(ENOTDIR) NAMED(EISDIR)
	NAMED(EINVAL) NAMED(ENFILE) NAMED(EMFILE) NAMED(EFBIG) NAMED(ENOSPC) NAMED(EROFS) NAMED(EPIPE)
	NAMED(EMSGSIZE) NAMED(EPROTONOSUPPORT) NAMED(EADDRINUSE) NAMED(EADDRNOTAVAIL) NAMED(ENETDOWN)
	NAMED(ENETUNREACH) NAMED(ENOBUFS) NAMED(ETIMEDOUT) NAMED(ECONNREFUSED) NAMED(EDQUOT) NAMED(ESRCH)
	NAMED(EHOSTUNREACH) NAMED(EAFNOSUPPORT) NAMED(EXDEV) NAMED(ELOOP) NAMED(ENAMETOOLONG) NAMED(ENOSYS)
	NAMED(EOPNOTSUPP)
#undef NAMED
	}
#endif
	return name != NULL ? name : "EIO";
}

napi_value nd_throw_errno(napi_env env, int errnum, const char *what)
{
	char message[256];

	snprintf(message, sizeof(message), "%s: %s", what, strerror(errnum));
	return nd_throw(env, nd_errno_name(errnum), errnum, message);
}

int nd_get_string(napi_env env, napi_value value, char *out, size_t size)
{
	size_t len;
	napi_valuetype type;

	if (value == NULL || napi_typeof(env, value, &type) != napi_ok || type != napi_string)
		return -1;
	if (napi_get_value_string_utf8(env, value, out, size, &len) != napi_ok)
		return -1;
	return len + 1 < size ? 0 : -1;
}

napi_value nd_get_property(napi_env env, napi_value object, const char *name)
{
	napi_value value;
	napi_valuetype type;
	bool has = false;

	if (object == NULL || napi_typeof(env, object, &type) != napi_ok || type != napi_object)
		return NULL;
	if (napi_has_named_property(env, object, name, &has) != napi_ok || !has)
		return NULL;
	if (napi_get_named_property(env, object, name, &value) != napi_ok)
		return NULL;
	if (napi_typeof(env, value, &type) != napi_ok || type == napi_undefined || type == napi_null)
		return NULL;
	return value;
}

uint32_t nd_get_uint32_option(napi_env env, napi_value options, const char *name, uint32_t fallback)
{
	napi_value value = nd_get_property(env, options, name);
	uint32_t result;

	if (value == NULL || napi_get_value_uint32(env, value, &result) != napi_ok)
		return fallback;
	return result;
}

int nd_get_netns_option(napi_env env, napi_value options, char *out, size_t size, const char **netns)
{
	napi_value value = nd_get_property(env, options, "netns");

	*netns = NULL;
	if (value == NULL)
		return 0;
	if (nd_get_string(env, value, out, size) < 0) {
		nd_throw(env, "EINVAL", EINVAL, "netns must be a namespace name or path");
		return -1;
	}
	*netns = out;
	return 0;
}

int nd_get_bool_option(napi_env env, napi_value options, const char *name)
{
	napi_value value = nd_get_property(env, options, name);
	bool result = false;

	if (value != NULL)
		napi_get_value_bool(env, value, &result);
	return result;
}

/* One Node-API call per frame: napi_get_typedarray_info itself refuses (napi_invalid_arg) what is not a typed array. */
int nd_get_bytes(napi_env env, napi_value value, void **data, size_t *len)
{
	napi_typedarray_type type = napi_int8_array; /* not Uint8Array, whatever a newer Node leaves unset */
	size_t byte_offset;
	napi_value arraybuffer;

	if (napi_get_typedarray_info(env, value, &type, len, data, &arraybuffer, &byte_offset) != napi_ok ||
	    type != napi_uint8_array)
		return -1;
	return 0;
}

void *nd_unwrap(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv)
{
	napi_value self;
	void *object = NULL;

	if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok)
		return NULL;
	if (napi_unwrap(env, self, &object) != napi_ok || object == NULL) {
		nd_throw(env, "EINVAL", EINVAL, "not a socket object");
		return NULL;
	}
	return object;
}

static void unmap_buffer(napi_env env, void *data, void *hint)
{
	(void)env;
	munmap(data, (size_t)(uintptr_t)hint);
}

/*
 * The receive slots are mapped rather than allocated: a server makes a
 * socket of 64 slots (263 KiB) per dump, and buffers that size freed to
 * malloc stay in the process (measured: 8,000 sockets made and closed kept
 * 90 MB); an unmapped one goes back to the system when its Buffer is
 * collected.
 */
static int create_mapped_buffer(napi_env env, size_t size, void **data, napi_value *buffer)
{
	void *mapped = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (mapped == MAP_FAILED)
		return -1;
	if (napi_create_external_buffer(env, size, mapped, unmap_buffer, (void *)(uintptr_t)size, buffer) != napi_ok) {
		munmap(mapped, size);
		return -1;
	}
	*data = mapped;
	return 0;
}

int nd_rx_allocate(napi_env env, napi_value self, nd_rx_buffers *rx)
{
	napi_value data_buffer, results_buffer;
	void *data, *results;

	if (create_mapped_buffer(env, (size_t)rx->slots * rx->slot_size, &data, &data_buffer) < 0 ||
	    napi_create_buffer(env, (size_t)rx->slots * rx->result_fields * sizeof(uint32_t), &results,
			       &results_buffer) != napi_ok)
		return -1;
	rx->data = data;
	rx->results = results;
	napi_create_reference(env, data_buffer, 1, &rx->data_ref);
	napi_create_reference(env, results_buffer, 1, &rx->results_ref);
	napi_set_named_property(env, self, "rxData", data_buffer);
	napi_set_named_property(env, self, "rxResults", results_buffer);

	rx->msgs = calloc(rx->slots, sizeof(*rx->msgs));
	rx->iov = calloc(rx->slots, sizeof(*rx->iov));
	rx->addresses = rx->address_size > 0 ? calloc(rx->slots, rx->address_size) : NULL;
	rx->control = rx->control_size > 0 ? calloc(rx->slots, rx->control_size) : NULL;
	if (rx->msgs == NULL || rx->iov == NULL || (rx->address_size > 0 && rx->addresses == NULL) ||
	    (rx->control_size > 0 && rx->control == NULL))
		return -1;
	for (uint32_t i = 0; i < rx->slots; i++) {
		rx->iov[i].iov_base = rx->data + (size_t)i * rx->slot_size;
		rx->iov[i].iov_len = rx->slot_size;
		rx->msgs[i].msg_hdr.msg_iov = &rx->iov[i];
		rx->msgs[i].msg_hdr.msg_iovlen = 1;
		if (rx->addresses != NULL)
			rx->msgs[i].msg_hdr.msg_name = rx->addresses + (size_t)i * rx->address_size;
		if (rx->control != NULL)
			rx->msgs[i].msg_hdr.msg_control = rx->control + (size_t)i * rx->control_size;
	}
	return 0;
}

int nd_get_batch_max(napi_env env, size_t argc, napi_value *argv, const nd_rx_buffers *rx, uint32_t *max)
{
	if (argc < 1 || napi_get_value_uint32(env, argv[0], max) != napi_ok || *max == 0) {
		nd_throw(env, "EINVAL", EINVAL, "recvBatch needs a positive count");
		return -1;
	}
	if (*max > rx->slots)
		*max = rx->slots;
	return 0;
}

void nd_rx_reset(nd_rx_buffers *rx, uint32_t count)
{
	for (uint32_t i = 0; i < count; i++) {
		rx->msgs[i].msg_hdr.msg_namelen = (socklen_t)rx->address_size;
		rx->msgs[i].msg_hdr.msg_controllen = rx->control_size;
	}
}

int nd_get_send_count(napi_env env, size_t argc, napi_value *argv, const char *not_array, uint32_t *total)
{
	bool is_array;
	uint32_t count;

	if (argc < 1 || napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array) {
		nd_throw(env, "EINVAL", EINVAL, not_array);
		return -1;
	}
	if (napi_get_array_length(env, argv[0], total) != napi_ok) {
		nd_throw(env, "EIO", EIO, "Node-API call failed: napi_get_array_length");
		return -1;
	}
	if (argc > 1) {
		if (napi_get_value_uint32(env, argv[1], &count) != napi_ok || count > *total) {
			nd_throw(env, "EINVAL", EINVAL, "sendBatch count must be at most the array length");
			return -1;
		}
		*total = count;
	}
	return 0;
}

int nd_tx_prepare(napi_env env, nd_tx_chunk *tx, napi_value items, uint32_t first, uint32_t n, const char *not_bytes,
		  nd_tx_check check, const void *context)
{
	for (uint32_t i = 0; i < n; i++) {
		napi_value element;
		void *data;
		size_t len;
		if (napi_get_element(env, items, first + i, &element) != napi_ok ||
		    nd_get_bytes(env, element, &data, &len) < 0) {
			nd_throw(env, "EINVAL", EINVAL, not_bytes);
			return -1;
		}
		if (check != NULL && check(env, context, len) < 0)
			return -1;
		tx->iov[i].iov_base = data;
		tx->iov[i].iov_len = len;
		memset(&tx->msgs[i].msg_hdr, 0, sizeof(tx->msgs[i].msg_hdr));
		tx->msgs[i].msg_hdr.msg_iov = &tx->iov[i];
		tx->msgs[i].msg_hdr.msg_iovlen = 1;
	}
	return 0;
}

static void rx_release(napi_env env, nd_rx_buffers *rx)
{
	if (rx->data_ref != NULL)
		napi_delete_reference(env, rx->data_ref);
	if (rx->results_ref != NULL)
		napi_delete_reference(env, rx->results_ref);
	free(rx->msgs);
	free(rx->iov);
	free(rx->addresses);
	free(rx->control);
}

static void on_poll_closed(uv_handle_t *handle)
{
	free(handle);
}

static void on_readable(uv_poll_t *handle, int status, int events)
{
	nd_watcher *watcher = handle->data;
	napi_handle_scope scope;
	napi_value callback, global, result;

	(void)status;
	(void)events;
	if (watcher->callback == NULL)
		return;
	napi_open_handle_scope(watcher->env, &scope);
	if (napi_get_reference_value(watcher->env, watcher->callback, &callback) == napi_ok && callback != NULL) {
		napi_get_global(watcher->env, &global);
		/* make_callback reports a throw as uncaught and runs microtasks. */
		napi_make_callback(watcher->env, watcher->context, global, callback, 0, NULL, &result);
	}
	napi_close_handle_scope(watcher->env, scope);
}

napi_value nd_watch(napi_env env, nd_watcher *watcher, int fd, napi_value callback)
{
	napi_valuetype type;
	napi_value resource_name;
	uv_loop_t *loop;

	if (callback == NULL || napi_typeof(env, callback, &type) != napi_ok || type != napi_function)
		return nd_throw(env, "EINVAL", EINVAL, "watch needs a callback function");
	nd_unwatch(watcher);
	CHECK(env, napi_get_uv_event_loop(env, &loop));
	watcher->poll = calloc(1, sizeof(*watcher->poll));
	if (watcher->poll == NULL)
		return nd_throw(env, "ENOBUFS", ENOMEM, "out of memory");
	if (uv_poll_init_socket(loop, watcher->poll, fd) != 0) {
		free(watcher->poll);
		watcher->poll = NULL;
		return nd_throw(env, "EIO", EIO, "cannot watch the socket");
	}
	watcher->env = env;
	watcher->poll->data = watcher;
	napi_create_reference(env, callback, 1, &watcher->callback);
	napi_create_string_utf8(env, "netdump:socket", NAPI_AUTO_LENGTH, &resource_name);
	napi_async_init(env, NULL, resource_name, &watcher->context);
	uv_poll_start(watcher->poll, UV_READABLE, on_readable);
	return NULL;
}

void nd_unwatch(nd_watcher *watcher)
{
	if (watcher->poll != NULL) {
		uv_poll_stop(watcher->poll);
		uv_close((uv_handle_t *)watcher->poll, on_poll_closed);
		watcher->poll = NULL;
	}
	if (watcher->callback != NULL) {
		napi_delete_reference(watcher->env, watcher->callback);
		watcher->callback = NULL;
	}
	if (watcher->context != NULL) {
		napi_async_destroy(watcher->env, watcher->context);
		watcher->context = NULL;
	}
}

void *nd_open_socket(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv)
{
	nd_socket *socket = nd_unwrap(env, info, argc, argv);
	char message[64];

	if (socket != NULL && socket->fd < 0) {
		snprintf(message, sizeof(message), "the %s is closed", socket->kind);
		nd_throw(env, "EBADF", EBADF, message);
		return NULL;
	}
	return socket;
}

void nd_socket_close(nd_socket *socket)
{
	nd_unwatch(&socket->watcher);
	if (socket->fd >= 0) {
		if (socket->release != NULL)
			socket->release(socket);
		else
			close(socket->fd);
		socket->fd = -1;
	}
}

void nd_socket_finalize(napi_env env, void *data, void *hint)
{
	nd_socket *socket = data;
	(void)hint;
	nd_socket_close(socket);
	rx_release(env, &socket->rx);
	free(socket);
}

napi_value nd_socket_wrap(napi_env env, napi_value self, nd_socket *socket)
{
	char message[64];

	if (napi_wrap(env, self, socket, nd_socket_finalize, NULL, NULL) != napi_ok) {
		snprintf(message, sizeof(message), "cannot wrap the %s", socket->kind);
		nd_socket_close(socket);
		free(socket);
		return nd_throw(env, "EIO", EIO, message);
	}
	if (nd_rx_allocate(env, self, &socket->rx) < 0)
		return nd_throw(env, "ENOBUFS", ENOMEM, "cannot allocate receive buffers");
	return self;
}

napi_value nd_socket_close_method(napi_env env, napi_callback_info info)
{
	nd_socket *socket = nd_unwrap(env, info, NULL, NULL);
	if (socket != NULL)
		nd_socket_close(socket);
	return NULL;
}

napi_value nd_socket_watch_method(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1] = { NULL };
	nd_socket *socket = nd_open_socket(env, info, &argc, argv);
	return socket == NULL ? NULL : nd_watch(env, &socket->watcher, socket->fd, argv[0]);
}

napi_value nd_socket_unwatch_method(napi_env env, napi_callback_info info)
{
	nd_socket *socket = nd_open_socket(env, info, NULL, NULL);
	if (socket != NULL)
		nd_unwatch(&socket->watcher);
	return NULL;
}
