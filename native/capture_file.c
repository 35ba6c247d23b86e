/*
 * CaptureFile: a classic pcap file (LINKTYPE_ETHERNET, microsecond time
 * stamps, readable by tcpdump and Wireshark) written by a thread of its
 * own from a ring buffer, so that the thread sending a dump only stamps
 * and copies each frame. Written with write() on the sending thread, the
 * capture cost it more than the send itself (the page cache takes about
 * 1 µs a frame), and a record built in JS and copied into shared memory
 * still cost 1 µs. The writer thread drains the ring once a millisecond,
 * or at once when the ring is full or the file is closed.
 *   new CaptureFile(path, ringBytes); record(frame); close()
 * The first write error is kept, later records are dropped, and close()
 * throws it: the dump is never held up by its capture.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "napi_util.h"

#define DRAIN_INTERVAL_NS 1000000L
#define MIN_RING (128 * 1024) /* a record of the largest frame, 16 + 65535 bytes, always fits */
#define MAX_RING (1u << 30)
#define HUGE_PAGE (2u << 20)
#define PCAP_MAGIC 0xa1b2c3d4u /* in host byte order, as every field: readers take the order from it */
#define PCAP_SNAPLEN 65535u
#define LINKTYPE_ETHERNET 1u

struct capture_file_header {
	uint32_t magic;
	uint16_t version_major, version_minor;
	int32_t thiszone;
	uint32_t sigfigs, snaplen, linktype;
};

struct capture_record_header {
	uint32_t seconds, microseconds, captured_length, original_length;
};

typedef struct {
	int fd;
	int64_t realtime_offset_ns; /* wall clock minus monotonic clock at open: stamps never go back */
	uint8_t *ring;
	uint64_t size; /* a power of two */
	uint64_t head; /* bytes appended: only the sending thread stores it, atomically */
	uint64_t tail; /* bytes written out; the writer stores it */
	int closing;
	int error; /* the first errno of a failed write */
	int producer_waiting;
	int holders; /* the JS object and its record function: freed when both are collected */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake; /* the writer: bytes or closing */
	pthread_cond_t room; /* the sender: space in the ring */
} capture_file;

static void write_out(capture_file *w, uint64_t from, uint64_t to)
{
	while (from < to && w->error == 0) {
		uint64_t at = from & (w->size - 1);
		size_t length = (size_t)(to - from < w->size - at ? to - from : w->size - at);
		ssize_t written = write(w->fd, w->ring + at, length);
		if (written < 0 && errno == EINTR)
			continue;
		if (written < 0) {
			w->error = errno;
			return;
		}
		from += (uint64_t)written;
	}
}

static void wait_for_bytes(capture_file *w)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_nsec += DRAIN_INTERVAL_NS;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->lock);
	if (!w->closing && !w->producer_waiting)
		pthread_cond_timedwait(&w->wake, &w->lock, &until);
	pthread_mutex_unlock(&w->lock);
}

static void *writer_thread(void *arg)
{
	capture_file *w = arg;

	for (;;) {
		int closing = __atomic_load_n(&w->closing, __ATOMIC_ACQUIRE);
		uint64_t head = __atomic_load_n(&w->head, __ATOMIC_ACQUIRE);
		if (head != w->tail) {
			write_out(w, w->tail, head); /* after an error, only the tail moves */
			__atomic_store_n(&w->tail, head, __ATOMIC_RELEASE);
			pthread_mutex_lock(&w->lock);
			pthread_cond_signal(&w->room);
			pthread_mutex_unlock(&w->lock);
		} else if (closing) {
			return NULL; /* closing was set after the last head was stored */
		} else {
			wait_for_bytes(w);
		}
	}
}

static uint64_t free_space(capture_file *w)
{
	return w->size - (w->head - __atomic_load_n(&w->tail, __ATOMIC_ACQUIRE));
}

/* Waits for the writer thread to make room for `length` bytes. */
static void make_room(capture_file *w, uint64_t length)
{
	if (free_space(w) >= length)
		return;
	pthread_mutex_lock(&w->lock);
	w->producer_waiting = 1;
	pthread_cond_signal(&w->wake);
	while (free_space(w) < length)
		pthread_cond_wait(&w->room, &w->lock);
	w->producer_waiting = 0;
	pthread_mutex_unlock(&w->lock);
}

/* Copies bytes in at *head, wrapping at the ring's end, and advances *head (not yet published). */
static void append(capture_file *w, uint64_t *head, const uint8_t *bytes, size_t length)
{
	uint64_t at = *head & (w->size - 1);
	size_t first = length < w->size - at ? length : (size_t)(w->size - at);

	memcpy(w->ring + at, bytes, first);
	memcpy(w->ring, bytes + first, length - first);
	*head += length;
}

