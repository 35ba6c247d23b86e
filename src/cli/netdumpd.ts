#!/usr/bin/env node
/** The netdumpd-compatible server command. The server itself is not built yet. */
const USAGE = `usage: netdumpd [-D] [-a addr] [-d dumpdir] [-i script] [-P pidfile] [-p path]

The netdumpd-compatible server is not implemented in this version.`;

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log(USAGE);
  process.exit(0);
}
console.error(`netdumpd: not implemented yet\n\n${USAGE}`);
process.exit(2);
