/*
 * UdpSocket: a kernel UDP socket with batched, non-blocking receive
 * (recvmmsg) that reports each datagram's source and destination address
 * (IP_PKTINFO), and batched send (sendmmsg). The server needs both: the
 * destination address of a herald decides the reply socket's address, and
 * one system call per batch instead of per datagram is what keeps up.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "napi_util.h"
#include "packet_socket.h"

#define MAX_RX_SLOTS 1024
#define DEFAULT_RX_SLOTS 64
#define DEFAULT_SLOT_SIZE 65536
#define RX_CONTROL_SIZE CMSG_SPACE(sizeof(struct in_pktinfo))
#define RESULT_FIELDS 5 /* slot, length, source address, source port, destination address */

typedef struct {
	nd_socket base; /* first: the shared helpers treat this as an nd_socket */
	nd_tx_chunk tx;
} udp_socket;

/* The socket, created inside the `netns` option's namespace if there is one. */
static int create_socket(napi_env env, napi_value options)
{
	char buffer[256];
	const char *netns;
	ps_error err;
	int home_fd, fd, saved;

	if (nd_get_netns_option(env, options, buffer, sizeof(buffer), &netns) < 0)
		return -1;
	if (ps_enter_namespace(netns, &home_fd, &err) < 0) {
		nd_throw(env, err.code, err.errnum, err.message);
		return -1;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
	saved = errno;
	ps_leave_namespace(home_fd);
	if (fd < 0)
		nd_throw_errno(env, saved, "socket()");
	return fd;
}

/* new UdpSocket({ rxSlots, slotSize, receiveBuffer, pktinfo, netns }) */
static napi_value construct(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1] = { NULL }, self;
	udp_socket *us;
	nd_rx_buffers *rx;
	int one = 1, receive_buffer, fd;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, &self, NULL));
	us = calloc(1, sizeof(*us));
	if (us == NULL)
		return nd_throw(env, "ENOBUFS", ENOMEM, "out of memory");
	us->base.kind = "UDP socket";
	fd = us->base.fd = create_socket(env, argv[0]);
	if (fd < 0) {
		free(us);
		return NULL;
	}
	if (nd_get_bool_option(env, argv[0], "pktinfo"))
		(void)setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	receive_buffer = (int)nd_get_uint32_option(env, argv[0], "receiveBuffer", 0);
	if (receive_buffer > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer)) < 0) {
		int saved = errno;
		close(fd);
		free(us);
		return nd_throw_errno(env, saved, "setsockopt(SO_RCVBUF)");
	}
	rx = &us->base.rx;
	rx->slots = nd_get_uint32_option(env, argv[0], "rxSlots", DEFAULT_RX_SLOTS);
	if (rx->slots < 1 || rx->slots > MAX_RX_SLOTS)
		rx->slots = DEFAULT_RX_SLOTS;
	rx->slot_size = nd_get_uint32_option(env, argv[0], "slotSize", DEFAULT_SLOT_SIZE);
	if (rx->slot_size < 1 || rx->slot_size > DEFAULT_SLOT_SIZE)
		rx->slot_size = DEFAULT_SLOT_SIZE;
	rx->result_fields = RESULT_FIELDS;
	rx->address_size = sizeof(struct sockaddr_in);
	rx->control_size = RX_CONTROL_SIZE;
	return nd_socket_wrap(env, self, &us->base);
}

static int get_address(napi_env env, napi_value address, napi_value port, struct sockaddr_in *sin)
{
	char text[64];
	uint32_t port_number;

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	if (nd_get_string(env, address, text, sizeof(text)) < 0 || inet_pton(AF_INET, text, &sin->sin_addr) != 1 ||
	    napi_get_value_uint32(env, port, &port_number) != napi_ok || port_number > 65535) {
		nd_throw(env, "EINVAL", EINVAL, "expected an IPv4 address in dotted-quad form and a port 0..65535");
		return -1;
	}
	sin->sin_port = htons((uint16_t)port_number);
	return 0;
}

static napi_value with_address(napi_env env, napi_callback_info info, int (*call)(int, const struct sockaddr *, socklen_t),
			       const char *name)
{
	size_t argc = 2;
	napi_value argv[2] = { NULL, NULL };
	udp_socket *us = nd_open_socket(env, info, &argc, argv);
	struct sockaddr_in sin;
	char what[96];

	if (us == NULL || get_address(env, argv[0], argv[1], &sin) < 0)
		return NULL;
	if (call(us->base.fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		char text[INET_ADDRSTRLEN];
		int saved = errno;
		inet_ntop(AF_INET, &sin.sin_addr, text, sizeof(text));
		snprintf(what, sizeof(what), "%s(%s:%u)", name, text, ntohs(sin.sin_port));
		return nd_throw_errno(env, saved, what);
	}
	return NULL;
}

static napi_value bind_method(napi_env env, napi_callback_info info)
{
	return with_address(env, info, bind, "bind");
}

static napi_value connect_method(napi_env env, napi_callback_info info)
{
	return with_address(env, info, connect, "connect");
}

static napi_value local_address(napi_env env, napi_callback_info info)
{
	udp_socket *us = nd_open_socket(env, info, NULL, NULL);
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char text[INET_ADDRSTRLEN];
	napi_value result, value;

	if (us == NULL)
		return NULL;
	if (getsockname(us->base.fd, (struct sockaddr *)&sin, &len) < 0)
		return nd_throw_errno(env, errno, "getsockname()");
	inet_ntop(AF_INET, &sin.sin_addr, text, sizeof(text));
	CHECK(env, napi_create_object(env, &result));
	napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &value);
	napi_set_named_property(env, result, "address", value);
	napi_create_uint32(env, ntohs(sin.sin_port), &value);
	napi_set_named_property(env, result, "port", value);
	return result;
}

