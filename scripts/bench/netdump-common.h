/*
 * What the C benchmark programs share: the netdump header and message
 * types, the dump's pattern (every 8-byte word holds its own offset, so a
 * receiver's file can be verified), the clock, and the senders' HERALD that
 * learns the server's port.
 */
#ifndef NETDUMP_COMMON_H
#define NETDUMP_COMMON_H

#include <arpa/inet.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define HEADER 24
#define NETDUMP_PORT 20023    /* the server's herald port */
#define NETDUMP_ACKPORT 20024 /* the client's port */
#define NETDUMP_DATASIZE 4096 /* the most payload netdumpd takes */
#define NETDUMP_HERALD 1
#define NETDUMP_FINISHED 2
#define NETDUMP_VMCORE 3

struct header {
	uint32_t type, seqno;
	uint64_t offset;
	uint32_t len, aux2;
} __attribute__((packed));

static inline void spin_us(double microseconds)
{
	struct timespec start, current;
	clock_gettime(CLOCK_MONOTONIC, &start);
	do
		clock_gettime(CLOCK_MONOTONIC, &current);
	while ((double)(current.tv_sec - start.tv_sec) * 1e6 + (double)(current.tv_nsec - start.tv_nsec) / 1e3 < microseconds);
}

static inline double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void fill_header(uint8_t *packet, uint32_t type, uint32_t seqno, uint64_t offset, uint32_t len)
{
	struct header h = { htonl(type), htonl(seqno), htobe64(offset), htonl(len), 0 };
	memcpy(packet, &h, sizeof(h));
}

/* The header at the start of `packet`, in host order. */
static inline struct header read_header(const uint8_t *packet)
{
	struct header h;

	memcpy(&h, packet, sizeof(h));
	return (struct header){ ntohl(h.type), ntohl(h.seqno), be64toh(h.offset), ntohl(h.len), ntohl(h.aux2) };
}

static inline void fill_pattern(uint8_t *data, uint64_t offset, uint32_t len)
{
	for (uint32_t i = 0; i < len; i += 8) {
		uint64_t word = offset + i;
		memcpy(data + i, &word, 8);
	}
}

/* Waits for the ack of `seqno` on the unconnected socket; returns the server's port. */
static inline int herald(int fd, struct sockaddr_in *server)
{
	uint8_t packet[HEADER], ack[64];
	struct sockaddr_in from;
	socklen_t fromlen;

	fill_header(packet, NETDUMP_HERALD, 1, 0, 0);
	for (int attempt = 0; attempt < 50; attempt++) {
		double deadline = now() + 0.2;
		sendto(fd, packet, sizeof(packet), 0, (struct sockaddr *)server, sizeof(*server));
		while (now() < deadline) {
			fromlen = sizeof(from);
			ssize_t n = recvfrom(fd, ack, sizeof(ack), MSG_DONTWAIT, (struct sockaddr *)&from, &fromlen);
			if (n == 4 && ntohl(*(uint32_t *)ack) == 1)
				return ntohs(from.sin_port);
		}
	}
	return -1;
}

/*
 * The session's socket: bound to <client-ip>:20024, the HERALD answered,
 * connected to the port the server answered from. Returns the socket, or
 * the exit status (2 a bad address, 1 a failure) negated, having said why.
 */
static inline int open_session(const char *program, const char *client_ip, const char *server_ip)
{
	struct sockaddr_in client = { 0 }, server = { 0 };
	int fd, port;

	client.sin_family = server.sin_family = AF_INET;
	client.sin_port = htons(NETDUMP_ACKPORT);
	server.sin_port = htons(NETDUMP_PORT);
	if (inet_pton(AF_INET, client_ip, &client.sin_addr) != 1 || inet_pton(AF_INET, server_ip, &server.sin_addr) != 1) {
		fprintf(stderr, "%s: bad address\n", program);
		return -2;
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&client, sizeof(client)) < 0) {
		fprintf(stderr, "%s: bind: ", program);
		perror(NULL);
		return -1;
	}
	port = herald(fd, &server);
	if (port < 0) {
		fprintf(stderr, "%s: no herald ack\n", program);
		return -1;
	}
	server.sin_port = htons((uint16_t)port);
	if (connect(fd, (struct sockaddr *)&server, sizeof(server)) < 0) {
		fprintf(stderr, "%s: connect: ", program);
		perror(NULL);
		return -1;
	}
	return fd;
}

/* FINISHED with sequence number `seq`, best effort: a benchmark's figure is taken before it. */
static inline void send_finished(int fd, uint32_t seq)
{
	uint8_t packet[HEADER];

	fill_header(packet, NETDUMP_FINISHED, seq, 0, 0);
	for (int attempt = 0; attempt < 20; attempt++) {
		uint8_t ack[64];
		send(fd, packet, HEADER, 0);
		double deadline = now() + 0.5;
		while (now() < deadline)
			if (recv(fd, ack, sizeof(ack), MSG_DONTWAIT) == 4 && ntohl(*(uint32_t *)ack) == seq)
				return;
	}
}

#endif
