/*
 * PacketSocket: an AF_PACKET socket bound to one interface, with send,
 * sendBatch (sendmmsg), recvBatch (recvmmsg into slots allocated once) and
 * readiness through libuv.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "napi_util.h"
#include "packet_socket.h"

#define MAX_RX_SLOTS 1024
#define DEFAULT_RX_SLOTS 256
#define DEFAULT_RCVBUF (4 * 1024 * 1024)
#define TX_BATCH 64
#define ETHER_HEADER_LEN 14
#define RX_CONTROL_SIZE CMSG_SPACE(sizeof(struct tpacket_auxdata))
#define RESULT_FIELDS 3 /* slot, length, flags */

/* Per-frame flags reported to JS (see RxFlag in native/index.ts). */
#define RX_CHECKSUM_VALID 1     /* the NIC (or the peer kernel) verified the checksum */
#define RX_CHECKSUM_NOT_READY 2 /* checksum left to offload: never computed, do not verify */
#define RX_VLAN_TAGGED 4        /* the frame carried an 802.1Q tag, stripped by Linux */

typedef struct {
	int fd;
	ps_interface info;
	nd_rx_buffers rx;
	struct mmsghdr *rx_msgs;
	struct iovec *rx_iov;
	struct sockaddr_ll *rx_addrs;
	uint8_t *rx_control;
	uint64_t rx_truncated;
	uint64_t rx_outgoing;
	struct mmsghdr tx_msgs[TX_BATCH];
	struct iovec tx_iov[TX_BATCH];
	nd_watcher watcher;
} packet_socket;

static packet_socket *open_socket(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv)
{
	packet_socket *ps = nd_unwrap(env, info, argc, argv);

	if (ps != NULL && ps->fd < 0) {
		nd_throw(env, "EBADF", EBADF, "the packet socket is closed");
		return NULL;
	}
	return ps;
}

static void close_socket(packet_socket *ps)
{
	nd_unwatch(&ps->watcher);
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
	nd_rx_release(env, &ps->rx);
	free(ps->rx_msgs);
	free(ps->rx_iov);
	free(ps->rx_addrs);
	free(ps->rx_control);
	free(ps);
}

static int allocate_rx(napi_env env, napi_value self, packet_socket *ps)
{
	if (nd_rx_allocate(env, self, &ps->rx) < 0)
		return -1;
	ps->rx_msgs = calloc(ps->rx.slots, sizeof(*ps->rx_msgs));
	ps->rx_iov = calloc(ps->rx.slots, sizeof(*ps->rx_iov));
	ps->rx_addrs = calloc(ps->rx.slots, sizeof(*ps->rx_addrs));
	ps->rx_control = calloc(ps->rx.slots, RX_CONTROL_SIZE);
	if (ps->rx_msgs == NULL || ps->rx_iov == NULL || ps->rx_addrs == NULL || ps->rx_control == NULL)
		return -1;
	for (uint32_t i = 0; i < ps->rx.slots; i++) {
		ps->rx_iov[i].iov_base = ps->rx.data + (size_t)i * ps->rx.slot_size;
		ps->rx_iov[i].iov_len = ps->rx.slot_size;
		ps->rx_msgs[i].msg_hdr.msg_iov = &ps->rx_iov[i];
		ps->rx_msgs[i].msg_hdr.msg_iovlen = 1;
		ps->rx_msgs[i].msg_hdr.msg_name = &ps->rx_addrs[i];
		ps->rx_msgs[i].msg_hdr.msg_control = ps->rx_control + (size_t)i * RX_CONTROL_SIZE;
	}
	return 0;
}

