/*
 * PcapSocket: one interface through libpcap, with the surface the pcap
 * backend needs from PacketSocket: info, gro, stats, send (pcap_inject),
 * recvBatch (pcap_dispatch copying into slots allocated once) and readiness
 * through libuv on pcap's selectable descriptor. Built only when libpcap's
 * headers are present (binding.gyp, HAVE_LIBPCAP).
 *
 * The handle is opened unpromiscuous, in immediate mode, non-blocking and
 * for incoming frames only (PCAP_D_IN), so our own transmits never come back.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "interface_napi.h"

/*
 * libpcap's ring: with offloads on (veth, most NICs) each slot is sized for
 * a 64 KiB frame, so 8 MiB holds about 128 frames.
 */
#define DEFAULT_BUFFER_SIZE (8 * 1024 * 1024)
#define SNAPLEN 65535
#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

typedef struct {
	nd_socket base; /* first: the shared helpers treat this as an nd_socket; fd is pcap's selectable fd */
	pcap_t *pcap;
	int ioctl_fd; /* an AF_INET socket in the interface's namespace, for facts and GRO */
	ps_interface info;
	uint32_t rx_max;  /* the current recvBatch's limit */
	uint32_t rx_kept; /* frames stored by the current recvBatch */
	uint64_t rx_truncated;
} pcap_socket;

static void release(nd_socket *socket)
{
	pcap_socket *ps = (pcap_socket *)socket;

	/* pcap_close closes base.fd: it is the handle's own descriptor. */
	if (ps->pcap != NULL) {
		pcap_close(ps->pcap);
		ps->pcap = NULL;
	}
	if (ps->ioctl_fd >= 0) {
		close(ps->ioctl_fd);
		ps->ioctl_fd = -1;
	}
}

static int fill(ps_error *err, const char *code, int errnum, const char *fmt, const char *name, const char *detail)
{
	snprintf(err->code, sizeof(err->code), "%s", code);
	err->errnum = errnum;
	snprintf(err->message, sizeof(err->message), fmt, name, detail);
	return -1;
}

/* Maps pcap_activate's result to the project's error codes. */
static int activate_error(pcap_t *pcap, int status, const char *ifname, ps_error *err)
{
	const char *detail = pcap_geterr(pcap);

	if (detail == NULL || detail[0] == '\0')
		detail = pcap_statustostr(status);
	switch (status) {
	case PCAP_ERROR_PERM_DENIED:
		return fill(err, "EPERM", EPERM, "opening %s with libpcap needs root or CAP_NET_RAW (%s)", ifname, detail);
	case PCAP_ERROR_NO_SUCH_DEVICE:
		return fill(err, "ENODEV", ENODEV, "no such interface: %s (%s)", ifname, detail);
	case PCAP_ERROR_IFACE_NOT_UP:
		return fill(err, "ENETDOWN", ENETDOWN, "interface %s is down: bring it up first (%s)", ifname, detail);
	default:
		return fill(err, "EIO", EIO, "libpcap cannot open %s: %s", ifname, detail);
	}
}

static int check_usable(const ps_interface *info, ps_error *err)
{
	if (!info->up)
		return fill(err, "ENETDOWN", ENETDOWN, "interface %s is down: bring it up first (%s)", info->name,
			    strerror(ENETDOWN));
	if (!info->running)
		return fill(err, "ENETDOWN", ENETDOWN, "interface %s has no carrier (not running): %s", info->name,
			    strerror(ENETDOWN));
	return 0;
}

/*
 * Everything that depends on the namespace, done inside it on this thread
 * only: the ioctl socket, the facts, and pcap_activate (which creates the
 * packet socket; a socket keeps the namespace it was created in).
 */
static int open_in_namespace(pcap_socket *ps, const char *ifname, int buffer_size, ps_error *err)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	int status;

	ps->ioctl_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (ps->ioctl_fd < 0)
		return fill(err, "EIO", errno, "cannot open a socket to read the facts of %s: %s", ifname, strerror(errno));
	snprintf(ps->info.name, sizeof(ps->info.name), "%s", ifname);
	if (ps_refresh(ps->ioctl_fd, &ps->info, err) < 0)
		return -1;
	/* libpcap cannot activate a down interface anyway (PCAP_ERROR_IFACE_NOT_UP); say why first. */
	if (check_usable(&ps->info, err) < 0)
		return -1;
	ps->pcap = pcap_create(ifname, errbuf);
	if (ps->pcap == NULL)
		return fill(err, "EIO", EIO, "libpcap cannot open %s: %s", ifname, errbuf);
	if (pcap_set_snaplen(ps->pcap, SNAPLEN) != 0 || pcap_set_promisc(ps->pcap, 0) != 0 ||
	    pcap_set_immediate_mode(ps->pcap, 1) != 0 || pcap_set_buffer_size(ps->pcap, buffer_size) != 0)
		return fill(err, "EIO", EIO, "libpcap refused the options for %s: %s", ifname, pcap_geterr(ps->pcap));
	status = pcap_activate(ps->pcap);
	if (status < 0)
		return activate_error(ps->pcap, status, ifname, err);
	/* status > 0 is a warning (e.g. no timestamp type); the handle works. */
	return 0;
}

