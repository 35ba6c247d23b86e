/*
 * Node-API face of the packet socket: a PacketSocket class with send,
 * sendBatch (sendmmsg), recvBatch (recvmmsg into buffers allocated once),
 * readiness through libuv, and the kernel's busy-wait DELAY().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <node_api.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "packet_socket.h"

#define MAX_BATCH 1024
#define DEFAULT_RX_SLOTS 256
#define DEFAULT_RCVBUF (4 * 1024 * 1024)
#define ETHER_HEADER_LEN 14
#define RX_CONTROL_SIZE CMSG_SPACE(sizeof(struct tpacket_auxdata))

/* Per-frame flags reported to JS (see RxFlag in native/index.ts). */
#define RX_CHECKSUM_VALID 1     /* the NIC (or the peer kernel) verified the checksum */
#define RX_CHECKSUM_NOT_READY 2 /* checksum left to offload: never computed, do not verify */
#define RX_VLAN_TAGGED 4        /* the frame carried an 802.1Q tag, stripped by Linux */

typedef struct {
	int fd;
	ps_interface info;

	uint32_t rx_slots;
	uint32_t slot_size;
	uint8_t *rx_data;      /* slots * slot_size bytes, owned by a JS Buffer */
	uint32_t *rx_results;  /* triples (slot, length, flags) of the last recvBatch */
	napi_ref rx_data_ref;
	napi_ref rx_results_ref;
	struct mmsghdr *rx_msgs;
	struct iovec *rx_iov;
	struct sockaddr_ll *rx_addrs;
	uint8_t *rx_control;
	uint64_t rx_truncated;
	uint64_t rx_outgoing;

	struct mmsghdr tx_msgs[64];
	struct iovec tx_iov[64];

	uv_poll_t *poll;
	napi_env env;
	napi_ref on_readable;
	napi_async_context async_context;
} packet_socket;

#define CHECK(env, call)                                                     \
	do {                                                                 \
		if ((call) != napi_ok) {                                     \
			napi_throw_error((env), "EIO", "Node-API call failed: " #call); \
			return NULL;                                         \
		}                                                            \
	} while (0)

static napi_value throw_coded(napi_env env, const char *code, int errnum, const char *message)
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

static napi_value throw_ps_error(napi_env env, const ps_error *err)
{
	return throw_coded(env, err->code, err->errnum, err->message);
}

static napi_value throw_closed(napi_env env)
{
	return throw_coded(env, "EBADF", EBADF, "the packet socket is closed");
}

/* ---- helpers to read arguments -------------------------------------- */

static int get_string(napi_env env, napi_value value, char *out, size_t size)
{
	size_t len;
	napi_valuetype type;

	if (napi_typeof(env, value, &type) != napi_ok || type != napi_string)
		return -1;
	return napi_get_value_string_utf8(env, value, out, size, &len) == napi_ok ? 0 : -1;
}

static napi_value get_property(napi_env env, napi_value object, const char *name)
{
	napi_value value;
	napi_valuetype type;
	bool has = false;

	if (napi_typeof(env, object, &type) != napi_ok || type != napi_object)
		return NULL;
	if (napi_has_named_property(env, object, name, &has) != napi_ok || !has)
		return NULL;
	if (napi_get_named_property(env, object, name, &value) != napi_ok)
		return NULL;
	if (napi_typeof(env, value, &type) != napi_ok || type == napi_undefined || type == napi_null)
		return NULL;
	return value;
}

static uint32_t get_uint32_option(napi_env env, napi_value options, const char *name, uint32_t fallback)
{
	napi_value value = get_property(env, options, name);
	uint32_t result;

	if (value == NULL || napi_get_value_uint32(env, value, &result) != napi_ok)
		return fallback;
	return result;
}

static int get_frame(napi_env env, napi_value value, void **data, size_t *len)
{
	bool is_typed;

	if (napi_is_typedarray(env, value, &is_typed) == napi_ok && is_typed) {
		napi_typedarray_type type;
		size_t length, byte_offset;
		napi_value arraybuffer;
		if (napi_get_typedarray_info(env, value, &type, &length, data, &arraybuffer, &byte_offset) != napi_ok ||
		    type != napi_uint8_array)
			return -1;
		*len = length;
		return 0;
	}
	return -1;
}

static packet_socket *unwrap(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv)
{
	napi_value self;
	packet_socket *ps = NULL;

	if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok)
		return NULL;
	if (napi_unwrap(env, self, (void **)&ps) != napi_ok || ps == NULL) {
		napi_throw_type_error(env, "EINVAL", "not a PacketSocket");
		return NULL;
	}
	if (ps->fd < 0) {
		throw_closed(env);
		return NULL;
	}
	return ps;
}

