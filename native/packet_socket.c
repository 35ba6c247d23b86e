/*
 * The AF_PACKET side of the addon: everything that touches the kernel for
 * the dump path. Plain C with no Node-API so that the benchmark's C blast
 * and the addon share one implementation of "open an interface".
 */
#define _GNU_SOURCE
#include "packet_socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_packet.h>
#include <linux/sockios.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

static int fail(ps_error *err, const char *code, int errnum, const char *fmt, const char *arg)
{
	snprintf(err->code, sizeof(err->code), "%s", code);
	err->errnum = errnum;
	snprintf(err->message, sizeof(err->message), fmt, arg, strerror(errnum));
	return -1;
}

/* Maps the errno of a send to the error a person can act on. */
int ps_send_error(ps_error *err, int errnum, const char *ifname)
{
	switch (errnum) {
	case ENETDOWN:
	case ENXIO:
		return fail(err, "ENETDOWN", errnum, "interface %s is down (%s)", ifname);
	case EMSGSIZE:
		return fail(err, "EMSGSIZE", errnum, "frame larger than the MTU of %s (%s)", ifname);
	case ENOBUFS:
		return fail(err, "ENOBUFS", errnum, "no buffer space to send on %s (%s)", ifname);
	default:
		return fail(err, "EIO", errnum, "send on %s failed: %s", ifname);
	}
}

static int namespace_path(char *out, size_t size, const char *netns)
{
	if (strchr(netns, '/') != NULL)
		return snprintf(out, size, "%s", netns) >= (int)size ? -1 : 0;
	return snprintf(out, size, "/var/run/netns/%s", netns) >= (int)size ? -1 : 0;
}

/*
 * Enters the named network namespace on the calling thread only. A socket
 * keeps the namespace it was created in, so the caller can return home
 * right after socket() and still use the interface.
 */
int ps_enter_namespace(const char *netns, int *home_fd, ps_error *err)
{
	char path[256];
	int target_fd;

	*home_fd = -1;
	if (netns == NULL || netns[0] == '\0')
		return 0;
	if (namespace_path(path, sizeof(path), netns) < 0)
		return fail(err, "EINVAL", ENAMETOOLONG, "network namespace name too long: %s (%s)", netns);
	target_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (target_fd < 0)
		return fail(err, errno == ENOENT ? "ENOENT" : "EPERM", errno,
			    "cannot open network namespace %s: %s", path);
	*home_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*home_fd < 0) {
		close(target_fd);
		return fail(err, "EPERM", errno, "cannot open this thread's network namespace%s: %s", "");
	}
	if (setns(target_fd, CLONE_NEWNET) < 0) {
		int saved = errno;
		close(target_fd);
		close(*home_fd);
		*home_fd = -1;
		return fail(err, "EPERM", saved, "cannot enter network namespace %s (needs root): %s", path);
	}
	close(target_fd);
	return 0;
}

void ps_leave_namespace(int home_fd)
{
	if (home_fd < 0)
		return;
	/* Staying in the wrong namespace would silently misroute everything after. */
	if (setns(home_fd, CLONE_NEWNET) < 0) {
		perror("netdump: cannot return to the original network namespace");
		abort();
	}
	close(home_fd);
}

/*
 * RX queues from ethtool's channels: drivers count them as RX-only or as
 * combined channels, some (veth in 5.13) as both at once, so the larger of
 * the two is the count. A driver without get_channels has one queue.
 */
static int larger(unsigned int a, unsigned int b)
{
	return (int)(a > b ? a : b);
}

static void read_rx_queues(int fd, struct ifreq *ifr, ps_interface *info)
{
	struct ethtool_channels channels;

	memset(&channels, 0, sizeof(channels));
	channels.cmd = ETHTOOL_GCHANNELS;
	ifr->ifr_data = (void *)&channels;
	info->rx_queues = 1;
	info->max_rx_queues = 1;
	if (ioctl(fd, SIOCETHTOOL, ifr) < 0)
		return;
	if (channels.rx_count > 0 || channels.combined_count > 0)
		info->rx_queues = larger(channels.rx_count, channels.combined_count);
	if (channels.max_rx > 0 || channels.max_combined > 0)
		info->max_rx_queues = larger(channels.max_rx, channels.max_combined);
	if (info->max_rx_queues < info->rx_queues)
		info->max_rx_queues = info->rx_queues;
}

