/**
 * Test hosts: network namespaces joined by veth pairs, with names unique to
 * the run, removed on exit even when a test fails or the run is interrupted.
 *
 *   pair:    client ──veth── server                      (198.18.0.0/24)
 *   routed:  client ──veth── router ──veth── server      (198.18.1.0/24, 198.18.2.0/24)
 *
 * The client's interface carries no address in its namespace's kernel by
 * default: like the spare NIC a panicking kernel owns, only our own stack
 * speaks on it.
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';

export interface TestHost {
  /** Network namespace name (under /var/run/netns). */
  ns: string;
  /** The host's interface towards its neighbour. */
  iface: string;
  /** The interface's IPv4 address (for the client: the address our stack uses). */
  ip: string;
  prefixLength: number;
  mac: string;
}

export interface RouterHost {
  ns: string;
  /** Interface and address facing the client's subnet: the client's gateway. */
  clientSide: TestHost;
  /** Interface and address facing the server's subnet. */
  serverSide: TestHost;
}

export interface TestHostOptions {
  /** Also configure the client's address in the client namespace's kernel. */
  clientAddressInKernel?: boolean;
  /** MTU of every link. Default 1500. */
  mtu?: number;
  /** Queues of each end of the client's link (veth's numrxqueues and numtxqueues); Linux's default otherwise. */
  queues?: number;
}

const NAME_PREFIX = 'ndt';
const live = new Set<TestHosts>();
let counter = 0;

export class TestHosts {
  readonly id: string;
  readonly client: TestHost;
  readonly server: TestHost;
  readonly router: RouterHost | undefined;
  private readonly namespaces: string[];
  private readonly children = new Set<ChildProcess>();

  constructor(id: string, client: TestHost, server: TestHost, router: RouterHost | undefined) {
    this.id = id;
    this.client = client;
    this.server = server;
    this.router = router;
    this.namespaces = [client.ns, server.ns, ...(router ? [router.ns] : [])];
  }