/* The longest run of the ring prefetched ahead of a record: enough for a jumbo frame. */
#define PREFETCH_LIMIT 9216u
#define CACHE_LINE 64u

/*
 * Asks for the ring's next bytes in this CPU's cache, owned for writing,
 * so that they arrive while the caller sends the next frame instead of
 * stalling the next record's copy. PREFETCHW is a hint that CPUs without
 * it run as a no-op; written as an instruction, it stays inline.
 */
static inline void prefetch_line_for_writing(const uint8_t *line)
{
#if defined(__x86_64__) || defined(__i386__)
	__asm__ volatile("prefetchw %0" : : "m"(*line));
#else
	__builtin_prefetch(line, 1, 3);
#endif
}

static inline void prefetch_for_writing(const capture_file *w, uint64_t from, uint64_t length)
{
	uint64_t end = from + (length < PREFETCH_LIMIT ? length : PREFETCH_LIMIT);

	for (uint64_t at = from & ~(uint64_t)(CACHE_LINE - 1); at < end; at += CACHE_LINE)
		prefetch_line_for_writing(w->ring + (at & (w->size - 1)));
}

/* Stops the thread after it has written everything; returns the first write error (0 if none). */
static int finish(capture_file *w)
{
	if (w->fd < 0)
		return 0;
	pthread_mutex_lock(&w->lock);
	__atomic_store_n(&w->closing, 1, __ATOMIC_RELEASE);
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	if (close(w->fd) < 0 && w->error == 0)
		w->error = errno;
	w->fd = -1;
	return w->error;
}

static void destroy(capture_file *w)
{
	finish(w);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->wake);
	pthread_cond_destroy(&w->room);
	munmap(w->ring, w->size);
	free(w);
}

static void drop_holder(napi_env env, void *data, void *hint)
{
	capture_file *w = data;

	if (--w->holders == 0)
		destroy(w);
}

/*
 * The ring, mapped on a 2 MiB boundary and in 2 MiB pages where the kernel
 * offers them (transparent huge pages): then a record mostly takes no TLB
 * miss, which in a virtual machine costs a walk of two page tables.
 * Pages are touched as the ring fills, once. NULL if there is no memory.
 */
static uint8_t *map_ring(uint64_t size)
{
	uint64_t span = size >= HUGE_PAGE ? size + HUGE_PAGE : size;
	uint8_t *mapped = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *ring;

	if (mapped == MAP_FAILED)
		return NULL;
	if (span == size)
		return mapped;
	ring = (uint8_t *)(((uintptr_t)mapped + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
	if (ring > mapped)
		munmap(mapped, (size_t)(ring - mapped));
	if (ring + size < mapped + span)
		munmap(ring + size, (size_t)(mapped + span - (ring + size)));
	(void)madvise(ring, size, MADV_HUGEPAGE);
	return ring;
}

static int init_sync(capture_file *w)
{
	pthread_condattr_t monotonic;

	if (pthread_condattr_init(&monotonic) != 0)
		return -1;
	pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC);
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, &monotonic);
	pthread_cond_init(&w->room, NULL);
	pthread_condattr_destroy(&monotonic);
	return 0;
}

/* Throws errno's name and text alone: the caller says which file. */
static napi_value throw_reason(napi_env env, int errnum)
{
	return nd_throw(env, nd_errno_name(errnum), errnum, strerror(errnum));
}

/* The pcap file header, first in the ring, and the clock offset for the records' stamps. */
static void start_capture(capture_file *w)
{
	struct capture_file_header header = { PCAP_MAGIC, 2, 4, 0, 0, PCAP_SNAPLEN, LINKTYPE_ETHERNET };
	struct timespec realtime, monotonic;
	uint64_t head = 0;

	clock_gettime(CLOCK_REALTIME, &realtime);
	clock_gettime(CLOCK_MONOTONIC, &monotonic);
	w->realtime_offset_ns = ((int64_t)realtime.tv_sec - monotonic.tv_sec) * 1000000000 + (realtime.tv_nsec - monotonic.tv_nsec);
	append(w, &head, (const uint8_t *)&header, sizeof(header));
	__atomic_store_n(&w->head, head, __ATOMIC_RELEASE);
}

