/*
 * PacketSocket: an AF_PACKET socket bound to one interface, with send,
 * sendBatch (sendmmsg), queue and flush (copies of frames sent together
 * later: a TX ring and its doorbell), recvBatch (from a receive ring, or recvmmsg where
 * the kernel refuses a ring, into slots allocated once) and readiness
 * through libuv.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "interface_napi.h"
#include "rx_ring.h"

#define DEFAULT_RCVBUF (4 * 1024 * 1024)
#define RX_CONTROL_SIZE CMSG_SPACE(sizeof(struct tpacket_auxdata))

/* Per-frame flags reported to JS (see RxFlag in native/index.ts). */
#define RX_CHECKSUM_VALID 1     /* the NIC (or the peer kernel) verified the checksum */
#define RX_CHECKSUM_NOT_READY 2 /* checksum left to offload: never computed, do not verify */
#define RX_VLAN_TAGGED 4        /* the frame carried an 802.1Q tag, stripped by Linux */

/* Copies of frames that queue() took and flush() sends: slots allocated on the first queue(). */
typedef struct {
	uint8_t *slots; /* ND_TX_BATCH slots of slot_size bytes */
	size_t slot_size;
	uint32_t lengths[ND_TX_BATCH];
	uint32_t queued;
} tx_queue;

typedef struct {
	nd_socket base; /* first: the shared helpers treat this as an nd_socket */
	ps_interface info;
	uint64_t rx_truncated;
	uint64_t rx_outgoing;
	nd_tx_chunk tx;
	tx_queue queue;
	nd_rx_ring ring;
} packet_socket;

static void release_packet_socket(nd_socket *socket)
{
	packet_socket *ps = (packet_socket *)socket;
	rx_ring_close(&ps->ring);
	free(ps->queue.slots);
	close(ps->base.fd);
}

static void configure_socket(int fd, int receive_buffer)
{
	int one = 1;

	(void)setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one));
	/* FORCE lifts rmem_max for root; fall back quietly for CAP_NET_RAW only. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &receive_buffer, sizeof(receive_buffer)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer));
}

/* new PacketSocket(ifname, { netns, ethertype, allowDown, rxSlots, receiveBuffer, receiveRing }) */
static napi_value construct(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2] = { NULL, NULL }, self, ring_in_use;
	char ifname[64], netns[256];
	ps_options opts = { 0 };
	ps_error err;
	packet_socket *ps;
	nd_rx_buffers *rx;
	uint32_t receive_buffer;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, &self, NULL));
	if (argc < 1 || nd_get_string(env, argv[0], ifname, sizeof(ifname)) < 0)
		return nd_throw(env, "ENODEV", EINVAL, "PacketSocket needs an interface name (at most 15 characters)");
	opts.ifname = ifname;
	opts.ethertype = (uint16_t)nd_get_uint32_option(env, argv[1], "ethertype", ETH_P_ALL);
	opts.allow_down = nd_get_bool_option(env, argv[1], "allowDown");
	if (nd_get_netns_option(env, argv[1], netns, sizeof(netns), &opts.netns) < 0)
		return NULL;

	ps = calloc(1, sizeof(*ps));
	if (ps == NULL)
		return nd_throw(env, "ENOBUFS", ENOMEM, "out of memory");
	ps->base.kind = "packet socket";
	ps->base.fd = ps_open(&opts, &ps->info, &err);
	if (ps->base.fd < 0) {
		free(ps);
		return nd_throw_ps_error(env, &err);
	}
	receive_buffer = nd_get_uint32_option(env, argv[1], "receiveBuffer", DEFAULT_RCVBUF);
	configure_socket(ps->base.fd, (int)receive_buffer);
	rx = &ps->base.rx;
	nd_rx_size_for_frames(env, argv[1], &ps->info, rx);
	/* Without a ring (refused by an old kernel, or not asked for), recvBatch uses recvmmsg. */
	if (nd_get_property(env, argv[1], "receiveRing") == NULL || nd_get_bool_option(env, argv[1], "receiveRing"))
		(void)rx_ring_open(ps->base.fd, rx->slot_size, receive_buffer, &ps->ring);
	ps->base.release = release_packet_socket;
	napi_get_boolean(env, ps->ring.map != NULL, &ring_in_use);
	napi_set_named_property(env, self, "receivesFromRing", ring_in_use);
	rx->address_size = sizeof(struct sockaddr_ll);
	rx->control_size = RX_CONTROL_SIZE;
	return nd_socket_wrap(env, self, &ps->base);
}