static void configure_socket(int fd, int receive_buffer)
{
	int one = 1;

	(void)setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one));
	/* FORCE lifts rmem_max for root; fall back quietly for CAP_NET_RAW only. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &receive_buffer, sizeof(receive_buffer)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer));
}

/* new PacketSocket(ifname, { netns, ethertype, allowDown, rxSlots, receiveBuffer }) */
static napi_value construct(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2] = { NULL, NULL }, self, value;
	char ifname[64], netns[256];
	ps_options opts = { 0 };
	ps_error err;
	packet_socket *ps;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, &self, NULL));
	if (argc < 1 || nd_get_string(env, argv[0], ifname, sizeof(ifname)) < 0)
		return nd_throw(env, "ENODEV", EINVAL, "PacketSocket needs an interface name (at most 15 characters)");
	opts.ifname = ifname;
	opts.ethertype = (uint16_t)nd_get_uint32_option(env, argv[1], "ethertype", ETH_P_ALL);
	opts.allow_down = nd_get_bool_option(env, argv[1], "allowDown");
	value = nd_get_property(env, argv[1], "netns");
	if (value != NULL) {
		if (nd_get_string(env, value, netns, sizeof(netns)) < 0)
			return nd_throw(env, "EINVAL", EINVAL, "netns must be a namespace name or path");
		opts.netns = netns;
	}

	ps = calloc(1, sizeof(*ps));
	if (ps == NULL)
		return nd_throw(env, "ENOBUFS", ENOMEM, "out of memory");
	ps->fd = ps_open(&opts, &ps->info, &err);
	if (ps->fd < 0) {
		free(ps);
		return nd_throw(env, err.code, err.errnum, err.message);
	}
	configure_socket(ps->fd, (int)nd_get_uint32_option(env, argv[1], "receiveBuffer", DEFAULT_RCVBUF));
	ps->rx.slots = nd_get_uint32_option(env, argv[1], "rxSlots", DEFAULT_RX_SLOTS);
	if (ps->rx.slots < 1 || ps->rx.slots > MAX_RX_SLOTS)
		ps->rx.slots = DEFAULT_RX_SLOTS;
	/* Room for the MTU, the Ethernet header and one VLAN tag; never below 2 KiB. */
	ps->rx.slot_size = (uint32_t)ps->info.mtu + ETHER_HEADER_LEN + 4;
	if (ps->rx.slot_size < 2048)
		ps->rx.slot_size = 2048;
	ps->rx.result_fields = RESULT_FIELDS;
	if (napi_wrap(env, self, ps, finalize, NULL, NULL) != napi_ok) {
		close(ps->fd);
		free(ps);
		return nd_throw(env, "EIO", EIO, "cannot wrap the packet socket");
	}
	if (allocate_rx(env, self, ps) < 0)
		return nd_throw(env, "ENOBUFS", ENOMEM, "cannot allocate receive buffers");
	return self;
}

static napi_value close_method(napi_env env, napi_callback_info info)
{
	packet_socket *ps = nd_unwrap(env, info, NULL, NULL);
	if (ps != NULL)
		close_socket(ps);
	return NULL;
}

static void set_named(napi_env env, napi_value object, const char *name, napi_value value)
{
	napi_set_named_property(env, object, name, value);
}

static napi_value interface_info(napi_env env, napi_callback_info info)
{
	packet_socket *ps = open_socket(env, info, NULL, NULL);
	napi_value result, value;
	void *mac;
	ps_error err;

	if (ps == NULL)
		return NULL;
	if (ps_refresh(ps->fd, &ps->info, &err) < 0)
		return nd_throw(env, err.code, err.errnum, err.message);
	CHECK(env, napi_create_object(env, &result));
	napi_create_string_utf8(env, ps->info.name, NAPI_AUTO_LENGTH, &value);
	set_named(env, result, "name", value);
	napi_create_int32(env, ps->info.ifindex, &value);
	set_named(env, result, "ifindex", value);
	napi_create_buffer_copy(env, 6, ps->info.mac, &mac, &value);
	set_named(env, result, "mac", value);
	napi_create_int32(env, ps->info.mtu, &value);
	set_named(env, result, "mtu", value);
	napi_get_boolean(env, ps->info.up, &value);
	set_named(env, result, "up", value);
	napi_get_boolean(env, ps->info.running, &value);
	set_named(env, result, "running", value);
	napi_create_string_utf8(env, ps->info.driver, NAPI_AUTO_LENGTH, &value);
	set_named(env, result, "driver", value);
	return result;
}

