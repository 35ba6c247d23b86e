/*
 * A kernel-style netdump sender for benchmarks, over a kernel UDP socket:
 * HERALD to server:20023, then the dump as VMCORE in batches of 64 KiB
 * (46 x 1448-byte packets at MTU 1500) sent back to back, then waiting for
 * the batch's acks, either busy-polling (default) or with -k as the kernel
 * does: drain the acks that wait, spin 500 us, repeat. Unacked packets are
 * resent after 200 ms. Then FINISHED. Every 8-byte word of the dump holds
 * its own offset, so the receiver's file can be verified.
 *   netdump-sender [-k] <client-ip> <server-ip> <bytes> [payload-bytes]
 * Prints one JSON line: bytes, seconds (first VMCORE to last VMCORE ack),
 * packets, retransmitted packets, batches, polls (ack-draining passes).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "netdump-common.h"

#define BATCH_BYTES 65536
#define MAX_PACKETS 64
#define RETRY_SECONDS 0.2

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The time per batch's distribution, in microseconds, as a JSON object. */
static void print_batch_times(double *times, long count)
{
	double sum = 0;

	if (count == 0) {
		printf("{\"mean\":0,\"p50\":0,\"p99\":0,\"max\":0}");
		return;
	}
	for (long i = 0; i < count; i++)
		sum += times[i];
	qsort(times, count, sizeof(*times), compare_doubles);
	printf("{\"mean\":%.1f,\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f}", sum / count * 1e6, times[count / 2] * 1e6,
	    times[(long)((count - 1) * 0.99)] * 1e6, times[count - 1] * 1e6);
}

int main(int argc, char **argv)
{
	static uint8_t packets[MAX_PACKETS][HEADER + 4096];
	struct mmsghdr msgs[MAX_PACKETS];
	struct iovec iov[MAX_PACKETS];
	static uint8_t ack_data[MAX_PACKETS][64];
	struct mmsghdr acks[MAX_PACKETS];
	struct iovec ack_iov[MAX_PACKETS];
	uint64_t total, sent_bytes = 0;
	uint32_t payload, seq = 2;
	long retransmits = 0, batches = 0, packet_count = 0, polls = 0;
	double start;
	int fd, kernel_wait = 0;

	if (argc > 1 && strcmp(argv[1], "-k") == 0) {
		kernel_wait = 1;
		argc--;
		argv++;
	}
	payload = argc > 4 ? (uint32_t)atoi(argv[4]) : 1448;
	if (argc < 4 || payload < 8 || payload > 4096 || payload % 8 != 0) {
		fprintf(stderr, "usage: netdump-sender [-k] <client-ip> <server-ip> <bytes> [payload-bytes, multiple of 8]\n");
		return 2;
	}
	total = strtoull(argv[3], NULL, 10);
	fd = open_session("netdump-sender", argv[1], argv[2]);
	if (fd < 0)
		return -fd;
	double *batch_times = malloc(sizeof(double) * (total / BATCH_BYTES + 1));
	if (batch_times == NULL) {
		perror("netdump-sender: malloc");
		return 1;
	}
	for (int i = 0; i < MAX_PACKETS; i++) {
		ack_iov[i].iov_base = ack_data[i];
		ack_iov[i].iov_len = sizeof(ack_data[i]);
		memset(&acks[i], 0, sizeof(acks[i]));
		acks[i].msg_hdr.msg_iov = &ack_iov[i];
		acks[i].msg_hdr.msg_iovlen = 1;
	}
	start = now();
	while (sent_bytes < total) {
		double batch_start = now();
		uint64_t batch = total - sent_bytes < BATCH_BYTES ? total - sent_bytes : BATCH_BYTES;
		uint32_t n = (uint32_t)((batch + payload - 1) / payload), acked = 0;
		uint8_t got[MAX_PACKETS] = { 0 };
		for (uint32_t i = 0; i < n; i++) {
			uint32_t len = (uint32_t)(batch - (uint64_t)i * payload < payload ? batch - (uint64_t)i * payload : payload);
			fill_header(packets[i], NETDUMP_VMCORE, seq + i, sent_bytes + (uint64_t)i * payload, len);
			fill_pattern(packets[i] + HEADER, sent_bytes + (uint64_t)i * payload, len);
			iov[i].iov_base = packets[i];
			iov[i].iov_len = HEADER + len;
			memset(&msgs[i], 0, sizeof(msgs[i]));
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		sendmmsg(fd, msgs, n, 0);
		double deadline = now() + RETRY_SECONDS;
		while (acked < n) {
			/*
			 * One poll takes the acks that wait, in one recvmmsg, as the
			 * kernel's rxeof takes the ring's ready descriptors. A recv()
			 * per ack made a poll last as long as the server kept acking.
			 */
			int r = recvmmsg(fd, acks, MAX_PACKETS, MSG_DONTWAIT, NULL);
			if (r < 0 && errno != EAGAIN) {
				perror("netdump-sender: recvmmsg");
				return 1;
			}
			for (int i = 0; i < r; i++) {
				uint32_t a = ntohl(*(uint32_t *)ack_data[i]);
				if (acks[i].msg_len == 4 && a >= seq && a < seq + n && !got[a - seq]) {
					got[a - seq] = 1;
					acked++;
				}
			}
			polls++;
			if (kernel_wait)
				spin_us(500); /* the kernel's DELAY(500) after every poll */
			if (acked < n && now() > deadline) {
				for (uint32_t i = 0; i < n; i++)
					if (!got[i]) {
						send(fd, packets[i], iov[i].iov_len, 0);
						retransmits++;
					}
				deadline = now() + RETRY_SECONDS;
			}
		}
		seq += n;
		sent_bytes += batch;
		packet_count += n;
		batch_times[batches++] = now() - batch_start;
	}
	double seconds = now() - start;
	send_finished(fd, seq);
	printf("{\"bytes\":%llu,\"seconds\":%.6f,\"packets\":%ld,\"retransmits\":%ld,\"batches\":%ld,\"polls\":%ld,\"batchMicros\":",
	       (unsigned long long)total, seconds, packet_count, retransmits, batches, polls);
	print_batch_times(batch_times, batches);
	printf("}\n");
	free(batch_times);
	return 0;
}