static napi_value interface_info(napi_env env, napi_callback_info info)
{
	packet_socket *ps = nd_open_socket(env, info, NULL, NULL);
	return ps == NULL ? NULL : nd_interface_info(env, ps->base.fd, &ps->info);
}

static napi_value socket_stats(napi_env env, napi_callback_info info)
{
	packet_socket *ps = nd_open_socket(env, info, NULL, NULL);
	struct tpacket_stats kstats = { 0 };
	socklen_t len = sizeof(kstats);

	if (ps == NULL)
		return NULL;
	/* The kernel resets these counters on every read. */
	(void)getsockopt(ps->base.fd, SOL_PACKET, PACKET_STATISTICS, &kstats, &len);
	return nd_stats_object(env, kstats.tp_packets, kstats.tp_drops, ps->rx_truncated, ps->rx_outgoing);
}

/* link(): the interface's PS_LINK_UP | PS_LINK_RUNNING bits. */
static napi_value link_flags(napi_env env, napi_callback_info info)
{
	packet_socket *ps = nd_open_socket(env, info, NULL, NULL);
	return ps == NULL ? NULL : nd_interface_link(env, ps->base.fd, ps->info.name);
}

/* gro(): the GRO setting; gro(enabled): change it. */
static napi_value gro(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1];
	packet_socket *ps = nd_open_socket(env, info, &argc, argv);
	return ps == NULL ? NULL : nd_interface_gro(env, ps->base.fd, ps->info.name, argc, argv);
}

/* Sends the first n messages of ps->tx with sendmmsg; -1 with errno set on failure. */
static int send_prepared(packet_socket *ps, uint32_t n)
{
	for (uint32_t sent = 0; sent < n;) {
		int rc = sendmmsg(ps->base.fd, ps->tx.msgs + sent, n - sent, 0);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return -1;
		sent += (uint32_t)rc;
	}
	return 0;
}

/* Sends every queued frame in one sendmmsg and empties the queue, whether or not the send succeeds. */
static int flush_queue(packet_socket *ps)
{
	tx_queue *queue = &ps->queue;
	uint32_t n = queue->queued;

	for (uint32_t i = 0; i < n; i++) {
		ps->tx.iov[i].iov_base = queue->slots + i * queue->slot_size;
		ps->tx.iov[i].iov_len = queue->lengths[i];
		memset(&ps->tx.msgs[i].msg_hdr, 0, sizeof(ps->tx.msgs[i].msg_hdr));
		ps->tx.msgs[i].msg_hdr.msg_iov = &ps->tx.iov[i];
		ps->tx.msgs[i].msg_hdr.msg_iovlen = 1;
	}
	queue->queued = 0;
	return send_prepared(ps, n);
}

static napi_value send_one(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], result;
	packet_socket *ps = nd_open_socket(env, info, &argc, argv);
	void *data;
	size_t len;
	ssize_t sent;

	if (ps == NULL || nd_get_frame(env, argc, argv, &ps->info, &data, &len) < 0)
		return NULL;
	if (ps->queue.queued > 0 && flush_queue(ps) < 0) /* what was queued goes first */
		return nd_throw_send_error(env, errno, ps->info.name);
	do
		sent = send(ps->base.fd, data, len, 0);
	while (sent < 0 && errno == EINTR);
	if (sent < 0)
		return nd_throw_send_error(env, errno, ps->info.name);
	napi_create_uint32(env, (uint32_t)sent, &result);
	return result;
}

/*
 * queue(frame): a copy of the frame waits for flush(), as a descriptor in a
 * TX ring waits for the doorbell; a full queue is flushed first.
 */