static napi_value socket_stats(napi_env env, napi_callback_info info)
{
	packet_socket *ps = open_socket(env, info, NULL, NULL);
	struct tpacket_stats kstats = { 0 };
	socklen_t len = sizeof(kstats);
	napi_value result, value;

	if (ps == NULL)
		return NULL;
	/* The kernel resets these counters on every read. */
	(void)getsockopt(ps->fd, SOL_PACKET, PACKET_STATISTICS, &kstats, &len);
	CHECK(env, napi_create_object(env, &result));
	napi_create_uint32(env, kstats.tp_packets, &value);
	set_named(env, result, "kernelReceived", value);
	napi_create_uint32(env, kstats.tp_drops, &value);
	set_named(env, result, "kernelDropped", value);
	napi_create_double(env, (double)ps->rx_truncated, &value);
	set_named(env, result, "truncated", value);
	napi_create_double(env, (double)ps->rx_outgoing, &value);
	set_named(env, result, "outgoingSkipped", value);
	return result;
}

static int check_frame_size(napi_env env, packet_socket *ps, size_t len)
{
	char message[160];

	if (len < ETHER_HEADER_LEN) {
		snprintf(message, sizeof(message), "frame of %zu bytes is shorter than an Ethernet header", len);
		nd_throw(env, "EINVAL", EINVAL, message);
		return -1;
	}
	if (len > (size_t)ps->info.mtu + ETHER_HEADER_LEN) {
		snprintf(message, sizeof(message), "frame of %zu bytes is larger than the MTU of %s (%d + %d-byte header)",
			 len, ps->info.name, ps->info.mtu, ETHER_HEADER_LEN);
		nd_throw(env, "EMSGSIZE", EMSGSIZE, message);
		return -1;
	}
	return 0;
}

static napi_value throw_send_error(napi_env env, packet_socket *ps, int errnum)
{
	ps_error err;
	ps_send_error(&err, errnum, ps->info.name);
	return nd_throw(env, err.code, err.errnum, err.message);
}

static napi_value send_one(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], result;
	packet_socket *ps = open_socket(env, info, &argc, argv);
	void *data;
	size_t len;
	ssize_t sent;

	if (ps == NULL)
		return NULL;
	if (argc < 1 || nd_get_bytes(env, argv[0], &data, &len) < 0)
		return nd_throw(env, "EINVAL", EINVAL, "send needs a Uint8Array frame");
	if (check_frame_size(env, ps, len) < 0)
		return NULL;
	do
		sent = send(ps->fd, data, len, 0);
	while (sent < 0 && errno == EINTR);
	if (sent < 0)
		return throw_send_error(env, ps, errno);
	napi_create_uint32(env, (uint32_t)sent, &result);
	return result;
}

static int prepare_chunk(napi_env env, packet_socket *ps, napi_value frames, uint32_t first, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		napi_value element;
		void *data;
		size_t len;
		if (napi_get_element(env, frames, first + i, &element) != napi_ok ||
		    nd_get_bytes(env, element, &data, &len) < 0) {
			nd_throw(env, "EINVAL", EINVAL, "sendBatch frames must be Uint8Arrays");
			return -1;
		}
		if (check_frame_size(env, ps, len) < 0)
			return -1;
		ps->tx_iov[i].iov_base = data;
		ps->tx_iov[i].iov_len = len;
		memset(&ps->tx_msgs[i].msg_hdr, 0, sizeof(ps->tx_msgs[i].msg_hdr));
		ps->tx_msgs[i].msg_hdr.msg_iov = &ps->tx_iov[i];
		ps->tx_msgs[i].msg_hdr.msg_iovlen = 1;
	}
	return 0;
}

