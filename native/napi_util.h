#ifndef NETDUMP_NAPI_UTIL_H
#define NETDUMP_NAPI_UTIL_H

#include <node_api.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#define CHECK(env, call)                                                                  \
	do {                                                                              \
		if ((call) != napi_ok) {                                                  \
			napi_throw_error((env), "EIO", "Node-API call failed: " #call);   \
			return NULL;                                                      \
		}                                                                         \
	} while (0)

#define METHOD(name, fn) { (name), NULL, (fn), NULL, NULL, NULL, napi_default_method, NULL }
/* A function on the module's exports, as napi_set_named_property would put it (for napi_define_properties). */
#define FUNCTION(name, fn) { (name), NULL, (fn), NULL, NULL, NULL, napi_default_jsproperty, NULL }
#define COUNT_OF(array) (sizeof(array) / sizeof((array)[0]))

/* Throws an Error with .code (errno-like name) and .errno; returns NULL. */
napi_value nd_throw(napi_env env, const char *code, int errnum, const char *message);
/* errno's symbolic name ("ENOSPC"), "EIO" when it has none. */
const char *nd_errno_name(int errnum);
/* Throws for a failed system call: code from errno, message "<what>: <strerror>". */
napi_value nd_throw_errno(napi_env env, int errnum, const char *what);

int nd_get_string(napi_env env, napi_value value, char *out, size_t size);
/* The named property, or NULL if absent, undefined or null (or object is not an object). */
napi_value nd_get_property(napi_env env, napi_value object, const char *name);
uint32_t nd_get_uint32_option(napi_env env, napi_value options, const char *name, uint32_t fallback);
/*
 * The `netns` option copied into out: *netns points at it, or is NULL
 * without the option. -1 with EINVAL pending if it is not a string.
 */
int nd_get_netns_option(napi_env env, napi_value options, char *out, size_t size, const char **netns);
int nd_get_bool_option(napi_env env, napi_value options, const char *name);
/* A Uint8Array's bytes; -1 if the value is not a Uint8Array. */
int nd_get_bytes(napi_env env, napi_value value, void **data, size_t *len);
/* The wrapped native object, or NULL (with a JS exception pending). */
void *nd_unwrap(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv);

/*
 * Receive slots allocated once: the bytes and per-message results are
 * shared with JS as two Buffers on `self`; the recvmmsg vectors, source
 * addresses and control buffers are set up to point into them.
 */
typedef struct {
	uint32_t slots;
	uint32_t slot_size;
	uint32_t result_fields; /* u32 values per received message in results */
	size_t address_size;    /* sizeof the sockaddr type received */
	size_t control_size;    /* CMSG_SPACE of the ancillary data received */
	uint8_t *data;
	uint32_t *results;
	napi_ref data_ref;
	napi_ref results_ref;
	struct mmsghdr *msgs;
	struct iovec *iov;
	uint8_t *addresses;
	uint8_t *control;
} nd_rx_buffers;

/* address_size and control_size may be 0 (receive paths that fill the slots themselves). */
int nd_rx_allocate(napi_env env, napi_value self, nd_rx_buffers *rx);
/* recvBatch(max)'s count, at most rx->slots; -1 with EINVAL pending if it is not a positive count. */
int nd_get_batch_max(napi_env env, size_t argc, napi_value *argv, const nd_rx_buffers *rx, uint32_t *max);
/* Resets the lengths recvmmsg overwrites, for the first `count` slots. */
void nd_rx_reset(nd_rx_buffers *rx, uint32_t count);

#define ND_TX_BATCH 64 /* messages a sendmmsg call */

/* The sendmmsg vectors for one chunk of sendBatch's array. */
typedef struct {
	struct mmsghdr msgs[ND_TX_BATCH];
	struct iovec iov[ND_TX_BATCH];
} nd_tx_chunk;

/*
 * sendBatch(items[, count])'s count: the array's length, or count if given
 * (at most the length). -1 with EINVAL pending otherwise; not_array is the
 * message for a first argument that is not an array.
 */
int nd_get_send_count(napi_env env, size_t argc, napi_value *argv, const char *not_array, uint32_t *total);
/* -1 with an exception pending if an item of len bytes cannot be sent. */
typedef int (*nd_tx_check)(napi_env env, const void *context, size_t len);
/*
 * Points the first n (at most ND_TX_BATCH) messages of tx at
 * items[first .. first + n). -1 with an exception pending if an item is not
 * a Uint8Array (not_bytes is the message) or check, unless NULL, refuses it.
 */
int nd_tx_prepare(napi_env env, nd_tx_chunk *tx, napi_value items, uint32_t first, uint32_t n, const char *not_bytes,
		  nd_tx_check check, const void *context);

/* Calls a JS function from the event loop whenever a descriptor is readable. */
typedef struct {
	uv_poll_t *poll;
	napi_env env;
	napi_ref callback;
	napi_async_context context;
} nd_watcher;

napi_value nd_watch(napi_env env, nd_watcher *watcher, int fd, napi_value callback);
void nd_unwatch(nd_watcher *watcher);

/* What every socket class starts with, so the helpers below serve them all. */
typedef struct nd_socket {
	int fd;
	const char *kind; /* "packet socket", "UDP socket": for messages */
	nd_rx_buffers rx;
	nd_watcher watcher;
	/*
	 * Closes fd and what owns it, for a descriptor that is not the
	 * object's own (pcap's); NULL for a plain close(fd).
	 */
	void (*release)(struct nd_socket *socket);
} nd_socket;

/* The wrapped socket if it is still open; else NULL with an EBADF pending. */
void *nd_open_socket(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv);
void nd_socket_close(nd_socket *socket);
/*
 * Wraps socket in self and allocates its receive buffers (rx sized first).
 * Returns self, or NULL with an exception pending; a socket that cannot be
 * wrapped is closed and freed, a wrapped one belongs to the finalizer.
 */
napi_value nd_socket_wrap(napi_env env, napi_value self, nd_socket *socket);
/* napi_wrap finalizer: closes and frees an nd_socket-based object. */
void nd_socket_finalize(napi_env env, void *data, void *hint);
napi_value nd_socket_close_method(napi_env env, napi_callback_info info);
napi_value nd_socket_watch_method(napi_env env, napi_callback_info info);
napi_value nd_socket_unwatch_method(napi_env env, napi_callback_info info);

napi_value nd_packet_socket_class(napi_env env);
napi_value nd_udp_socket_class(napi_env env);
napi_value nd_capture_file_class(napi_env env);
/* Adds watchStopSignals and unwatchStopSignals (native/stop_signals.c) to exports. */
napi_value nd_stop_signal_functions(napi_env env, napi_value exports);
/* clockCell, readClock (clock.c) */
napi_value nd_clock_functions(napi_env env, napi_value exports);
napi_value nd_dir_functions(napi_env env, napi_value exports);
/*
 * PcapSocket (native/pcap_addon.c) when built with libpcap (HAVE_LIBPCAP);
 * otherwise a class whose constructor throws ENOSYS. pcapVersion is
 * pcap_lib_version(), or null without libpcap.
 */
napi_value nd_pcap_socket_class(napi_env env);
napi_value nd_pcap_version(napi_env env);

#endif