/* ---- lifetime ---------------------------------------------------------- */

static void on_poll_closed(uv_handle_t *handle)
{
	free(handle);
}

static void stop_watching(packet_socket *ps)
{
	if (ps->poll != NULL) {
		uv_poll_stop(ps->poll);
		uv_close((uv_handle_t *)ps->poll, on_poll_closed);
		ps->poll = NULL;
	}
	if (ps->on_readable != NULL) {
		napi_delete_reference(ps->env, ps->on_readable);
		ps->on_readable = NULL;
	}
	if (ps->async_context != NULL) {
		napi_async_destroy(ps->env, ps->async_context);
		ps->async_context = NULL;
	}
}

static void close_socket(packet_socket *ps)
{
	stop_watching(ps);
	if (ps->fd >= 0) {
		close(ps->fd);
		ps->fd = -1;
	}
}

static void finalize(napi_env env, void *data, void *hint)
{
	packet_socket *ps = data;
	(void)hint;
	close_socket(ps);
	if (ps->rx_data_ref != NULL)
		napi_delete_reference(env, ps->rx_data_ref);
	if (ps->rx_results_ref != NULL)
		napi_delete_reference(env, ps->rx_results_ref);
	free(ps->rx_msgs);
	free(ps->rx_iov);
	free(ps->rx_addrs);
	free(ps->rx_control);
	free(ps);
}

static int allocate_rx(napi_env env, napi_value self, packet_socket *ps)
{
	napi_value data_buffer, results_buffer;
	void *data, *results;

	if (napi_create_buffer(env, (size_t)ps->rx_slots * ps->slot_size, &data, &data_buffer) != napi_ok ||
	    napi_create_buffer(env, (size_t)ps->rx_slots * 3 * sizeof(uint32_t), &results, &results_buffer) != napi_ok)
		return -1;
	ps->rx_data = data;
	ps->rx_results = results;
	napi_create_reference(env, data_buffer, 1, &ps->rx_data_ref);
	napi_create_reference(env, results_buffer, 1, &ps->rx_results_ref);
	napi_set_named_property(env, self, "rxData", data_buffer);
	napi_set_named_property(env, self, "rxResults", results_buffer);

	ps->rx_msgs = calloc(ps->rx_slots, sizeof(*ps->rx_msgs));
	ps->rx_iov = calloc(ps->rx_slots, sizeof(*ps->rx_iov));
	ps->rx_addrs = calloc(ps->rx_slots, sizeof(*ps->rx_addrs));
	ps->rx_control = calloc(ps->rx_slots, RX_CONTROL_SIZE);
	if (ps->rx_msgs == NULL || ps->rx_iov == NULL || ps->rx_addrs == NULL || ps->rx_control == NULL)
		return -1;
	for (uint32_t i = 0; i < ps->rx_slots; i++) {
		ps->rx_iov[i].iov_base = ps->rx_data + (size_t)i * ps->slot_size;
		ps->rx_iov[i].iov_len = ps->slot_size;
		ps->rx_msgs[i].msg_hdr.msg_iov = &ps->rx_iov[i];
		ps->rx_msgs[i].msg_hdr.msg_iovlen = 1;
		ps->rx_msgs[i].msg_hdr.msg_name = &ps->rx_addrs[i];
		ps->rx_msgs[i].msg_hdr.msg_namelen = sizeof(ps->rx_addrs[i]);
		ps->rx_msgs[i].msg_hdr.msg_control = ps->rx_control + (size_t)i * RX_CONTROL_SIZE;
		ps->rx_msgs[i].msg_hdr.msg_controllen = RX_CONTROL_SIZE;
	}
	return 0;
}