static napi_value queue_one(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1];
	packet_socket *ps = nd_open_socket(env, info, &argc, argv);
	tx_queue *queue;
	void *data;
	size_t len;

	if (ps == NULL || nd_get_frame(env, argc, argv, &ps->info, &data, &len) < 0)
		return NULL;
	queue = &ps->queue;
	if (queue->queued == ND_TX_BATCH || (queue->queued > 0 && len > queue->slot_size)) {
		if (flush_queue(ps) < 0)
			return nd_throw_send_error(env, errno, ps->info.name);
	}
	/* Slots follow the MTU that info() last read: a raised MTU gets larger ones. */
	if (len > queue->slot_size) {
		free(queue->slots);
		queue->slot_size = (size_t)ps->info.mtu + ND_ETHER_HEADER_LEN;
		queue->slots = malloc(queue->slot_size * ND_TX_BATCH);
		if (queue->slots == NULL) {
			queue->slot_size = 0;
			return nd_throw(env, "ENOBUFS", ENOMEM, "out of memory");
		}
	}
	memcpy(queue->slots + queue->queued * queue->slot_size, data, len);
	queue->lengths[queue->queued++] = (uint32_t)len;
	return NULL;
}

/* flush(): sends what queue() took, in one sendmmsg; returns how many frames. */
static napi_value flush(napi_env env, napi_callback_info info)
{
	packet_socket *ps = nd_open_socket(env, info, NULL, NULL);
	napi_value result;
	uint32_t n;

	if (ps == NULL)
		return NULL;
	n = ps->queue.queued;
	if (n > 0 && flush_queue(ps) < 0)
		return nd_throw_send_error(env, errno, ps->info.name);
	napi_create_uint32(env, n, &result);
	return result;
}

/* nd_tx_check for frames on the socket's interface (context). */
static int check_frame(napi_env env, const void *context, size_t len)
{
	return nd_check_frame_size(env, context, len);
}

/* sendBatch(frames[, count]): sendmmsg, 64 frames a call; returns frames sent. */
static napi_value send_batch(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2], result;
	packet_socket *ps = nd_open_socket(env, info, &argc, argv);
	uint32_t total, done = 0;

	if (ps == NULL || nd_get_send_count(env, argc, argv, "sendBatch needs an array of frames", &total) < 0)
		return NULL;
	if (ps->queue.queued > 0 && flush_queue(ps) < 0) /* what was queued goes first */
		return nd_throw_send_error(env, errno, ps->info.name);
	while (done < total) {
		uint32_t n = total - done > ND_TX_BATCH ? ND_TX_BATCH : total - done;
		if (nd_tx_prepare(env, &ps->tx, argv[0], done, n, "sendBatch frames must be Uint8Arrays", check_frame,
				  &ps->info) < 0)
			return NULL;
		if (send_prepared(ps, n) < 0)
			return nd_throw_send_error(env, errno, ps->info.name);
		done += n;
	}
	napi_create_uint32(env, done, &result);
	return result;
}

/* Checksum and VLAN facts that Linux keeps beside the frame, in a ring header or PACKET_AUXDATA. */
static uint32_t status_flags(uint32_t tp_status)
{
	uint32_t flags = 0;
	if (tp_status & TP_STATUS_CSUM_VALID)
		flags |= RX_CHECKSUM_VALID;
	if (tp_status & TP_STATUS_CSUMNOTREADY)
		flags |= RX_CHECKSUM_NOT_READY;
	if (tp_status & TP_STATUS_VLAN_VALID)
		flags |= RX_VLAN_TAGGED;
	return flags;
}

static uint32_t frame_flags(struct msghdr *msg)
{
	for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(msg); cmsg != NULL; cmsg = CMSG_NXTHDR(msg, cmsg)) {
		struct tpacket_auxdata aux;
		if (cmsg->cmsg_level != SOL_PACKET || cmsg->cmsg_type != PACKET_AUXDATA)
			continue;
		memcpy(&aux, CMSG_DATA(cmsg), sizeof(aux));
		return status_flags(aux.tp_status);
	}
	return 0;
}

