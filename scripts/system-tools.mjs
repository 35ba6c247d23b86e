// The system tools the build and the tests need, found on PATH (or, for
// libpcap, its header), and what to do when some are missing: as root with
// apt-get, install them; otherwise one line with the exact command, and a
// non-zero exit. Plain JavaScript: it runs before TypeScript is compiled.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import path from 'node:path';

/** What node-gyp needs to build the addon. */
export const BUILD_TOOLS = [
  { command: 'cc', package: 'gcc' },
  { command: 'make', package: 'make' },
  { command: 'python3', package: 'python3' },
];

/** What the tests run, beyond the build's tools; libpcap's header builds the pcap backend they test. */
export const TEST_TOOLS = [
  ...BUILD_TOOLS,
  { command: 'ip', package: 'iproute2' },
  { command: 'ss', package: 'iproute2' },
  { command: 'ethtool', package: 'ethtool' },
  { command: 'tcpdump', package: 'tcpdump' },
  { command: 'setpriv', package: 'util-linux' },
  { command: 'nsenter', package: 'util-linux' },
  { command: 'unshare', package: 'util-linux' },
  { command: 'findmnt', package: 'util-linux' },
  { command: 'mount', package: 'mount' },
  { command: 'zstd', package: 'zstd' },
  { command: 'gzip', package: 'gzip' },
  { command: 'tshark', package: 'tshark' },
  { command: 'script', package: 'bsdutils' },
  { command: 'chromium', package: 'chromium' },
  { file: '/usr/include/pcap/pcap.h', package: 'libpcap-dev' },
];

function onPath(command) {
  return (process.env.PATH ?? '').split(':').some((dir) => {
    try {
      accessSync(path.join(dir || '.', command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** The Debian packages that would bring what is missing, each named once. */
export function missingPackages(tools) {
  const missing = tools.filter((tool) => (tool.command ? !onPath(tool.command) : !existsSync(tool.file)));
  return [...new Set(missing.map((tool) => tool.package))];
}

function canInstall() {
  return process.getuid?.() === 0 && process.env.NETDUMP_NO_INSTALL !== '1' && onPath('apt-get');
}

function aptGet(args) {
  const result = spawnSync('apt-get', args, {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return result.status === 0;
}

/**
 * Makes sure `tools` are there for `purpose` ("npm test"): returns when
 * they are (installing them first if it may), else says what to install
 * in one line and exits with status 1.
 */
export function ensureTools(tools, purpose) {
  const packages = missingPackages(tools);
  if (packages.length === 0) return;
  const command = `apt-get install -y ${packages.join(' ')}`;
  if (canInstall()) {
    console.error(`${purpose}: installing ${packages.join(' ')} (${command})`);
    if (aptGet(['update', '-qq']) && aptGet(['install', '-y', '-qq', ...packages]) && missingPackages(tools).length === 0) return;
    console.error(`${purpose}: could not install ${packages.join(' ')}; try: ${command}`);
    process.exit(1);
  }
  const sudo = process.getuid?.() === 0 ? '' : 'sudo ';
  console.error(`${purpose} needs ${packages.join(', ')}: install with: ${sudo}${command}`);
  process.exit(1);
}