static uint32_t destination_of(struct msghdr *msg)
{
	for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(msg); cmsg != NULL; cmsg = CMSG_NXTHDR(msg, cmsg)) {
		struct in_pktinfo pktinfo;
		if (cmsg->cmsg_level != IPPROTO_IP || cmsg->cmsg_type != IP_PKTINFO)
			continue;
		memcpy(&pktinfo, CMSG_DATA(cmsg), sizeof(pktinfo));
		return ntohl(pktinfo.ipi_addr.s_addr);
	}
	return 0;
}

/*
 * recvBatch(max): non-blocking recvmmsg. Writes (slot, length, source
 * address, source port, destination address) for each datagram to
 * rxResults; a datagram longer than a slot is cut to the slot, as recv(2)
 * would. Destination is 0 unless the socket was made with pktinfo.
 */
static napi_value recv_batch(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], result;
	udp_socket *us = nd_open_socket(env, info, &argc, argv);
	uint32_t max = 0;
	nd_rx_buffers *rx;
	int n;

	if (us == NULL)
		return NULL;
	rx = &us->base.rx;
	if (nd_get_batch_max(env, argc, argv, rx, &max) < 0)
		return NULL;
	nd_rx_reset(rx, max);
	do
		n = recvmmsg(us->base.fd, rx->msgs, max, MSG_DONTWAIT, NULL);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		n = 0;
	if (n < 0)
		return nd_throw_errno(env, errno, "recv()");
	for (int i = 0; i < n; i++) {
		const struct sockaddr_in *from = rx->msgs[i].msg_hdr.msg_name;
		uint32_t *fields = rx->results + RESULT_FIELDS * i;
		fields[0] = (uint32_t)i;
		fields[1] = rx->msgs[i].msg_len;
		fields[2] = ntohl(from->sin_addr.s_addr);
		fields[3] = ntohs(from->sin_port);
		fields[4] = destination_of(&rx->msgs[i].msg_hdr);
	}
	napi_create_uint32(env, (uint32_t)n, &result);
	return result;
}

/* send(data[, address, port]): one datagram, to the connected peer or to address:port. */
static napi_value send_one(napi_env env, napi_callback_info info)
{
	size_t argc = 3;
	napi_value argv[3] = { NULL, NULL, NULL }, result;
	udp_socket *us = nd_open_socket(env, info, &argc, argv);
	struct sockaddr_in sin;
	void *data;
	size_t len;
	ssize_t sent;

	if (us == NULL)
		return NULL;
	if (argc < 1 || nd_get_bytes(env, argv[0], &data, &len) < 0)
		return nd_throw(env, "EINVAL", EINVAL, "send needs a Uint8Array");
	if (argc >= 3 && get_address(env, argv[1], argv[2], &sin) < 0)
		return NULL;
	do
		sent = argc >= 3 ? sendto(us->base.fd, data, len, 0, (struct sockaddr *)&sin, sizeof(sin))
				 : send(us->base.fd, data, len, 0);
	while (sent < 0 && errno == EINTR);
	if (sent < 0)
		return nd_throw_errno(env, errno, "send()");
	napi_create_uint32(env, (uint32_t)sent, &result);
	return result;
}

/*
 * sendBatch(datagrams[, count]) on a connected socket: sendmmsg, 64 a call.
 * Returns how many were sent; stops early (without throwing) when the socket
 * buffer is full, as a lost ack is harmless to the protocol.
 */
static napi_value send_batch(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2], result;
	udp_socket *us = nd_open_socket(env, info, &argc, argv);
	uint32_t total, done = 0;

	if (us == NULL || nd_get_send_count(env, argc, argv, "sendBatch needs an array of Uint8Arrays", &total) < 0)
		return NULL;
	while (done < total) {
		uint32_t n = total - done > ND_TX_BATCH ? ND_TX_BATCH : total - done;
		int rc;
		if (nd_tx_prepare(env, &us->tx, argv[0], done, n, "sendBatch needs Uint8Arrays", NULL, NULL) < 0)
			return NULL;
		do
			rc = sendmmsg(us->base.fd, us->tx.msgs, n, 0);
		while (rc < 0 && errno == EINTR);
		if (rc < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (rc < 0)
			return nd_throw_errno(env, errno, "send()");
		done += (uint32_t)rc;
		if ((uint32_t)rc < n)
			break;
	}
	napi_create_uint32(env, done, &result);
	return result;
}

napi_value nd_udp_socket_class(napi_env env)
{
	napi_value klass;
	napi_property_descriptor methods[] = {
		METHOD("bind", bind_method),     METHOD("connect", connect_method),
		METHOD("localAddress", local_address), METHOD("recvBatch", recv_batch),
		METHOD("send", send_one),        METHOD("sendBatch", send_batch),
		METHOD("watch", nd_socket_watch_method), METHOD("unwatch", nd_socket_unwatch_method),
		METHOD("close", nd_socket_close_method),
	};

	CHECK(env, napi_define_class(env, "UdpSocket", NAPI_AUTO_LENGTH, construct, NULL,
				     COUNT_OF(methods), methods, &klass));
	return klass;
}
