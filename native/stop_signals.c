/*
 * Stop signals during a dump. The dump runs synchronously, as the
 * kernel's does, so Node's own signal handling, which waits for the event
 * loop, would run only after it. While watched, SIGINT, SIGTERM and SIGHUP
 * only record their number in a word that JS reads through a buffer at
 * every poll, and the dump stops cleanly (the interface's settings put
 * back); unwatching restores the handlers that were there before.
 *   watchStopSignals() -> a 4-byte Buffer over the word (0: none caught)
 *   unwatchStopSignals()
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "napi_util.h"

static const int stop_signals[] = { SIGINT, SIGTERM, SIGHUP };
#define STOP_SIGNALS (sizeof(stop_signals) / sizeof(stop_signals[0]))

static volatile sig_atomic_t caught_signal;
static struct sigaction previous[STOP_SIGNALS];
static int watching;

static void record_signal(int signal)
{
	if (caught_signal == 0)
		caught_signal = signal;
}

static napi_value watch_stop_signals(napi_env env, napi_callback_info info)
{
	struct sigaction action;
	napi_value word;

	(void)info;
	caught_signal = 0;
	if (!watching) {
		memset(&action, 0, sizeof(action));
		action.sa_handler = record_signal;
		action.sa_flags = SA_RESTART;
		sigemptyset(&action.sa_mask);
		for (size_t i = 0; i < STOP_SIGNALS; i++)
			if (sigaction(stop_signals[i], &action, &previous[i]) < 0)
				return nd_throw(env, "EINVAL", errno, "cannot watch stop signals");
		watching = 1;
	}
	CHECK(env, napi_create_external_buffer(env, sizeof(caught_signal), (void *)&caught_signal, NULL, NULL, &word));
	return word;
}

static napi_value unwatch_stop_signals(napi_env env, napi_callback_info info)
{
	(void)env;
	(void)info;
	if (watching)
		for (size_t i = 0; i < STOP_SIGNALS; i++)
			sigaction(stop_signals[i], &previous[i], NULL);
	watching = 0;
	return NULL;
}

napi_value nd_stop_signal_functions(napi_env env, napi_value exports)
{
	napi_value value;

	CHECK(env, napi_create_function(env, "watchStopSignals", NAPI_AUTO_LENGTH, watch_stop_signals, NULL, &value));
	CHECK(env, napi_set_named_property(env, exports, "watchStopSignals", value));
	CHECK(env, napi_create_function(env, "unwatchStopSignals", NAPI_AUTO_LENGTH, unwatch_stop_signals, NULL, &value));
	CHECK(env, napi_set_named_property(env, exports, "unwatchStopSignals", value));
	return exports;
}
