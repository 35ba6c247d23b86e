/**
 * Creates test hosts for trying netdump by hand, and removes them when the
 * command ends or on Ctrl-C.
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';

import { createRoutedTestHosts, createTestHostPair, removeStaleTestHosts, type TestHosts } from './lib/testhosts.js';

const USAGE = `usage: npm run testhosts -- [--routed] [--client-address] [--mtu N] [-- command [args...]]
       npm run testhosts -- --remove-stale

Creates network namespaces joined by veth pairs (addresses from 198.18.0.0/15)
and removes them again when the command exits or you press Ctrl-C.

  (default)          client 198.18.0.1 <-> server 198.18.0.2 on one link
  --routed           client 198.18.1.1 <-> router (forwarding) <-> server 198.18.2.1;
                     the client's gateway is 198.18.1.254
  --client-address   also give the client's interface its address in the kernel
  --mtu N            MTU of every link (default 1500)
  --remove-stale     remove namespaces left behind by killed runs, then exit
  -- command ...      run the command with the topology in its environment
                     (ND_CLIENT_NS, ND_CLIENT_IF, ND_CLIENT_IP, ND_SERVER_NS,
                     ND_SERVER_IF, ND_SERVER_IP, ND_GATEWAY_IP), then clean up;
                     without a command, print the topology and wait for Ctrl-C

Needs root.`;

function environmentOf(hosts: TestHosts): Record<string, string> {
  return {
    ND_CLIENT_NS: hosts.client.ns,
    ND_CLIENT_IF: hosts.client.iface,
    ND_CLIENT_IP: hosts.client.ip,
    ND_SERVER_NS: hosts.server.ns,
    ND_SERVER_IF: hosts.server.iface,
    ND_SERVER_IP: hosts.server.ip,
    ...(hosts.router ? { ND_ROUTER_NS: hosts.router.ns, ND_GATEWAY_IP: hosts.router.clientSide.ip } : {}),
  };
}

function describe(hosts: TestHosts): string {
  return Object.entries(environmentOf(hosts))
    .map(([name, value]) => `${name}=${value}`)
    .join('\n');
}

function fail(message: string): never {
  console.error(`testhosts: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function main(): void {
  const separator = process.argv.indexOf('--');
  const ownArgs = separator < 0 ? process.argv.slice(2) : process.argv.slice(2, separator);
  const command = separator < 0 ? [] : process.argv.slice(separator + 1);
  let values;
  try {
    ({ values } = parseArgs({
      args: ownArgs,
      options: {
        routed: { type: 'boolean' },
        'client-address': { type: 'boolean' },
        mtu: { type: 'string' },
        'remove-stale': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    fail((error as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (values['remove-stale']) {
    const removed = removeStaleTestHosts();
    console.log(removed.length ? `removed ${removed.join(' ')}` : 'nothing stale');
    return;
  }
  const mtu = values.mtu === undefined ? 1500 : Number(values.mtu);
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) fail(`--mtu must be an integer from 68 to 65535, not ${values.mtu}`);
  const options = { mtu, clientAddressInKernel: values['client-address'] ?? false };
  let hosts: TestHosts;
  try {
    hosts = values.routed ? createRoutedTestHosts(options) : createTestHostPair(options);
  } catch (error) {
    console.error(`testhosts: ${(error as Error).message}`);
    process.exit(1);
  }
  if (command.length === 0) {
    console.log(`${describe(hosts)}\n\nPress Ctrl-C to remove the test hosts.`);
    setInterval(() => undefined, 1 << 30);
    return;
  }
  const result = spawnSync(command[0]!, command.slice(1), { stdio: 'inherit', env: { ...process.env, ...environmentOf(hosts) } });
  hosts.destroy();
  if (result.error) {
    console.error(`testhosts: cannot run ${command[0]}: ${result.error.message}`);
    process.exit(127);
  }
  process.exit(result.status ?? 1);
}

main();
