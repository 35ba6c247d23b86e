/* The Node-API side that PacketSocket and PcapSocket share (interface_napi.h). */
#define _GNU_SOURCE
#include "interface_napi.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#define MAX_RX_SLOTS 1024
#define DEFAULT_RX_SLOTS 256
#define MIN_SLOT_SIZE 2048
#define VLAN_TAG_LEN 4

napi_value nd_throw_ps_error(napi_env env, const ps_error *err)
{
	return nd_throw(env, err->code, err->errnum, err->message);
}

napi_value nd_throw_send_error(napi_env env, int errnum, const char *ifname)
{
	ps_error err;

	ps_send_error(&err, errnum, ifname);
	return nd_throw_ps_error(env, &err);
}

static void set_named(napi_env env, napi_value object, const char *name, napi_value value)
{
	napi_set_named_property(env, object, name, value);
}

napi_value nd_interface_object(napi_env env, const ps_interface *info)
{
	napi_value result, value;
	void *mac;

	CHECK(env, napi_create_object(env, &result));
	napi_create_string_utf8(env, info->name, NAPI_AUTO_LENGTH, &value);
	set_named(env, result, "name", value);
	napi_create_int32(env, info->ifindex, &value);
	set_named(env, result, "ifindex", value);
	napi_create_buffer_copy(env, sizeof(info->mac), info->mac, &mac, &value);
	set_named(env, result, "mac", value);
	napi_create_int32(env, info->mtu, &value);
	set_named(env, result, "mtu", value);
	napi_get_boolean(env, info->up, &value);
	set_named(env, result, "up", value);
	napi_get_boolean(env, info->running, &value);
	set_named(env, result, "running", value);
	napi_create_string_utf8(env, info->driver, NAPI_AUTO_LENGTH, &value);
	set_named(env, result, "driver", value);
	napi_create_int32(env, info->rx_queues, &value);
	set_named(env, result, "rxQueues", value);
	napi_create_int32(env, info->max_rx_queues, &value);
	set_named(env, result, "maxRxQueues", value);
	return result;
}

napi_value nd_interface_info(napi_env env, int fd, ps_interface *info)
{
	ps_error err;

	if (ps_refresh(fd, info, &err) < 0)
		return nd_throw_ps_error(env, &err);
	return nd_interface_object(env, info);
}

napi_value nd_interface_link(napi_env env, int fd, const char *ifname)
{
	napi_value result;
	ps_error err;
	int flags;

	if (ps_link_flags(fd, ifname, &flags, &err) < 0)
		return nd_throw_ps_error(env, &err);
	napi_create_int32(env, flags, &result);
	return result;
}

napi_value nd_interface_gro(napi_env env, int fd, const char *ifname, size_t argc, napi_value *argv)
{
	napi_value result;
	ps_error err;
	int enabled;

	if (argc >= 1) {
		bool wanted;
		if (napi_get_value_bool(env, argv[0], &wanted) != napi_ok)
			return nd_throw(env, "EINVAL", EINVAL, "gro takes a boolean");
		if (ps_set_gro(fd, ifname, wanted, &err) < 0)
			return nd_throw_ps_error(env, &err);
	}
	if (ps_get_gro(fd, ifname, &enabled, &err) < 0)
		return nd_throw_ps_error(env, &err);
	napi_get_boolean(env, enabled, &result);
	return result;
}

napi_value nd_stats_object(napi_env env, uint32_t kernel_received, uint32_t kernel_dropped, uint64_t truncated,
			   uint64_t outgoing_skipped)
{
	napi_value result, value;

	CHECK(env, napi_create_object(env, &result));
	napi_create_uint32(env, kernel_received, &value);
	set_named(env, result, "kernelReceived", value);
	napi_create_uint32(env, kernel_dropped, &value);
	set_named(env, result, "kernelDropped", value);
	napi_create_double(env, (double)truncated, &value);
	set_named(env, result, "truncated", value);
	napi_create_double(env, (double)outgoing_skipped, &value);
	set_named(env, result, "outgoingSkipped", value);
	return result;
}

int nd_check_frame_size(napi_env env, const ps_interface *info, size_t len)
{
	char message[160];

	if (len < ND_ETHER_HEADER_LEN) {
		snprintf(message, sizeof(message), "frame of %zu bytes is shorter than an Ethernet header", len);
		nd_throw(env, "EINVAL", EINVAL, message);
		return -1;
	}
	if (len > (size_t)info->mtu + ND_ETHER_HEADER_LEN) {
		snprintf(message, sizeof(message), "frame of %zu bytes is larger than the MTU of %s (%d + %d-byte header)",
			 len, info->name, info->mtu, ND_ETHER_HEADER_LEN);
		nd_throw(env, "EMSGSIZE", EMSGSIZE, message);
		return -1;
	}
	return 0;
}

int nd_get_frame(napi_env env, size_t argc, napi_value *argv, const ps_interface *info, void **data, size_t *len)
{
	if (argc < 1 || nd_get_bytes(env, argv[0], data, len) < 0) {
		nd_throw(env, "EINVAL", EINVAL, "send needs a Uint8Array frame");
		return -1;
	}
	return nd_check_frame_size(env, info, *len);
}

void nd_rx_size_for_frames(napi_env env, napi_value options, const ps_interface *info, nd_rx_buffers *rx)
{
	rx->slots = nd_get_uint32_option(env, options, "rxSlots", DEFAULT_RX_SLOTS);
	if (rx->slots < 1 || rx->slots > MAX_RX_SLOTS)
		rx->slots = DEFAULT_RX_SLOTS;
	/* Room for the MTU, the Ethernet header and one VLAN tag; never below 2 KiB. */
	rx->slot_size = (uint32_t)info->mtu + ND_ETHER_HEADER_LEN + VLAN_TAG_LEN;
	if (rx->slot_size < MIN_SLOT_SIZE)
		rx->slot_size = MIN_SLOT_SIZE;
	rx->result_fields = ND_FRAME_RESULT_FIELDS;
}