/* Checksum and VLAN facts that Linux keeps beside the frame (PACKET_AUXDATA). */
static uint32_t frame_flags(struct msghdr *msg)
{
	for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(msg); cmsg != NULL; cmsg = CMSG_NXTHDR(msg, cmsg)) {
		struct tpacket_auxdata aux;
		uint32_t flags = 0;
		if (cmsg->cmsg_level != SOL_PACKET || cmsg->cmsg_type != PACKET_AUXDATA)
			continue;
		memcpy(&aux, CMSG_DATA(cmsg), sizeof(aux));
		if (aux.tp_status & TP_STATUS_CSUM_VALID)
			flags |= RX_CHECKSUM_VALID;
		if (aux.tp_status & TP_STATUS_CSUMNOTREADY)
			flags |= RX_CHECKSUM_NOT_READY;
		if (aux.tp_status & TP_STATUS_VLAN_VALID)
			flags |= RX_VLAN_TAGGED;
		return flags;
	}
	return 0;
}

static void set_receive_buffer(int fd, int bytes)
{
	/* FORCE lifts rmem_max for root; fall back quietly for CAP_NET_RAW only. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
}

/* new PacketSocket(ifname, { netns, ethertype, allowDown, rxSlots, receiveBuffer }) */
static napi_value construct(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2], self, value;
	char ifname[64], netns[256];
	ps_options opts = { 0 };
	ps_error err;
	packet_socket *ps;
	bool allow_down = false;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, &self, NULL));
	if (argc < 1 || get_string(env, argv[0], ifname, sizeof(ifname)) < 0)
		return throw_coded(env, "EINVAL", EINVAL, "PacketSocket needs an interface name");
	opts.ifname = ifname;
	opts.ethertype = (uint16_t)get_uint32_option(env, argc > 1 ? argv[1] : NULL, "ethertype", ETH_P_ALL);
	value = argc > 1 ? get_property(env, argv[1], "netns") : NULL;
	if (value != NULL) {
		if (get_string(env, value, netns, sizeof(netns)) < 0)
			return throw_coded(env, "EINVAL", EINVAL, "netns must be a string");
		opts.netns = netns;
	}
	value = argc > 1 ? get_property(env, argv[1], "allowDown") : NULL;
	if (value != NULL)
		napi_get_value_bool(env, value, &allow_down);
	opts.allow_down = allow_down;

	ps = calloc(1, sizeof(*ps));
	if (ps == NULL)
		return throw_coded(env, "ENOBUFS", ENOMEM, "out of memory");
	ps->env = env;
	ps->fd = ps_open(&opts, &ps->info, &err);
	if (ps->fd < 0) {
		free(ps);
		return throw_ps_error(env, &err);
	}
	{
		int one = 1;
		(void)setsockopt(ps->fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one));
	}
	set_receive_buffer(ps->fd, (int)get_uint32_option(env, argc > 1 ? argv[1] : NULL, "receiveBuffer", DEFAULT_RCVBUF));
	ps->rx_slots = get_uint32_option(env, argc > 1 ? argv[1] : NULL, "rxSlots", DEFAULT_RX_SLOTS);
	if (ps->rx_slots < 1 || ps->rx_slots > MAX_BATCH)
		ps->rx_slots = DEFAULT_RX_SLOTS;
	/* Room for the MTU, the Ethernet header and one VLAN tag; never below 2 KiB. */
	ps->slot_size = (uint32_t)ps->info.mtu + ETHER_HEADER_LEN + 4;
	if (ps->slot_size < 2048)
		ps->slot_size = 2048;
	if (napi_wrap(env, self, ps, finalize, NULL, NULL) != napi_ok) {
		close(ps->fd);
		free(ps);
		return throw_coded(env, "EIO", EIO, "cannot wrap the packet socket");
	}
	if (allocate_rx(env, self, ps) < 0)
		return throw_coded(env, "ENOBUFS", ENOMEM, "cannot allocate receive buffers");
	return self;
}

static napi_value close_method(napi_env env, napi_callback_info info)
{
	napi_value self;
	packet_socket *ps = NULL;

	CHECK(env, napi_get_cb_info(env, info, NULL, NULL, &self, NULL));
	if (napi_unwrap(env, self, (void **)&ps) == napi_ok && ps != NULL)
		close_socket(ps);
	return NULL;
}