/* sendBatch(frames[, count]): sendmmsg, 64 frames a call; returns frames sent. */
static napi_value send_batch(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2], result;
	packet_socket *ps = open_socket(env, info, &argc, argv);
	uint32_t total, done = 0;
	bool is_array;

	if (ps == NULL)
		return NULL;
	if (argc < 1 || napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array)
		return nd_throw(env, "EINVAL", EINVAL, "sendBatch needs an array of frames");
	CHECK(env, napi_get_array_length(env, argv[0], &total));
	if (argc > 1) {
		uint32_t count;
		if (napi_get_value_uint32(env, argv[1], &count) != napi_ok || count > total)
			return nd_throw(env, "EINVAL", EINVAL, "sendBatch count must be at most the array length");
		total = count;
	}
	while (done < total) {
		uint32_t n = total - done > TX_BATCH ? TX_BATCH : total - done;
		if (prepare_chunk(env, ps, argv[0], done, n) < 0)
			return NULL;
		for (uint32_t sent = 0; sent < n;) {
			int rc = sendmmsg(ps->fd, ps->tx_msgs + sent, n - sent, 0);
			if (rc < 0 && errno == EINTR)
				continue;
			if (rc < 0)
				return throw_send_error(env, ps, errno);
			sent += (uint32_t)rc;
		}
		done += n;
	}
	napi_create_uint32(env, done, &result);
	return result;
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

/*
 * recvBatch(max): non-blocking recvmmsg into the preallocated slots. Writes
 * (slot, length, flags) triples to rxResults and returns how many frames the
 * interface received; our own outgoing frames and truncated ones are skipped.
 */
static napi_value recv_batch(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], result;
	packet_socket *ps = open_socket(env, info, &argc, argv);
	uint32_t max = 0, kept = 0;
	int n;

	if (ps == NULL)
		return NULL;
	if (argc < 1 || napi_get_value_uint32(env, argv[0], &max) != napi_ok || max == 0)
		return nd_throw(env, "EINVAL", EINVAL, "recvBatch needs a positive count");
	if (max > ps->rx.slots)
		max = ps->rx.slots;
	for (uint32_t i = 0; i < max; i++) {
		ps->rx_msgs[i].msg_hdr.msg_namelen = sizeof(ps->rx_addrs[i]);
		ps->rx_msgs[i].msg_hdr.msg_controllen = RX_CONTROL_SIZE;
	}
	do
		n = recvmmsg(ps->fd, ps->rx_msgs, max, MSG_DONTWAIT | MSG_TRUNC, NULL);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
		return throw_send_error(env, ps, errno);
	for (int i = 0; i < n; i++) {
		uint32_t len = ps->rx_msgs[i].msg_len;
		if (ps->rx_addrs[i].sll_pkttype == PACKET_OUTGOING) {
			ps->rx_outgoing++;
			continue;
		}
		if (len > ps->rx.slot_size || (ps->rx_msgs[i].msg_hdr.msg_flags & MSG_TRUNC)) {
			ps->rx_truncated++;
			continue;
		}
		ps->rx.results[RESULT_FIELDS * kept] = (uint32_t)i;
		ps->rx.results[RESULT_FIELDS * kept + 1] = len;
		ps->rx.results[RESULT_FIELDS * kept + 2] = frame_flags(&ps->rx_msgs[i].msg_hdr);
		kept++;
	}
	napi_create_uint32(env, kept, &result);
	return result;
}

static napi_value watch(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1] = { NULL };
	packet_socket *ps = open_socket(env, info, &argc, argv);
	return ps == NULL ? NULL : nd_watch(env, &ps->watcher, ps->fd, argv[0]);
}

static napi_value unwatch(napi_env env, napi_callback_info info)
{
	packet_socket *ps = open_socket(env, info, NULL, NULL);
	if (ps != NULL)
		nd_unwatch(&ps->watcher);
	return NULL;
}

napi_value nd_packet_socket_class(napi_env env)
{
	napi_value klass;
	napi_property_descriptor methods[] = {
		METHOD("info", interface_info), METHOD("stats", socket_stats),
		METHOD("send", send_one),       METHOD("sendBatch", send_batch),
		METHOD("recvBatch", recv_batch), METHOD("watch", watch),
		METHOD("unwatch", unwatch),     METHOD("close", close_method),
	};

	CHECK(env, napi_define_class(env, "PacketSocket", NAPI_AUTO_LENGTH, construct, NULL,
				     sizeof(methods) / sizeof(methods[0]), methods, &klass));
	return klass;
}