/* record(frame): appends a record of the frame, stamped now; waits only if the ring is full. */
static napi_value record_frame(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1] = { NULL };
	capture_file *w = NULL;
	struct capture_record_header header;
	struct timespec now;
	int64_t stamp_ns;
	void *frame;
	size_t length;
	uint64_t head;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&w));
	if (w->fd < 0)
		return nd_throw(env, "EBADF", EBADF, "the capture file is closed");
	if (argc < 1 || nd_get_bytes(env, argv[0], &frame, &length) < 0)
		return nd_throw(env, "EINVAL", EINVAL, "record needs a frame (a Uint8Array)");
	if (length > PCAP_SNAPLEN)
		return nd_throw(env, "EMSGSIZE", EMSGSIZE, "a frame longer than the capture's 65535-byte snapshot length");
	clock_gettime(CLOCK_MONOTONIC, &now);
	stamp_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec + w->realtime_offset_ns;
	header.seconds = (uint32_t)(stamp_ns / 1000000000);
	header.microseconds = (uint32_t)(stamp_ns % 1000000000 / 1000);
	header.captured_length = header.original_length = (uint32_t)length;
	make_room(w, sizeof(header) + length);
	head = w->head;
	append(w, &head, (const uint8_t *)&header, sizeof(header));
	append(w, &head, frame, length);
	__atomic_store_n(&w->head, head, __ATOMIC_RELEASE);
	prefetch_for_writing(w, head, sizeof(header) + length); /* the next frame is likely as long */
	return NULL;
}

/*
 * Wraps the capture in the object and gives the object its own record
 * function, which finds the capture in its data pointer: a per-frame call
 * then skips unwrapping, a property lookup that costs more than the copy
 * of a small frame.
 */
static napi_value attach(napi_env env, napi_value self, capture_file *w)
{
	napi_value record;

	w->holders = 1;
	if (napi_wrap(env, self, w, drop_holder, NULL, NULL) != napi_ok) {
		destroy(w);
		return nd_throw(env, "EIO", EIO, "cannot wrap the capture file");
	}
	if (napi_create_function(env, "record", NAPI_AUTO_LENGTH, record_frame, w, &record) != napi_ok ||
	    napi_add_finalizer(env, record, w, drop_holder, NULL, NULL) != napi_ok) {
		finish(w); /* the object's finalizer frees the rest */
		return nd_throw(env, "EIO", EIO, "cannot make the capture's record function");
	}
	w->holders++;
	CHECK(env, napi_set_named_property(env, self, "record", record));
	return self;
}

/* new CaptureFile(path, ringBytes): creates or truncates the file (mode 0644) and writes the pcap header. */
static napi_value construct(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2], self;
	uint32_t ring_bytes = 0;
	char path[4096];
	capture_file *w;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, &self, NULL));
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return nd_throw(env, "ENOMEM", ENOMEM, "out of memory");
	if (argc < 2 || nd_get_string(env, argv[0], path, sizeof(path)) < 0 ||
	    napi_get_value_uint32(env, argv[1], &ring_bytes) != napi_ok || ring_bytes < MIN_RING ||
	    ring_bytes > MAX_RING || (ring_bytes & (ring_bytes - 1)) != 0) {
		free(w);
		return nd_throw(env, "EINVAL", EINVAL, "CaptureFile needs a path and a power-of-two ring size of 128 KiB to 1 GiB");
	}
	w->size = ring_bytes;
	w->ring = map_ring(ring_bytes);
	if (w->ring == NULL || init_sync(w) < 0) {
		if (w->ring != NULL)
			munmap(w->ring, ring_bytes);
		free(w);
		return nd_throw(env, "ENOMEM", ENOMEM, "out of memory");
	}
	w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w->fd < 0 || (errno = pthread_create(&w->thread, NULL, writer_thread, w)) != 0) {
		int saved = errno;
		if (w->fd >= 0)
			close(w->fd);
		w->fd = -1;
		destroy(w);
		return throw_reason(env, saved);
	}
	start_capture(w);
	return attach(env, self, w);
}

/* close(): waits until everything is written, closes the file, and throws the first write error. */
static napi_value close_capture(napi_env env, napi_callback_info info)
{
	capture_file *w = nd_unwrap(env, info, NULL, NULL);
	int error = w == NULL ? 0 : finish(w);

	return error != 0 ? throw_reason(env, error) : NULL;
}

napi_value nd_capture_file_class(napi_env env)
{
	napi_value klass;
	napi_property_descriptor methods[] = { METHOD("close", close_capture) };

	CHECK(env, napi_define_class(env, "CaptureFile", NAPI_AUTO_LENGTH, construct, NULL,
				     COUNT_OF(methods), methods, &klass));
	return klass;
}