/* ---- facts --------------------------------------------------------------- */

static napi_value interface_info(napi_env env, napi_callback_info info)
{
	size_t argc = 0;
	packet_socket *ps = unwrap(env, info, &argc, NULL);
	napi_value result, value;
	void *mac;
	ps_error err;

	if (ps == NULL)
		return NULL;
	if (ps_refresh(ps->fd, &ps->info, &err) < 0)
		return throw_ps_error(env, &err);
	CHECK(env, napi_create_object(env, &result));
	napi_create_string_utf8(env, ps->info.name, NAPI_AUTO_LENGTH, &value);
	napi_set_named_property(env, result, "name", value);
	napi_create_int32(env, ps->info.ifindex, &value);
	napi_set_named_property(env, result, "ifindex", value);
	napi_create_buffer_copy(env, 6, ps->info.mac, &mac, &value);
	napi_set_named_property(env, result, "mac", value);
	napi_create_int32(env, ps->info.mtu, &value);
	napi_set_named_property(env, result, "mtu", value);
	napi_get_boolean(env, ps->info.up, &value);
	napi_set_named_property(env, result, "up", value);
	napi_get_boolean(env, ps->info.running, &value);
	napi_set_named_property(env, result, "running", value);
	napi_create_string_utf8(env, ps->info.driver, NAPI_AUTO_LENGTH, &value);
	napi_set_named_property(env, result, "driver", value);
	return result;
}

static napi_value socket_stats(napi_env env, napi_callback_info info)
{
	size_t argc = 0;
	packet_socket *ps = unwrap(env, info, &argc, NULL);
	struct tpacket_stats kstats = { 0 };
	socklen_t len = sizeof(kstats);
	napi_value result, value;

	if (ps == NULL)
		return NULL;
	/* The kernel resets these counters on every read. */
	(void)getsockopt(ps->fd, SOL_PACKET, PACKET_STATISTICS, &kstats, &len);
	CHECK(env, napi_create_object(env, &result));
	napi_create_uint32(env, kstats.tp_packets, &value);
	napi_set_named_property(env, result, "kernelReceived", value);
	napi_create_uint32(env, kstats.tp_drops, &value);
	napi_set_named_property(env, result, "kernelDropped", value);
	napi_create_double(env, (double)ps->rx_truncated, &value);
	napi_set_named_property(env, result, "truncated", value);
	napi_create_double(env, (double)ps->rx_outgoing, &value);
	napi_set_named_property(env, result, "outgoingSkipped", value);
	return result;
}

/* ---- transmit ---------------------------------------------------------- */

static int check_frame_size(napi_env env, packet_socket *ps, size_t len)
{
	char message[160];

	if (len < ETHER_HEADER_LEN) {
		snprintf(message, sizeof(message), "frame of %zu bytes is shorter than an Ethernet header", len);
		throw_coded(env, "EINVAL", EINVAL, message);
		return -1;
	}
	if (len > (size_t)ps->info.mtu + ETHER_HEADER_LEN) {
		snprintf(message, sizeof(message), "frame of %zu bytes is larger than the MTU of %s (%d + %d-byte header)",
			 len, ps->info.name, ps->info.mtu, ETHER_HEADER_LEN);
		throw_coded(env, "EMSGSIZE", EMSGSIZE, message);
		return -1;
	}
	return 0;
}

static napi_value throw_send_errno(napi_env env, packet_socket *ps, int errnum)
{
	ps_error err;
	ps_send_error(&err, errnum, ps->info.name);
	return throw_ps_error(env, &err);
}

static napi_value send_one(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], result;
	packet_socket *ps = unwrap(env, info, &argc, argv);
	void *data;
	size_t len;
	ssize_t sent;

	if (ps == NULL)
		return NULL;
	if (argc < 1 || get_frame(env, argv[0], &data, &len) < 0)
		return throw_coded(env, "EINVAL", EINVAL, "send needs a Uint8Array frame");
	if (check_frame_size(env, ps, len) < 0)
		return NULL;
	do
		sent = send(ps->fd, data, len, 0);
	while (sent < 0 && errno == EINTR);
	if (sent < 0)
		return throw_send_errno(env, ps, errno);
	napi_create_uint32(env, (uint32_t)sent, &result);
	return result;
}

