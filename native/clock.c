/*
 * The send loop's clock, read without allocating. performance.now()
 * returns a new heap number on every call, and the fast profile's busy
 * poll reads the clock millions of times a dump: a young-generation
 * collection every ~50 ms, and ~10 % of the client's CPU (a profile of a
 * 256 MiB dump). readClock() writes CLOCK_MONOTONIC in microseconds into
 * one double that JS reads through the Buffer clockCell() returns.
 *   clockCell() -> an 8-byte Buffer over the double
 *   readClock()
 */
#define _GNU_SOURCE
#include <time.h>

#include "napi_util.h"

/*
 * One cell for the process: only the main thread reads the clock this way
 * (a worker loading the addon would share it, and could write between
 * another thread's readClock() and its read).
 */
static double clock_micros;

static napi_value clock_cell(napi_env env, napi_callback_info info)
{
	napi_value cell;

	(void)info;
	CHECK(env, napi_create_external_buffer(env, sizeof(clock_micros), &clock_micros, NULL, NULL, &cell));
	return cell;
}

static napi_value read_clock(napi_env env, napi_callback_info info)
{
	struct timespec now;

	(void)env;
	(void)info;
	clock_gettime(CLOCK_MONOTONIC, &now);
	clock_micros = (double)now.tv_sec * 1e6 + (double)now.tv_nsec / 1e3;
	return NULL;
}

napi_value nd_clock_functions(napi_env env, napi_value exports)
{
	const napi_property_descriptor functions[] = { FUNCTION("clockCell", clock_cell), FUNCTION("readClock", read_clock) };

	CHECK(env, napi_define_properties(env, exports, COUNT_OF(functions), functions));
	return exports;
}
