/*
 * The per-packet work of today's netdumpd and nothing else, as the
 * benchmark's reference (spec §6.6, netdumpd's eventloop, client_event and
 * handle_vmcore): wait for the socket (netdumpd's kevent; epoll here), recv
 * one datagram, copy a VMCORE payload into a 128 KiB buffer, send the ack.
 * The buffer is written (pwrite at its first offset) when the next payload
 * would overflow it or does not follow it, and at FINISHED, before fsync
 * and the last ack. What netdumpd does once per dump (files, names, the
 * info file) is left out.
 *   minimal-server <server-ip> <output-file>
 * Serves one dump (herald to FINISHED), then prints one JSON line and exits:
 * from the first VMCORE packet to the last (dataMicros), how long it waited
 * for them (waitedMicros), and its waits of 1 ms or more (longWaits,
 * longWaitMicros): a client that stopped sending while the server had CPU
 * to spare.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "netdump-common.h"

#define VMCORE_BUFSZ (128 * 1024)
#define LONG_WAIT_US 1000.0

static uint8_t vmcore_buf[VMCORE_BUFSZ];
static size_t buffered;
static uint64_t buffered_at;

static int flush(int out)
{
	size_t done = 0;

	while (done < buffered) {
		ssize_t n = pwrite(out, vmcore_buf + done, buffered - done, (off_t)(buffered_at + done));
		if (n < 0) {
			perror("minimal-server: pwrite");
			return -1;
		}
		done += (size_t)n;
	}
	buffered = 0;
	return 0;
}

/* The server's waits for VMCORE packets, from the first to the last: a server with CPU to spare waits here. */
struct waits {
	double data_start, data_end, waited, long_waited;
	long long_waits;
};

/* A VMCORE packet came at `now` after a wait of `waited` µs. */
static void count_vmcore(struct waits *waits, double now, double waited)
{
	if (waits->data_start == 0)
		waits->data_start = now;
	else {
		waits->waited += waited;
		if (waited >= LONG_WAIT_US) {
			waits->long_waits++;
			waits->long_waited += waited;
		}
	}
	waits->data_end = now;
}

/*
 * netdumpd's handle_vmcore: flush when full or not contiguous, then append.
 * `len` is at most NETDUMP_DATASIZE: the receive buffer holds no more.
 */
static int buffer_vmcore(int out, const uint8_t *data, uint32_t len, uint64_t offset)
{
	if (buffered + NETDUMP_DATASIZE > VMCORE_BUFSZ || (buffered > 0 && buffered_at + buffered != offset))
		if (flush(out) < 0)
			return -1;
	if (buffered == 0)
		buffered_at = offset;
	memcpy(vmcore_buf + buffered, data, len);
	buffered += len;
	return 0;
}

static void send_ack(int fd, uint32_t seqno)
{
	uint32_t ack = htonl(seqno);

	send(fd, &ack, sizeof(ack), 0);
}

/* A connected socket to the herald's sender, port 20024, from the herald's destination address. */
static int client_socket(struct sockaddr_in self, struct sockaddr_in from)
{
	int bufsz = 128 * 1024; /* netdumpd's SO_RCVBUF */
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	self.sin_port = 0;
	from.sin_port = htons(NETDUMP_ACKPORT);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	if (bind(fd, (struct sockaddr *)&self, sizeof(self)) < 0 || connect(fd, (struct sockaddr *)&from, sizeof(from)) < 0) {
		perror("minimal-server: bind/connect");
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	static uint8_t packet[HEADER + NETDUMP_DATASIZE];
	struct sockaddr_in self = { 0 }, from;
	socklen_t fromlen = sizeof(from);
	struct epoll_event event = { .events = EPOLLIN };
	int herald_fd, fd, out, epoll;
	struct waits waits = { 0 };
	double waiting_since;
	ssize_t n;

	if (argc != 3) {
		fprintf(stderr, "usage: minimal-server <server-ip> <output-file>\n");
		return 2;
	}
	self.sin_family = AF_INET;
	self.sin_port = htons(NETDUMP_PORT);
	inet_pton(AF_INET, argv[1], &self.sin_addr);
	herald_fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (bind(herald_fd, (struct sockaddr *)&self, sizeof(self)) < 0) {
		perror("minimal-server: bind");
		return 1;
	}
	out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0600);
	printf("listening\n");
	fflush(stdout);
	n = recvfrom(herald_fd, packet, sizeof(packet), 0, (struct sockaddr *)&from, &fromlen);
	if (n < HEADER || out < 0)
		return 1;
	fd = client_socket(self, from);
	epoll = epoll_create1(0);
	if (fd < 0 || epoll < 0 || epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) < 0) {
		perror("minimal-server: epoll");
		return 1;
	}
	send_ack(fd, read_header(packet).seqno);
	/* A wait runs from the last ack sent to the next well-formed packet: an empty wakeup or a runt goes on waiting. */
	waiting_since = now() * 1e6;
	for (;;) {
		struct header h;
		double woken;

		if (epoll_wait(epoll, &event, 1, -1) < 1)
			continue;
		woken = now() * 1e6;
		n = recv(fd, packet, sizeof(packet), 0);
		if (n < HEADER)
			continue;
		h = read_header(packet);
		if ((size_t)n - HEADER != h.len)
			continue;
		if (h.type == NETDUMP_VMCORE)
			count_vmcore(&waits, woken, woken - waiting_since);
		if (h.type == NETDUMP_VMCORE && buffer_vmcore(out, packet + HEADER, h.len, h.offset) < 0)
			return 1;
		if (h.type == NETDUMP_FINISHED && (flush(out) < 0 || fsync(out) < 0))
			return 1;
		send_ack(fd, h.seqno);
		if (h.type == NETDUMP_FINISHED)
			break;
		waiting_since = now() * 1e6;
	}
	close(out);
	printf("{\"dataMicros\":%.0f,\"waitedMicros\":%.0f,\"longWaits\":%ld,\"longWaitMicros\":%.0f}\n",
	       waits.data_start == 0 ? 0 : waits.data_end - waits.data_start, waits.waited, waits.long_waits, waits.long_waited);
	fflush(stdout);
	return 0;
}
