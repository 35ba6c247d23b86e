/* See rx_ring.h. */
#define _GNU_SOURCE
#include "rx_ring.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define BLOCK_BYTES (128 * 1024) /* a multiple of any page size up to 128 KiB */
/* What the kernel puts in front of the frame: the header, the address, and alignment padding. */
#define FRAME_OVERHEAD TPACKET_ALIGN(TPACKET2_HDRLEN + 16)

static uint32_t round_up(uint32_t value, uint32_t multiple)
{
	return (value + multiple - 1) / multiple * multiple;
}

int rx_ring_open(int fd, uint32_t frame_bytes, uint32_t ring_bytes, nd_rx_ring *ring)
{
	int version = TPACKET_V2;
	struct tpacket_req request = { 0 };
	uint32_t page_size = (uint32_t)sysconf(_SC_PAGESIZE);
	uint32_t frame_size = TPACKET_ALIGN(FRAME_OVERHEAD + frame_bytes);
	uint32_t block_size = frame_size > BLOCK_BYTES ? round_up(frame_size, page_size) : BLOCK_BYTES;
	uint32_t block_count = (uint32_t)(((uint64_t)ring_bytes + block_size - 1) / block_size);
	void *map;

	memset(ring, 0, sizeof(*ring));
	request.tp_block_size = block_size;
	request.tp_block_nr = block_count > 0 ? block_count : 1;
	request.tp_frame_size = frame_size;
	request.tp_frame_nr = (block_size / frame_size) * request.tp_block_nr;
	if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof(version)) < 0)
		return -1;
	if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &request, sizeof(request)) < 0) {
		int saved = errno, first = TPACKET_V1;
		(void)setsockopt(fd, SOL_PACKET, PACKET_VERSION, &first, sizeof(first));
		errno = saved;
		return -1;
	}
	map = mmap(NULL, (size_t)block_size * request.tp_block_nr, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		int saved = errno;
		struct tpacket_req none = { 0 };
		(void)setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &none, sizeof(none));
		errno = saved;
		return -1;
	}
	ring->map = map;
	ring->map_size = (size_t)block_size * request.tp_block_nr;
	ring->block_size = block_size;
	ring->frame_size = frame_size;
	ring->frames_per_block = block_size / frame_size;
	ring->frame_count = request.tp_frame_nr;
	return 0;
}

void rx_ring_close(nd_rx_ring *ring)
{
	if (ring->map != NULL)
		munmap(ring->map, ring->map_size);
	ring->map = NULL;
}

/* Frames never straddle blocks, and every block starts with a frame. */
static struct tpacket2_hdr *frame_at(const nd_rx_ring *ring, uint32_t index)
{
	return (struct tpacket2_hdr *)(ring->map + (size_t)(index / ring->frames_per_block) * ring->block_size +
				       (size_t)(index % ring->frames_per_block) * ring->frame_size);
}

struct tpacket2_hdr *rx_ring_peek(nd_rx_ring *ring)
{
	struct tpacket2_hdr *frame = frame_at(ring, ring->next);
	/* Acquire: the frame's bytes are read only after its status says they are ours. */
	if ((__atomic_load_n(&frame->tp_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) == 0)
		return NULL;
	return frame;
}

void rx_ring_release(nd_rx_ring *ring, struct tpacket2_hdr *frame)
{
	__atomic_store_n(&frame->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
	ring->next = (ring->next + 1) % ring->frame_count;
}

const struct sockaddr_ll *rx_ring_address(const struct tpacket2_hdr *frame)
{
	return (const struct sockaddr_ll *)((const uint8_t *)frame + TPACKET_ALIGN(sizeof(struct tpacket2_hdr)));
}