/* sendBatch(frames[, count]): sendmmsg in chunks of 64; returns frames sent. */
static napi_value send_batch(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2], result;
	packet_socket *ps = unwrap(env, info, &argc, argv);
	uint32_t total, done = 0;
	bool is_array;

	if (ps == NULL)
		return NULL;
	if (argc < 1 || napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array)
		return throw_coded(env, "EINVAL", EINVAL, "sendBatch needs an array of frames");
	CHECK(env, napi_get_array_length(env, argv[0], &total));
	if (argc > 1) {
		uint32_t count;
		if (napi_get_value_uint32(env, argv[1], &count) != napi_ok || count > total)
			return throw_coded(env, "EINVAL", EINVAL, "sendBatch count must be at most the array length");
		total = count;
	}
	while (done < total) {
		uint32_t n = total - done > 64 ? 64 : total - done;
		for (uint32_t i = 0; i < n; i++) {
			napi_value element;
			void *data;
			size_t len;
			CHECK(env, napi_get_element(env, argv[0], done + i, &element));
			if (get_frame(env, element, &data, &len) < 0)
				return throw_coded(env, "EINVAL", EINVAL, "sendBatch frames must be Uint8Arrays");
			if (check_frame_size(env, ps, len) < 0)
				return NULL;
			ps->tx_iov[i].iov_base = data;
			ps->tx_iov[i].iov_len = len;
			memset(&ps->tx_msgs[i].msg_hdr, 0, sizeof(ps->tx_msgs[i].msg_hdr));
			ps->tx_msgs[i].msg_hdr.msg_iov = &ps->tx_iov[i];
			ps->tx_msgs[i].msg_hdr.msg_iovlen = 1;
		}
		for (uint32_t sent_now = 0; sent_now < n;) {
			int rc = sendmmsg(ps->fd, ps->tx_msgs + sent_now, n - sent_now, 0);
			if (rc < 0 && errno == EINTR)
				continue;
			if (rc < 0)
				return throw_send_errno(env, ps, errno);
			sent_now += (uint32_t)rc;
		}
		done += n;
	}
	napi_create_uint32(env, done, &result);
	return result;
}

/* ---- receive ------------------------------------------------------------- */

/*
 * recvBatch(max): non-blocking recvmmsg into the preallocated slots. Writes
 * (slot, length, flags) triples to rxResults and returns how many frames the
 * interface received; our own outgoing frames and truncated ones are skipped.
 */
static napi_value recv_batch(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], result;
	packet_socket *ps = unwrap(env, info, &argc, argv);
	uint32_t max = 0, kept = 0;
	int n;

	if (ps == NULL)
		return NULL;
	if (argc < 1 || napi_get_value_uint32(env, argv[0], &max) != napi_ok || max == 0)
		return throw_coded(env, "EINVAL", EINVAL, "recvBatch needs a positive count");
	if (max > ps->rx_slots)
		max = ps->rx_slots;
	for (uint32_t i = 0; i < max; i++) {
		ps->rx_msgs[i].msg_hdr.msg_namelen = sizeof(ps->rx_addrs[i]);
		ps->rx_msgs[i].msg_hdr.msg_controllen = RX_CONTROL_SIZE;
	}
	do
		n = recvmmsg(ps->fd, ps->rx_msgs, max, MSG_DONTWAIT | MSG_TRUNC, NULL);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
		return throw_send_errno(env, ps, errno);
	for (int i = 0; i < n; i++) {
		uint32_t len = ps->rx_msgs[i].msg_len;
		if (ps->rx_addrs[i].sll_pkttype == PACKET_OUTGOING) {
			ps->rx_outgoing++;
			continue;
		}
		if (len > ps->slot_size || (ps->rx_msgs[i].msg_hdr.msg_flags & MSG_TRUNC)) {
			ps->rx_truncated++;
			continue;
		}
		ps->rx_results[3 * kept] = (uint32_t)i;
		ps->rx_results[3 * kept + 1] = len;
		ps->rx_results[3 * kept + 2] = frame_flags(&ps->rx_msgs[i].msg_hdr);
		kept++;
	}
	napi_create_uint32(env, kept, &result);
	return result;
}

