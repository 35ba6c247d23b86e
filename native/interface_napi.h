#ifndef NETDUMP_INTERFACE_NAPI_H
#define NETDUMP_INTERFACE_NAPI_H

/*
 * What PacketSocket and PcapSocket share: both carry raw Ethernet frames on
 * one interface, so they report its facts, check frames, change GRO, count
 * and size their receive slots the same way.
 */
#include "napi_util.h"
#include "packet_socket.h"

#define ND_ETHER_HEADER_LEN 14
#define ND_FRAME_RESULT_FIELDS 3 /* slot, length, flags */

/* Throws err's code, errno and message; returns NULL. */
napi_value nd_throw_ps_error(napi_env env, const ps_error *err);
/* Throws what a failed send (errno errnum) on the interface means; returns NULL. */
napi_value nd_throw_send_error(napi_env env, int errnum, const char *ifname);

/* { name, ifindex, mac, mtu, up, running, driver } */
napi_value nd_interface_object(napi_env env, const ps_interface *info);
/* info(): re-reads the facts through fd (a socket in the interface's namespace), then as above. */
napi_value nd_interface_info(napi_env env, int fd, ps_interface *info);
/* link(): PS_LINK_UP | PS_LINK_RUNNING bits, from one ioctl. */
napi_value nd_interface_link(napi_env env, int fd, const char *ifname);
/* gro([enabled]) with the method's arguments: changes the setting if asked, then reads it. */
napi_value nd_interface_gro(napi_env env, int fd, const char *ifname, size_t argc, napi_value *argv);
/* stats(): kernel counters as the socket reads them, and the frames we skipped. */
napi_value nd_stats_object(napi_env env, uint32_t kernel_received, uint32_t kernel_dropped, uint64_t truncated,
			   uint64_t outgoing_skipped);

/* -1 with an exception pending if a frame of len bytes cannot go out on the interface. */
int nd_check_frame_size(napi_env env, const ps_interface *info, size_t len);
/* send(frame)'s frame; -1 with an exception pending if it is missing or cannot go out on the interface. */
int nd_get_frame(napi_env env, size_t argc, napi_value *argv, const ps_interface *info, void **data, size_t *len);
/*
 * Slots (the rxSlots option) sized for the interface's frames, with
 * (slot, length, flags) results; address_size and control_size are the
 * caller's.
 */
void nd_rx_size_for_frames(napi_env env, napi_value options, const ps_interface *info, nd_rx_buffers *rx);

#endif
