/*
 * A fixed-window netdump sender for benchmarks, over a kernel UDP socket:
 * HERALD to server:20023, then the dump as VMCORE packets with up to W of
 * them unacked at any time, across the kernel's 64 KiB batch boundaries
 * (netdumpd acks every packet on its own and writes at offsets, so nothing
 * needs the batches). Acks are taken by busy polling with recvmmsg; a packet
 * unacked after RESEND_SECONDS is sent again. Then FINISHED. The dump holds
 * the same pattern as netdump-sender's, so a receiver's file can be checked.
 *   window-sender <client-ip> <server-ip> <bytes> <window> [payload-bytes]
 * Prints one JSON line: bytes, seconds (first VMCORE to last VMCORE ack),
 * packets, retransmitted packets, window, polls (recvmmsg calls).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "netdump-common.h"

#define MAX_WINDOW 1024
#define ACKS_PER_POLL 64
#define RESEND_SECONDS 0.02

static uint8_t slots[MAX_WINDOW][HEADER + 4096];
static uint32_t slot_length[MAX_WINDOW];
static double sent_at[MAX_WINDOW];
static uint8_t acked[MAX_WINDOW];

struct dump {
	uint64_t total;
	uint32_t payload;
	uint32_t first_seq;
};

/* Builds packet `index` (0-based) of the dump into its slot. */
static void build(const struct dump *dump, uint64_t index)
{
	uint32_t slot = (uint32_t)(index % MAX_WINDOW);
	uint64_t offset = index * dump->payload;
	uint32_t len = (uint32_t)(dump->total - offset < dump->payload ? dump->total - offset : dump->payload);

	fill_header(slots[slot], NETDUMP_VMCORE, dump->first_seq + (uint32_t)index, offset, len);
	fill_pattern(slots[slot] + HEADER, offset, len);
	slot_length[slot] = HEADER + len;
	acked[slot] = 0;
}

static int send_slot(int fd, uint64_t index)
{
	uint32_t slot = (uint32_t)(index % MAX_WINDOW);

	sent_at[slot] = now();
	return send(fd, slots[slot], slot_length[slot], 0) < 0 && errno != ENOBUFS && errno != EAGAIN ? -1 : 0;
}

int main(int argc, char **argv)
{
	static uint8_t ack_data[ACKS_PER_POLL][64];
	struct mmsghdr acks[ACKS_PER_POLL];
	struct iovec ack_iov[ACKS_PER_POLL];
	struct dump dump = { .first_seq = 2 };
	uint64_t packets, base = 0, next = 0;
	long retransmits = 0, polls = 0;
	int fd, window;

	dump.payload = argc > 5 ? (uint32_t)atoi(argv[5]) : 1448;
	window = argc > 4 ? atoi(argv[4]) : 0;
	if (argc < 5 || window < 1 || window > MAX_WINDOW || dump.payload < 8 || dump.payload > 4096 || dump.payload % 8 != 0) {
		fprintf(stderr, "usage: window-sender <client-ip> <server-ip> <bytes> <window, 1-%d> [payload-bytes, multiple of 8]\n",
			MAX_WINDOW);
		return 2;
	}
	dump.total = strtoull(argv[3], NULL, 10);
	packets = (dump.total + dump.payload - 1) / dump.payload;
	fd = open_session("window-sender", argv[1], argv[2]);
	if (fd < 0)
		return -fd;
	for (int i = 0; i < ACKS_PER_POLL; i++) {
		ack_iov[i].iov_base = ack_data[i];
		ack_iov[i].iov_len = sizeof(ack_data[i]);
		memset(&acks[i], 0, sizeof(acks[i]));
		acks[i].msg_hdr.msg_iov = &ack_iov[i];
		acks[i].msg_hdr.msg_iovlen = 1;
	}
	double start = now();
	while (base < packets) {
		for (; next < packets && next - base < (uint64_t)window; next++) {
			build(&dump, next);
			if (send_slot(fd, next) < 0) {
				perror("window-sender: send");
				return 1;
			}
		}
		int r = recvmmsg(fd, acks, ACKS_PER_POLL, MSG_DONTWAIT, NULL);
		if (r < 0 && errno != EAGAIN) {
			perror("window-sender: recvmmsg");
			return 1;
		}
		polls++;
		for (int i = 0; i < r; i++) {
			uint64_t index = (uint32_t)(ntohl(*(uint32_t *)ack_data[i]) - dump.first_seq);
			if (acks[i].msg_len == 4 && index >= base && index < next)
				acked[index % MAX_WINDOW] = 1;
		}
		while (base < next && acked[base % MAX_WINDOW])
			base++;
		double t = now();
		for (uint64_t index = base; index < next; index++) {
			if (!acked[index % MAX_WINDOW] && t - sent_at[index % MAX_WINDOW] > RESEND_SECONDS) {
				if (send_slot(fd, index) < 0) {
					perror("window-sender: send");
					return 1;
				}
				retransmits++;
			}
		}
	}
	double seconds = now() - start;
	send_finished(fd, dump.first_seq + (uint32_t)packets);
	printf("{\"bytes\":%llu,\"seconds\":%.6f,\"packets\":%llu,\"retransmits\":%ld,\"window\":%d,\"polls\":%ld}\n",
	       (unsigned long long)dump.total, seconds, (unsigned long long)packets, retransmits, window, polls);
	return 0;
}