static void on_readable(uv_poll_t *handle, int status, int events)
{
	packet_socket *ps = handle->data;
	napi_handle_scope scope;
	napi_value callback, global, result;

	(void)status;
	(void)events;
	if (ps->on_readable == NULL)
		return;
	napi_open_handle_scope(ps->env, &scope);
	if (napi_get_reference_value(ps->env, ps->on_readable, &callback) == napi_ok && callback != NULL) {
		napi_get_global(ps->env, &global);
		/* make_callback reports a throw as uncaught and runs microtasks. */
		napi_make_callback(ps->env, ps->async_context, global, callback, 0, NULL, &result);
	}
	napi_close_handle_scope(ps->env, scope);
}

/* watch(callback): call back whenever frames wait; unwatch() stops it. */
static napi_value watch(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], resource_name;
	packet_socket *ps = unwrap(env, info, &argc, argv);
	napi_valuetype type;
	uv_loop_t *loop;

	if (ps == NULL)
		return NULL;
	if (argc < 1 || napi_typeof(env, argv[0], &type) != napi_ok || type != napi_function)
		return throw_coded(env, "EINVAL", EINVAL, "watch needs a callback function");
	stop_watching(ps);
	CHECK(env, napi_get_uv_event_loop(env, &loop));
	ps->poll = calloc(1, sizeof(*ps->poll));
	if (ps->poll == NULL)
		return throw_coded(env, "ENOBUFS", ENOMEM, "out of memory");
	if (uv_poll_init_socket(loop, ps->poll, ps->fd) != 0) {
		free(ps->poll);
		ps->poll = NULL;
		return throw_coded(env, "EIO", EIO, "cannot watch the packet socket");
	}
	ps->poll->data = ps;
	napi_create_reference(env, argv[0], 1, &ps->on_readable);
	napi_create_string_utf8(env, "netdump:PacketSocket", NAPI_AUTO_LENGTH, &resource_name);
	napi_async_init(env, NULL, resource_name, &ps->async_context);
	uv_poll_start(ps->poll, UV_READABLE, on_readable);
	return NULL;
}

static napi_value unwatch(napi_env env, napi_callback_info info)
{
	size_t argc = 0;
	packet_socket *ps = unwrap(env, info, &argc, NULL);
	if (ps != NULL)
		stop_watching(ps);
	return NULL;
}

/* ---- module ------------------------------------------------------------ */

static napi_value delay_us(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1];
	uint32_t usec;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 1 || napi_get_value_uint32(env, argv[0], &usec) != napi_ok)
		return throw_coded(env, "EINVAL", EINVAL, "delay needs microseconds");
	ps_delay_us(usec);
	return NULL;
}

static napi_value init(napi_env env, napi_value exports)
{
	napi_value klass, delay_fn;
	napi_property_descriptor methods[] = {
		{ "info", NULL, interface_info, NULL, NULL, NULL, napi_default_method, NULL },
		{ "stats", NULL, socket_stats, NULL, NULL, NULL, napi_default_method, NULL },
		{ "send", NULL, send_one, NULL, NULL, NULL, napi_default_method, NULL },
		{ "sendBatch", NULL, send_batch, NULL, NULL, NULL, napi_default_method, NULL },
		{ "recvBatch", NULL, recv_batch, NULL, NULL, NULL, napi_default_method, NULL },
		{ "watch", NULL, watch, NULL, NULL, NULL, napi_default_method, NULL },
		{ "unwatch", NULL, unwatch, NULL, NULL, NULL, napi_default_method, NULL },
		{ "close", NULL, close_method, NULL, NULL, NULL, napi_default_method, NULL },
	};

	CHECK(env, napi_define_class(env, "PacketSocket", NAPI_AUTO_LENGTH, construct, NULL,
				     sizeof(methods) / sizeof(methods[0]), methods, &klass));
	CHECK(env, napi_set_named_property(env, exports, "PacketSocket", klass));
	CHECK(env, napi_create_function(env, "delay", NAPI_AUTO_LENGTH, delay_us, NULL, &delay_fn));
	CHECK(env, napi_set_named_property(env, exports, "delay", delay_fn));
	return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