static int open_pcap(pcap_socket *ps, const char *ifname, const char *netns, int buffer_size, ps_error *err)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	int home_fd, rc;

	if (ifname[0] == '\0' || strlen(ifname) >= IFNAMSIZ)
		return fill(err, "ENODEV", EINVAL, "invalid interface name: '%s' (%s)", ifname, strerror(EINVAL));
	if (ps_enter_namespace(netns, &home_fd, err) < 0)
		return -1;
	rc = open_in_namespace(ps, ifname, buffer_size, err);
	ps_leave_namespace(home_fd);
	if (rc < 0)
		return -1;
	if (pcap_datalink(ps->pcap) != DLT_EN10MB)
		return fill(err, "ENODEV", EPROTONOSUPPORT, "%s is not an Ethernet interface (libpcap link type %s)", ifname,
			    pcap_datalink_val_to_name(pcap_datalink(ps->pcap)));
	if (pcap_setnonblock(ps->pcap, 1, errbuf) < 0)
		return fill(err, "EIO", EIO, "libpcap cannot make %s non-blocking: %s", ifname, errbuf);
	if (pcap_setdirection(ps->pcap, PCAP_D_IN) < 0)
		return fill(err, "EIO", EIO, "libpcap cannot restrict %s to incoming frames: %s", ifname,
			    pcap_geterr(ps->pcap));
	/*
	 * libpcap 1.10 drops outgoing frames in userspace only: other senders'
	 * transmits would still fill its small ring. Ask the kernel not to queue
	 * them (Linux 4.20+; PCAP_D_IN still filters on older kernels).
	 */
	{
		int one = 1;
		(void)setsockopt(pcap_fileno(ps->pcap), SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	}
	ps->base.fd = pcap_get_selectable_fd(ps->pcap);
	if (ps->base.fd < 0)
		return fill(err, "EIO", EIO, "libpcap offers no selectable descriptor for %s%s", ifname, "");
	return 0;
}

/* new PcapSocket(ifname, { netns, rxSlots, bufferSize }) */
static napi_value construct(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2] = { NULL, NULL }, self;
	char ifname[64], netns[256];
	const char *ns;
	ps_error err = { .code = "EIO" };
	pcap_socket *ps;
	nd_rx_buffers *rx;
	uint32_t buffer_size;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, &self, NULL));
	if (argc < 1 || nd_get_string(env, argv[0], ifname, sizeof(ifname)) < 0)
		return nd_throw(env, "ENODEV", EINVAL, "PcapSocket needs an interface name (at most 15 characters)");
	if (nd_get_netns_option(env, argv[1], netns, sizeof(netns), &ns) < 0)
		return NULL;
	buffer_size = nd_get_uint32_option(env, argv[1], "bufferSize", DEFAULT_BUFFER_SIZE);
	if (buffer_size < 65536 || buffer_size > (1u << 30))
		buffer_size = DEFAULT_BUFFER_SIZE;

	ps = calloc(1, sizeof(*ps));
	if (ps == NULL)
		return nd_throw(env, "ENOBUFS", ENOMEM, "out of memory");
	ps->base.kind = "pcap socket";
	ps->base.fd = -1;
	ps->base.release = release;
	ps->ioctl_fd = -1;
	if (open_pcap(ps, ifname, ns, (int)buffer_size, &err) < 0) {
		release(&ps->base);
		free(ps);
		return nd_throw_ps_error(env, &err);
	}
	rx = &ps->base.rx;
	/* The slots keep room for one VLAN tag: libpcap puts tags back into the frame. */
	nd_rx_size_for_frames(env, argv[1], &ps->info, rx);
	rx->address_size = 0; /* pcap_dispatch fills the slots; no msghdr addresses or control data */
	rx->control_size = 0;
	return nd_socket_wrap(env, self, &ps->base);
}

static napi_value interface_info(napi_env env, napi_callback_info info)
{
	pcap_socket *ps = nd_open_socket(env, info, NULL, NULL);
	return ps == NULL ? NULL : nd_interface_info(env, ps->ioctl_fd, &ps->info);
}

/* stats(): libpcap's counters since open (cumulative, unlike PacketSocket's). */
static napi_value socket_stats(napi_env env, napi_callback_info info)
{
	pcap_socket *ps = nd_open_socket(env, info, NULL, NULL);
	struct pcap_stat stats = { 0 };

	if (ps == NULL)
		return NULL;
	(void)pcap_stats(ps->pcap, &stats);
	/* libpcap drops our outgoing frames itself: none to count as skipped. */
	return nd_stats_object(env, stats.ps_recv, stats.ps_drop, ps->rx_truncated, 0);
}

