/*
 * Stop signals during a dump. The dump runs synchronously, as the
 * kernel's does, so Node's own signal handling, which waits for the event
 * loop, would run only after it. While watched, the first SIGINT, SIGTERM
 * or SIGHUP only records its number in a word that JS reads at every
 * poll, and the dump stops cleanly (the interface's settings put back);
 * a second one takes its default action, for a process stuck elsewhere.
 * Unwatching restores the handlers that were there before (Node's).
 *   watchStopSignals() -> a 4-byte Buffer over the word (0: none caught)
 *   unwatchStopSignals()
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "napi_util.h"

static const int stop_signals[] = { SIGINT, SIGTERM, SIGHUP };
#define STOP_SIGNALS COUNT_OF(stop_signals)

static volatile sig_atomic_t caught_signal;
static struct sigaction previous[STOP_SIGNALS];
static int watching;

/* Runs with the other stop signals blocked (sa_mask), so the first one wins. */
static void record_signal(int number)
{
	if (caught_signal == 0) {
		caught_signal = number;
		return;
	}
	signal(number, SIG_DFL);
	raise(number);
}

static void restore_handlers(size_t count)
{
	for (size_t i = 0; i < count; i++)
		sigaction(stop_signals[i], &previous[i], NULL);
}

static int install_handlers(void)
{
	struct sigaction action;

	memset(&action, 0, sizeof(action));
	action.sa_handler = record_signal;
	action.sa_flags = SA_RESTART;
	sigemptyset(&action.sa_mask);
	for (size_t i = 0; i < STOP_SIGNALS; i++)
		sigaddset(&action.sa_mask, stop_signals[i]);
	for (size_t i = 0; i < STOP_SIGNALS; i++) {
		if (sigaction(stop_signals[i], &action, &previous[i]) < 0) {
			int saved = errno;
			restore_handlers(i);
			errno = saved;
			return -1;
		}
	}
	return 0;
}

static napi_value watch_stop_signals(napi_env env, napi_callback_info info)
{
	napi_value word;

	(void)info;
	CHECK(env, napi_create_external_buffer(env, sizeof(caught_signal), (void *)&caught_signal, NULL, NULL, &word));
	caught_signal = 0;
	if (!watching) {
		if (install_handlers() < 0)
			return nd_throw_errno(env, errno, "cannot watch stop signals");
		watching = 1;
	}
	return word;
}

static napi_value unwatch_stop_signals(napi_env env, napi_callback_info info)
{
	(void)env;
	(void)info;
	if (watching)
		restore_handlers(STOP_SIGNALS);
	watching = 0;
	return NULL;
}

napi_value nd_stop_signal_functions(napi_env env, napi_value exports)
{
	const napi_property_descriptor functions[] = {
		FUNCTION("watchStopSignals", watch_stop_signals),
		FUNCTION("unwatchStopSignals", unwatch_stop_signals),
	};

	CHECK(env, napi_define_properties(env, exports, COUNT_OF(functions), functions));
	return exports;
}
