/*
 * The machine's raw-frame limit: sendmmsg of identical-size frames on an
 * AF_PACKET socket, opened with the same code as the addon.
 *   blast <netns> <iface> <dst-mac> <frame-bytes> <frames> <batch>
 * Prints one JSON line: {"frames":N,"seconds":S}. With "-" for <frames>,
 * it reads one block size per line from stdin and answers each block
 * with such a line, so that a benchmark can interleave it with its own
 * blocks, until stdin closes.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "../../native/packet_socket.h"

#define MAX_BATCH 1024

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct mmsghdr msgs[MAX_BATCH];
static struct iovec iov[MAX_BATCH];
static unsigned char frames[MAX_BATCH][9018];

/* Sends `total` frames, `batch` a call, and prints how long that took; -1 on an error. */
static int blast(int fd, long total, long batch)
{
	long sent = 0;
	double start = now();

	while (sent < total) {
		long n = total - sent < batch ? total - sent : batch;
		int rc = sendmmsg(fd, msgs, (unsigned int)n, 0);
		if (rc < 0) {
			perror("blast: sendmmsg");
			return -1;
		}
		sent += rc;
	}
	printf("{\"frames\":%ld,\"seconds\":%.6f}\n", sent, now() - start);
	return fflush(stdout);
}

int main(int argc, char **argv)
{
	ps_options opts = { 0 };
	ps_interface info;
	ps_error err;
	unsigned int mac[6];
	long size, total, batch;
	int blocks, fd;

	if (argc != 7 || sscanf(argv[3], "%x:%x:%x:%x:%x:%x", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4], &mac[5]) != 6) {
		fprintf(stderr, "usage: blast <netns> <iface> <dst-mac> <frame-bytes> <frames or -> <batch>\n");
		return 2;
	}
	size = atol(argv[4]);
	blocks = strcmp(argv[5], "-") == 0;
	total = blocks ? 1 : atol(argv[5]);
	batch = atol(argv[6]);
	if (size < 14 || size > 9018 || total < 1 || batch < 1 || batch > MAX_BATCH) {
		fprintf(stderr, "blast: frame-bytes 14..9018, frames >= 1, batch 1..%d\n", MAX_BATCH);
		return 2;
	}
	opts.ifname = argv[2];
	opts.netns = argv[1];
	opts.ethertype = 0x0003;
	fd = ps_open(&opts, &info, &err);
	if (fd < 0) {
		fprintf(stderr, "blast: %s: %s\n", err.code, err.message);
		return 1;
	}
	for (long i = 0; i < batch; i++) {
		for (int b = 0; b < 6; b++)
			frames[i][b] = (unsigned char)mac[b];
		memcpy(frames[i] + 6, info.mac, 6);
		frames[i][12] = 0x88; /* IEEE 802 local experimental EtherType */
		frames[i][13] = 0xb5;
		iov[i].iov_base = frames[i];
		iov[i].iov_len = (size_t)size;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	if (!blocks)
		return blast(fd, total, batch) < 0;
	while (scanf("%ld", &total) == 1 && total > 0)
		if (blast(fd, total, batch) < 0)
			return 1;
	return 0;
}