static int read_interface_facts(int fd, const char *ifname, ps_interface *info, ps_error *err)
{
	struct ifreq ifr;
	struct ethtool_drvinfo drvinfo;
	int flags;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
	if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0)
		return fail(err, "ENODEV", errno, "no such interface: %s (%s)", ifname);
	info->ifindex = ifr.ifr_ifindex;

	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		return fail(err, "ENODEV", errno, "cannot read the MAC address of %s: %s", ifname);
	if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
		errno = EPROTONOSUPPORT;
		return fail(err, "ENODEV", errno, "%s is not an Ethernet interface (%s)", ifname);
	}
	memcpy(info->mac, ifr.ifr_hwaddr.sa_data, 6);

	if (ioctl(fd, SIOCGIFMTU, &ifr) < 0)
		return fail(err, "ENODEV", errno, "cannot read the MTU of %s: %s", ifname);
	info->mtu = ifr.ifr_mtu;

	if (ps_link_flags(fd, ifname, &flags, err) < 0)
		return -1;
	info->up = (flags & PS_LINK_UP) != 0;
	info->running = (flags & PS_LINK_RUNNING) != 0;

	memset(&drvinfo, 0, sizeof(drvinfo));
	drvinfo.cmd = ETHTOOL_GDRVINFO;
	ifr.ifr_data = (void *)&drvinfo;
	if (ioctl(fd, SIOCETHTOOL, &ifr) == 0)
		snprintf(info->driver, sizeof(info->driver), "%s", drvinfo.driver);
	else
		info->driver[0] = '\0';
	read_rx_queues(fd, &ifr, info);
	snprintf(info->name, sizeof(info->name), "%s", ifname);
	return 0;
}

static int bind_to_interface(int fd, int ifindex, uint16_t ethertype, const char *ifname, ps_error *err)
{
	struct sockaddr_ll sll;
	int one = 1;

	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ethertype);
	sll.sll_ifindex = ifindex;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		return fail(err, "ENODEV", errno, "cannot bind a packet socket to %s: %s", ifname);
	/* Older kernels lack it; recv also drops PACKET_OUTGOING frames itself. */
	(void)setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	return 0;
}

static int check_usable(const ps_interface *info, ps_error *err)
{
	if (!info->up)
		return fail(err, "ENETDOWN", ENETDOWN, "interface %s is down: bring it up first (%s)", info->name);
	if (!info->running)
		return fail(err, "ENETDOWN", ENETDOWN, "interface %s has no carrier (not running): %s", info->name);
	return 0;
}

static int create_socket(ps_error *err)
{
	/* Protocol 0: nothing is queued until bind() names the interface. */
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0 && (errno == EPERM || errno == EACCES))
		return fail(err, "EPERM", errno, "opening a packet socket needs root or CAP_NET_RAW%s (%s)", "");
	if (fd < 0)
		return fail(err, "EIO", errno, "cannot open a packet socket%s: %s", "");
	return fd;
}

int ps_open(const ps_options *opts, ps_interface *info, ps_error *err)
{
	int home_fd, fd;

	memset(info, 0, sizeof(*info));
	if (opts->ifname == NULL || opts->ifname[0] == '\0' || strlen(opts->ifname) >= IFNAMSIZ)
		return fail(err, "ENODEV", EINVAL, "invalid interface name: '%s' (%s)",
			    opts->ifname ? opts->ifname : "");
	if (ps_enter_namespace(opts->netns, &home_fd, err) < 0)
		return -1;
	fd = create_socket(err);
	ps_leave_namespace(home_fd);
	if (fd < 0)
		return -1;
	if (read_interface_facts(fd, opts->ifname, info, err) < 0 ||
	    (!opts->allow_down && check_usable(info, err) < 0) ||
	    bind_to_interface(fd, info->ifindex, opts->ethertype, opts->ifname, err) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int ps_refresh(int fd, ps_interface *info, ps_error *err)
{
	char name[IFNAMSIZ];
	snprintf(name, sizeof(name), "%s", info->name);
	return read_interface_facts(fd, name, info, err);
}

void ps_delay_us(unsigned int usec)
{
	struct timespec now, until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_nsec += (long)(usec % 1000000) * 1000;
	until.tv_sec += usec / 1000000 + until.tv_nsec / 1000000000;
	until.tv_nsec %= 1000000000;
	do {
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec < until.tv_sec || (now.tv_sec == until.tv_sec && now.tv_nsec < until.tv_nsec));
}

int ps_link_flags(int fd, const char *ifname, int *flags, ps_error *err)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return fail(err, "ENODEV", errno, "cannot read the flags of %s: %s", ifname);
	*flags = ((ifr.ifr_flags & IFF_UP) ? PS_LINK_UP : 0) | ((ifr.ifr_flags & IFF_RUNNING) ? PS_LINK_RUNNING : 0);
	return 0;
}

/* GRO (Linux's receive offload, the counterpart of FreeBSD's LRO) through ethtool. */
int ps_get_gro(int fd, const char *ifname, int *enabled, ps_error *err)
{
	struct ifreq ifr;
	struct ethtool_value value = { .cmd = ETHTOOL_GGRO };

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
	ifr.ifr_data = (void *)&value;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0)
		return fail(err, "EIO", errno, "cannot read the GRO setting of %s: %s", ifname);
	*enabled = value.data != 0;
	return 0;
}

int ps_set_gro(int fd, const char *ifname, int enabled, ps_error *err)
{
	struct ifreq ifr;
	struct ethtool_value value = { .cmd = ETHTOOL_SGRO, .data = enabled ? 1 : 0 };

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
	ifr.ifr_data = (void *)&value;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0)
		return fail(err, errno == EPERM ? "EPERM" : "EIO", errno, "cannot change the GRO setting of %s: %s", ifname);
	return 0;
}