/* link(): the interface's PS_LINK_UP | PS_LINK_RUNNING bits, as PacketSocket's. */
static napi_value link_flags(napi_env env, napi_callback_info info)
{
	pcap_socket *ps = nd_open_socket(env, info, NULL, NULL);
	return ps == NULL ? NULL : nd_interface_link(env, ps->ioctl_fd, ps->info.name);
}

/* gro(): the GRO setting; gro(enabled): change it (through ethtool, as PacketSocket does). */
static napi_value gro(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1];
	pcap_socket *ps = nd_open_socket(env, info, &argc, argv);
	return ps == NULL ? NULL : nd_interface_gro(env, ps->ioctl_fd, ps->info.name, argc, argv);
}

/* A failed pcap_inject: libpcap keeps send(2)'s errno; map it as PacketSocket does. */
static napi_value throw_pcap_error(napi_env env, pcap_socket *ps, int errnum, const char *what)
{
	char message[512];

	if (errnum != 0 && errnum != EIO)
		return nd_throw_send_error(env, errnum, ps->info.name);
	snprintf(message, sizeof(message), "%s on %s failed: %s", what, ps->info.name, pcap_geterr(ps->pcap));
	return nd_throw(env, "EIO", EIO, message);
}

static napi_value send_one(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], result;
	pcap_socket *ps = nd_open_socket(env, info, &argc, argv);
	void *data;
	size_t len;
	int sent;

	if (ps == NULL || nd_get_frame(env, argc, argv, &ps->info, &data, &len) < 0)
		return NULL;
	do {
		errno = 0;
		sent = pcap_inject(ps->pcap, data, len);
	} while (sent < 0 && errno == EINTR);
	if (sent < 0)
		return throw_pcap_error(env, ps, errno, "send");
	napi_create_uint32(env, (uint32_t)sent, &result);
	return result;
}

/* pcap_dispatch's callback: copies one frame into the next free slot. No allocation. */
static void store_frame(u_char *user, const struct pcap_pkthdr *header, const u_char *bytes)
{
	pcap_socket *ps = (pcap_socket *)user;
	nd_rx_buffers *rx = &ps->base.rx;
	uint32_t slot = ps->rx_kept;

	if (slot >= ps->rx_max)
		return; /* cannot happen: pcap_dispatch is given at most rx_max */
	if (header->caplen < header->len || header->caplen > rx->slot_size) {
		ps->rx_truncated++;
		return;
	}
	memcpy(rx->data + (size_t)slot * rx->slot_size, bytes, header->caplen);
	rx->results[ND_FRAME_RESULT_FIELDS * slot] = slot;
	rx->results[ND_FRAME_RESULT_FIELDS * slot + 1] = header->caplen;
	rx->results[ND_FRAME_RESULT_FIELDS * slot + 2] = 0; /* flags: libpcap does not pass Linux's aux data */
	ps->rx_kept++;
}

/*
 * recvBatch(max): non-blocking pcap_dispatch into the preallocated slots.
 * Writes (slot, length, flags) triples to rxResults and returns how many
 * frames were stored; libpcap drops our outgoing frames (PCAP_D_IN).
 */
static napi_value recv_batch(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], result;
	pcap_socket *ps = nd_open_socket(env, info, &argc, argv);
	uint32_t max = 0;
	nd_rx_buffers *rx;
	int n;

	if (ps == NULL)
		return NULL;
	rx = &ps->base.rx;
	if (nd_get_batch_max(env, argc, argv, rx, &max) < 0)
		return NULL;
	ps->rx_max = max;
	ps->rx_kept = 0;
	/* One call drains up to max frames; a truncated one counts against max, as with recvmmsg. */
	n = pcap_dispatch(ps->pcap, (int)max, store_frame, (u_char *)ps);
	if (n < 0 && n != PCAP_ERROR_BREAK) {
		ps_error err;
		if (ps_refresh(ps->ioctl_fd, &ps->info, &err) == 0 && (!ps->info.up || !ps->info.running))
			return nd_throw_send_error(env, ENETDOWN, ps->info.name);
		return throw_pcap_error(env, ps, 0, "receive");
	}
	napi_create_uint32(env, ps->rx_kept, &result);
	return result;
}

napi_value nd_pcap_socket_class(napi_env env)
{
	napi_value klass;
	napi_property_descriptor methods[] = {
		METHOD("info", interface_info), METHOD("stats", socket_stats), METHOD("gro", gro), METHOD("link", link_flags),
		METHOD("send", send_one),       METHOD("recvBatch", recv_batch),
		METHOD("watch", nd_socket_watch_method), METHOD("unwatch", nd_socket_unwatch_method),
		METHOD("close", nd_socket_close_method),
	};

	CHECK(env, napi_define_class(env, "PcapSocket", NAPI_AUTO_LENGTH, construct, NULL,
				     COUNT_OF(methods), methods, &klass));
	return klass;
}

napi_value nd_pcap_version(napi_env env)
{
	napi_value value;
	CHECK(env, napi_create_string_utf8(env, pcap_lib_version(), NAPI_AUTO_LENGTH, &value));
	return value;
}