  /** Runs a command inside a host's namespace and returns its standard output. */
  run(ns: string, command: string, args: string[] = []): string {
    return execFileSync('ip', ['netns', 'exec', ns, command, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /**
   * Gives the server's kernel a permanent neighbour entry for the client, so
   * that it never asks for the client's MAC by broadcast: 12.x drops every
   * broadcast frame (spec §3.5), and a capture then holds only the dump.
   */
  pinClientNeighbour(): void {
    this.run(this.server.ns, 'ip', [
      'neigh',
      'replace',
      this.client.ip,
      'lladdr',
      this.client.mac,
      'dev',
      this.server.iface,
      'nud',
      'permanent',
    ]);
  }

  /** Starts a long-running process inside a namespace; it is killed by destroy(). */
  spawn(ns: string, command: string, args: string[] = [], options: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', ns, command, ...args], { stdio: ['pipe', 'pipe', 'inherit'], ...options });
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    return child;
  }

  /** Kills what runs inside and removes every namespace (and so every veth). Idempotent. */
  destroy(): void {
    for (const child of this.children) child.kill('SIGKILL');
    this.children.clear();
    for (const ns of this.namespaces) {
      killProcessesIn(ns);
      removeNamespace(ns);
    }
    live.delete(this);
  }
}

function ip(args: string[], ignoreFailure = false): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    if (ignoreFailure) return '';
    const stderr = (error as { stderr?: string }).stderr?.trim() ?? '';
    throw new Error(`ip ${args.join(' ')} failed: ${stderr || (error as Error).message}`);
  }
}

function killProcessesIn(ns: string): void {
  const pids = ip(['netns', 'pids', ns], true).split(/\s+/).filter(Boolean);
  for (const pid of pids) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

function macOf(ns: string, iface: string): string {
  const [link] = JSON.parse(ip(['-n', ns, '-j', 'link', 'show', 'dev', iface])) as Array<{ address: string }>;
  if (!link) throw new Error(`no link ${iface} in ${ns}`);
  return link.address;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * Test namespaces (or their /etc/netns files) whose creating process, its
 * pid in the name, is gone: a concurrent run's (live pids) are not.
 */
export function staleTestHosts(): string[] {
  const names = new Set([...listDir('/var/run/netns'), ...listDir('/etc/netns')]);
  return [...names].filter((name) => {
    const match = new RegExp(`^${NAME_PREFIX}-(\\d+)-`).exec(name);
    return match !== null && !isAlive(Number(match[1]));
  });
}

/** Removes namespaces (and their /etc/netns files) left by runs that were killed before they could clean up. */
export function removeStaleTestHosts(): string[] {
  const stale = staleTestHosts();
  for (const ns of stale) {
    killProcessesIn(ns);
    removeNamespace(ns);
  }
  return stale;
}

function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new Error('test hosts need root (network namespaces and veth pairs): run as root');
  }
}

function newId(): string {
  counter += 1;
  return `${NAME_PREFIX}-${process.pid}-${counter}`;
}

/**
 * Name lookups inside a test host go to its own loopback, where nothing
 * answers: they fail at once and send nothing off the machine, whatever the
 * host's resolv.conf says (ip netns exec binds this file over it; a routed
 * server's queries to the host's name servers would otherwise meet the
 * router's rate-limited ICMP errors and wait out netdumpd's DNS bound).
 */
function isolateNameLookups(ns: string): void {
  mkdirSync(`/etc/netns/${ns}`, { recursive: true });
  writeFileSync(`/etc/netns/${ns}/resolv.conf`, 'nameserver 127.0.0.1\n');
}

/** Deletes the namespace and the files that ip netns exec binds over /etc inside it. */
function removeNamespace(ns: string): void {
  ip(['netns', 'del', ns], true);
  rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
}

function addNamespace(ns: string): void {
  isolateNameLookups(ns);
  ip(['netns', 'add', ns]);
  ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  // IPv6 would add router solicitations and MLD reports to every capture.
  for (const scope of ['all', 'default']) {
    ip(['netns', 'exec', ns, 'sysctl', '-q', '-w', `net.ipv6.conf.${scope}.disable_ipv6=1`]);
  }
}

function link(nsA: string, ifA: string, nsB: string, ifB: string, mtu: number, queues?: number): void {
  const queueArgs = queues === undefined ? [] : ['numrxqueues', String(queues), 'numtxqueues', String(queues)];
  const end = (ns: string) => ['netns', ns, 'mtu', String(mtu), ...queueArgs];
  ip(['link', 'add', ifA, ...end(nsA), 'type', 'veth', 'peer', 'name', ifB, ...end(nsB)]);
  ip(['-n', nsA, 'link', 'set', ifA, 'up']);
  ip(['-n', nsB, 'link', 'set', ifB, 'up']);
}

function addAddress(host: TestHost): void {
  ip(['-n', host.ns, 'addr', 'add', `${host.ip}/${host.prefixLength}`, 'dev', host.iface]);
}

function host(ns: string, iface: string, address: string): TestHost {
  return { ns, iface, ip: address, prefixLength: 24, mac: macOf(ns, iface) };
}

function build<T>(namespaces: string[], steps: () => T): T {
  requireRoot();
  removeStaleTestHosts();
  try {
    namespaces.forEach(addNamespace);
    return steps();
  } catch (error) {
    for (const ns of namespaces) removeNamespace(ns);
    throw error;
  }
}

function register(hosts: TestHosts): TestHosts {
  live.add(hosts);
  installCleanupHandlers();
  return hosts;
}

/** Two hosts on one link: the client (our stack) and the server (198.18.0.2). */
export function createTestHostPair(options: TestHostOptions = {}): TestHosts {
  const id = newId();
  const mtu = options.mtu ?? 1500;
  const [clientNs, serverNs] = [`${id}-client`, `${id}-server`];
  return register(
    build([clientNs, serverNs], () => {
      link(clientNs, 'ndc0', serverNs, 'nds0', mtu, options.queues);
      const client = host(clientNs, 'ndc0', '198.18.0.1');
      const server = host(serverNs, 'nds0', '198.18.0.2');
      addAddress(server);
      if (options.clientAddressInKernel) addAddress(client);
      return new TestHosts(id, client, server, undefined);
    }),
  );
}

/** Client and server on different subnets with a forwarding Linux router between them. */
export function createRoutedTestHosts(options: TestHostOptions = {}): TestHosts {
  const id = newId();
  const mtu = options.mtu ?? 1500;
  const [clientNs, routerNs, serverNs] = [`${id}-client`, `${id}-router`, `${id}-server`];
  return register(
    build([clientNs, routerNs, serverNs], () => {
      link(clientNs, 'ndc0', routerNs, 'ndr0', mtu, options.queues);
      link(routerNs, 'ndr1', serverNs, 'nds0', mtu);
      const client = host(clientNs, 'ndc0', '198.18.1.1');
      const server = host(serverNs, 'nds0', '198.18.2.1');
      const clientSide = host(routerNs, 'ndr0', '198.18.1.254');
      const serverSide = host(routerNs, 'ndr1', '198.18.2.254');
      [server, clientSide, serverSide].forEach(addAddress);
      if (options.clientAddressInKernel) addAddress(client);
      ip(['-n', serverNs, 'route', 'add', 'default', 'via', serverSide.ip]);
      ip(['netns', 'exec', routerNs, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
      return new TestHosts(id, client, server, { ns: routerNs, clientSide, serverSide });
    }),
  );
}

export function destroyAllTestHosts(): void {
  for (const hosts of [...live]) hosts.destroy();
}

let handlersInstalled = false;

function installCleanupHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', destroyAllTestHosts);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      destroyAllTestHosts();
      process.kill(process.pid, signal);
    });
  }
}
