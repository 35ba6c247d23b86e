#ifndef NETDUMP_PACKET_SOCKET_H
#define NETDUMP_PACKET_SOCKET_H

#include <stdint.h>

typedef struct {
	char code[16];     /* errno-like name: EPERM, ENODEV, ENETDOWN, ... */
	int errnum;        /* the system errno behind it, 0 if none */
	char message[512]; /* for a person */
} ps_error;

typedef struct {
	char name[16];
	int ifindex;
	uint8_t mac[6];
	int mtu;
	int up;
	int running;
	char driver[32]; /* the Linux driver's name, from ethtool; "" if unknown */
	int rx_queues;     /* RX queues in use (ethtool channels), 1 if the driver does not say */
	int max_rx_queues; /* the most RX queues the device can have, 1 if the driver does not say */
} ps_interface;

typedef struct {
	const char *ifname;
	const char *netns;  /* name under /var/run/netns, a path, or NULL */
	uint16_t ethertype; /* ETH_P_ALL for every EtherType */
	int allow_down;     /* open even when not UP+RUNNING (for reading facts) */
} ps_options;

/* Returns a bound AF_PACKET socket, or -1 with err filled in. */
int ps_open(const ps_options *opts, ps_interface *info, ps_error *err);
/* Re-reads MTU, flags, MAC and driver of an open interface. */
int ps_refresh(int fd, ps_interface *info, ps_error *err);
/* Fills err for a failed send; returns -1. */
int ps_send_error(ps_error *err, int errnum, const char *ifname);
/*
 * Enters a network namespace (a name under /var/run/netns or a path; NULL
 * or "" for none) on the calling thread only; leave with the returned fd.
 */
int ps_enter_namespace(const char *netns, int *home_fd, ps_error *err);
void ps_leave_namespace(int home_fd);
/* Link state bits, read with one ioctl: cheap enough for every poll. */
#define PS_LINK_UP 1
#define PS_LINK_RUNNING 2
int ps_link_flags(int fd, const char *ifname, int *flags, ps_error *err);
/* Reads or changes the interface's GRO (generic receive offload) setting. */
int ps_get_gro(int fd, const char *ifname, int *enabled, ps_error *err);
int ps_set_gro(int fd, const char *ifname, int enabled, ps_error *err);
/* Busy-waits like the kernel's DELAY(). */
void ps_delay_us(unsigned int usec);

#endif
