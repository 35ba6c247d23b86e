#!/usr/bin/env node
/** The netdump client command. The dump client itself is not built yet. */
const USAGE = `usage: netdump [-s server] [-c client] [-g gateway] [-p path] [options] iface [dumpfile]

The dump client is not implemented in this version: today the project
provides the raw-frame driver, the wire formats and the test hosts.`;

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log(USAGE);
  process.exit(0);
}
console.error(`netdump: not implemented yet\n\n${USAGE}`);
process.exit(2);
