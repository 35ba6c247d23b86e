/*
 * The per-packet work of netdumpd and nothing else, as the benchmark's
 * reference: receive a datagram, pwrite its payload at its offset, send
 * the ack: three system calls a packet.
 *   minimal-server <server-ip> <output-file>
 * Serves one dump (herald to FINISHED), then exits.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEADER 24

int main(int argc, char **argv)
{
	static uint8_t packet[HEADER + 4096];
	struct sockaddr_in self = { 0 }, from;
	socklen_t fromlen = sizeof(from);
	int herald_fd, fd, out;
	uint32_t ack;
	ssize_t n;

	if (argc != 3) {
		fprintf(stderr, "usage: minimal-server <server-ip> <output-file>\n");
		return 2;
	}
	self.sin_family = AF_INET;
	self.sin_port = htons(20023);
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
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	self.sin_port = 0;
	from.sin_port = htons(20024);
	int bufsz = 128 * 1024;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	if (bind(fd, (struct sockaddr *)&self, sizeof(self)) < 0 || connect(fd, (struct sockaddr *)&from, sizeof(from)) < 0) {
		perror("minimal-server: bind/connect");
		return 1;
	}
	memcpy(&ack, packet + 4, 4);
	send(fd, &ack, 4, 0);
	for (;;) {
		uint32_t type, len;
		uint64_t offset;
		n = recv(fd, packet, sizeof(packet), 0);
		if (n < HEADER)
			continue;
		memcpy(&type, packet, 4);
		memcpy(&offset, packet + 8, 8);
		memcpy(&len, packet + 16, 4);
		if ((size_t)n - HEADER != ntohl(len))
			continue;
		if (ntohl(type) == 3 && pwrite(out, packet + HEADER, ntohl(len), (off_t)be64toh(offset)) < 0) {
			perror("minimal-server: pwrite");
			return 1;
		}
		memcpy(&ack, packet + 4, 4);
		send(fd, &ack, 4, 0);
		if (ntohl(type) == 2)
			break;
	}
	close(out);
	return 0;
}