/* Whether recvBatch keeps a frame: not our own outgoing one, and whole in a slot. */
static int keep_frame(packet_socket *ps, const struct sockaddr_ll *from, uint32_t len, int truncated)
{
	if (from->sll_pkttype == PACKET_OUTGOING) {
		ps->rx_outgoing++;
		return 0;
	}
	if (len > ps->base.rx.slot_size || truncated) {
		ps->rx_truncated++;
		return 0;
	}
	return 1;
}

static void record_frame(nd_rx_buffers *rx, uint32_t kept, uint32_t slot, uint32_t len, uint32_t flags)
{
	rx->results[ND_FRAME_RESULT_FIELDS * kept] = slot;
	rx->results[ND_FRAME_RESULT_FIELDS * kept + 1] = len;
	rx->results[ND_FRAME_RESULT_FIELDS * kept + 2] = flags;
}

/* Up to max frames from the ring, copied into the slots in order; returns how many were kept. */
static uint32_t receive_from_ring(packet_socket *ps, uint32_t max)
{
	nd_rx_buffers *rx = &ps->base.rx;
	uint32_t kept = 0;
	struct tpacket2_hdr *frame;

	while (kept < max && (frame = rx_ring_peek(&ps->ring)) != NULL) {
		if (keep_frame(ps, rx_ring_address(frame), frame->tp_len, frame->tp_snaplen < frame->tp_len)) {
			memcpy(rx->data + (size_t)kept * rx->slot_size, (uint8_t *)frame + frame->tp_mac, frame->tp_len);
			record_frame(rx, kept, kept, frame->tp_len, status_flags(frame->tp_status));
			kept++;
		}
		rx_ring_release(&ps->ring, frame);
	}
	return kept;
}

/* Up to max frames with one recvmmsg; returns how many were kept. Throws (returns -1) on an error. */
static int receive_with_recvmmsg(napi_env env, packet_socket *ps, uint32_t max)
{
	nd_rx_buffers *rx = &ps->base.rx;
	uint32_t kept = 0;
	int n;

	nd_rx_reset(rx, max);
	do
		n = recvmmsg(ps->base.fd, rx->msgs, max, MSG_DONTWAIT | MSG_TRUNC, NULL);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
		nd_throw_send_error(env, errno, ps->info.name);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		struct msghdr *msg = &rx->msgs[i].msg_hdr;
		uint32_t len = rx->msgs[i].msg_len;
		if (keep_frame(ps, msg->msg_name, len, (msg->msg_flags & MSG_TRUNC) != 0))
			record_frame(rx, kept++, (uint32_t)i, len, frame_flags(msg));
	}
	return (int)kept;
}

/*
 * recvBatch(max): the frames received so far, without blocking, in the
 * preallocated slots. Writes (slot, length, flags) triples to rxResults and
 * returns how many frames the interface received; our own outgoing frames
 * and truncated ones are skipped.
 */
static napi_value recv_batch(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], result;
	packet_socket *ps = nd_open_socket(env, info, &argc, argv);
	uint32_t max = 0;
	int kept;

	if (ps == NULL || nd_get_batch_max(env, argc, argv, &ps->base.rx, &max) < 0)
		return NULL;
	kept = ps->ring.map != NULL ? (int)receive_from_ring(ps, max) : receive_with_recvmmsg(env, ps, max);
	if (kept < 0)
		return NULL;
	napi_create_uint32(env, (uint32_t)kept, &result);
	return result;
}

napi_value nd_packet_socket_class(napi_env env)
{
	napi_value klass;
	napi_property_descriptor methods[] = {
		METHOD("info", interface_info), METHOD("stats", socket_stats), METHOD("gro", gro), METHOD("link", link_flags),
		METHOD("send", send_one),       METHOD("sendBatch", send_batch),
		METHOD("queue", queue_one),     METHOD("flush", flush),
		METHOD("recvBatch", recv_batch), METHOD("watch", nd_socket_watch_method),
		METHOD("unwatch", nd_socket_unwatch_method), METHOD("close", nd_socket_close_method),
	};

	CHECK(env, napi_define_class(env, "PacketSocket", NAPI_AUTO_LENGTH, construct, NULL,
				     COUNT_OF(methods), methods, &klass));
	return klass;
}
