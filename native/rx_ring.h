/*
 * A PACKET_RX_RING (TPACKET_V2): the kernel writes received frames into
 * memory we share with it, as a NIC writes its receive descriptors, so a
 * poll that finds nothing, or finds a few acks, makes no system call.
 */
#ifndef ND_RX_RING_H
#define ND_RX_RING_H

#include <linux/if_packet.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
	uint8_t *map; /* NULL when the socket has no ring */
	size_t map_size;
	uint32_t block_size;
	uint32_t frame_size;
	uint32_t frames_per_block;
	uint32_t frame_count;
	uint32_t next; /* the frame the kernel fills next, in order */
} nd_rx_ring;

/*
 * Gives fd a ring of about ring_bytes whose frames hold frame_bytes of
 * Ethernet frame each. 0 on success; -1 with errno set, leaving the socket
 * as it was (recvmmsg still works).
 */
int rx_ring_open(int fd, uint32_t frame_bytes, uint32_t ring_bytes, nd_rx_ring *ring);
void rx_ring_close(nd_rx_ring *ring);
/* The oldest frame the kernel has handed over, or NULL if there is none yet. */
struct tpacket2_hdr *rx_ring_peek(nd_rx_ring *ring);
/* Hands the frame rx_ring_peek returned back to the kernel. */
void rx_ring_release(nd_rx_ring *ring, struct tpacket2_hdr *frame);
/* The frame's source address, which says whether the frame was our own outgoing one. */
const struct sockaddr_ll *rx_ring_address(const struct tpacket2_hdr *frame);

#endif
