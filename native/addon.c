/*
 * The addon's module: the socket classes (PcapSocket only throws ENOSYS
 * when built without libpcap), the kernel's busy-wait DELAY(), syslog(3)
 * for the daemonized server, and the calling thread's CPU affinity (for the
 * benchmarks, which pin the sending thread but not the writer threads).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <syslog.h>

#include "napi_util.h"
#include "packet_socket.h"

static napi_value delay_us(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1];
	uint32_t usec;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 1 || napi_get_value_uint32(env, argv[0], &usec) != napi_ok)
		return nd_throw(env, "EINVAL", EINVAL, "delay needs microseconds");
	ps_delay_us(usec);
	return NULL;
}

/* threadCpus(): the CPUs the calling thread may run on. */
static napi_value thread_cpus(napi_env env, napi_callback_info info)
{
	cpu_set_t set;
	napi_value list, cpu;
	uint32_t count = 0;

	(void)info;
	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return nd_throw_errno(env, errno, "sched_getaffinity");
	CHECK(env, napi_create_array(env, &list));
	for (int i = 0; i < CPU_SETSIZE; i++) {
		if (!CPU_ISSET(i, &set))
			continue;
		napi_create_uint32(env, (uint32_t)i, &cpu);
		napi_set_element(env, list, count++, cpu);
	}
	return list;
}

/* setThreadCpus(cpus): confines the calling thread (only) to these CPUs. */
static napi_value set_thread_cpus(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], element;
	uint32_t length = 0, cpu;
	bool is_array = false;
	cpu_set_t set;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 1 || napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array ||
	    napi_get_array_length(env, argv[0], &length) != napi_ok || length == 0)
		return nd_throw(env, "EINVAL", EINVAL, "setThreadCpus needs a non-empty array of CPU numbers");
	CPU_ZERO(&set);
	for (uint32_t i = 0; i < length; i++) {
		if (napi_get_element(env, argv[0], i, &element) != napi_ok ||
		    napi_get_value_uint32(env, element, &cpu) != napi_ok || cpu >= CPU_SETSIZE)
			return nd_throw(env, "EINVAL", EINVAL, "setThreadCpus needs CPU numbers");
		CPU_SET(cpu, &set);
	}
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		return nd_throw_errno(env, errno, "sched_setaffinity");
	return NULL;
}

#ifndef HAVE_LIBPCAP
/* Built without libpcap's headers: the class exists, and says how to get it. */
static napi_value pcap_not_built(napi_env env, napi_callback_info info)
{
	(void)info;
	return nd_throw(env, "ENOSYS", ENOSYS,
			"the pcap backend is not built: install libpcap-dev and run npm run build");
}

napi_value nd_pcap_socket_class(napi_env env)
{
	napi_value klass;
	CHECK(env, napi_define_class(env, "PcapSocket", NAPI_AUTO_LENGTH, pcap_not_built, NULL, 0, NULL, &klass));
	return klass;
}

napi_value nd_pcap_version(napi_env env)
{
	napi_value value;
	CHECK(env, napi_get_null(env, &value));
	return value;
}
#endif

static char syslog_ident[64];

/* openSyslog(ident): openlog with LOG_PID | LOG_NDELAY, facility LOG_DAEMON. */
static napi_value open_syslog(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1] = { NULL };

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (nd_get_string(env, argv[0], syslog_ident, sizeof(syslog_ident)) < 0)
		return nd_throw(env, "EINVAL", EINVAL, "openSyslog needs an identity string");
	openlog(syslog_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	return NULL;
}

/* syslog(priority, message) */
static napi_value write_syslog(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2] = { NULL, NULL };
	char message[2048];
	uint32_t priority;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 2 || napi_get_value_uint32(env, argv[0], &priority) != napi_ok ||
	    nd_get_string(env, argv[1], message, sizeof(message)) < 0)
		return nd_throw(env, "EINVAL", EINVAL, "syslog needs a priority and a message under 2 KiB");
	syslog((int)priority, "%s", message);
	return NULL;
}

static napi_value init(napi_env env, napi_value exports)
{
	const napi_property_descriptor functions[] = {
		FUNCTION("delay", delay_us),
		FUNCTION("threadCpus", thread_cpus),
		FUNCTION("setThreadCpus", set_thread_cpus),
		FUNCTION("openSyslog", open_syslog),
		FUNCTION("syslog", write_syslog),
	};
	napi_value value;

	if ((value = nd_packet_socket_class(env)) == NULL)
		return NULL;
	CHECK(env, napi_set_named_property(env, exports, "PacketSocket", value));
	if ((value = nd_udp_socket_class(env)) == NULL)
		return NULL;
	CHECK(env, napi_set_named_property(env, exports, "UdpSocket", value));
	if ((value = nd_pcap_socket_class(env)) == NULL)
		return NULL;
	CHECK(env, napi_set_named_property(env, exports, "PcapSocket", value));
	if ((value = nd_capture_file_class(env)) == NULL)
		return NULL;
	CHECK(env, napi_set_named_property(env, exports, "CaptureFile", value));
	if ((value = nd_pcap_version(env)) == NULL)
		return NULL;
	CHECK(env, napi_set_named_property(env, exports, "pcapVersion", value));
	CHECK(env, napi_define_properties(env, exports, COUNT_OF(functions), functions));
	if (nd_dir_functions(env, exports) == NULL)
		return NULL;
	if (nd_clock_functions(env, exports) == NULL)
		return NULL;
	return nd_stop_signal_functions(env, exports);
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
