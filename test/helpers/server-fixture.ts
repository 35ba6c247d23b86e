/**
 * What the netdumpd integration tests with a handler share: a host pair with
 * the client address in the kernel, a work directory holding an empty dump
 * directory and a handler script, the server and clients a test starts, and
 * the tear-down of all of it.
 */
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';

import { createTestHostPair, type TestHosts } from '../../scripts/lib/testhosts.js';
import { addClientAddress, NetdumpTestClient } from './netdump-test-client.js';
import { HandlerRecorder, makeTempDir, NetdumpdServer } from './netdumpd-server.js';

export class ServerFixture {
  readonly hosts: TestHosts;
  readonly work: string;
  /** work/dump, created empty. */
  readonly dumpDir: string;
  /** work/netdumpd.pid, for -P. */
  readonly pidFile: string;
  readonly handler: HandlerRecorder;
  private server: NetdumpdServer | undefined;
  private readonly clients: NetdumpTestClient[] = [];

  /** `tempPrefix` names the work directory under the system's temporary directory. */
  constructor(tempPrefix: string) {
    this.hosts = createTestHostPair({ clientAddressInKernel: true });
    let work: string | undefined;
    try {
      work = makeTempDir(tempPrefix);
      this.work = work;
      this.dumpDir = path.join(work, 'dump');
      this.pidFile = path.join(work, 'netdumpd.pid');
      mkdirSync(this.dumpDir);
      this.handler = new HandlerRecorder(work);
    } catch (error) {
      // The test's after() never sees a fixture that failed half-way.
      this.hosts.destroy();
      if (work) rmSync(work, { recursive: true, force: true });
      throw error;
    }
  }

  /** node netdumpd.js -D <args> in the server namespace. */
  async startServer(args: string[]): Promise<NetdumpdServer> {
    this.server = await NetdumpdServer.start(this.hosts, args);
    return this.server;
  }

  /**
   * `sh -c script scriptName …scriptArgs` in a mount namespace of its own
   * (unshare -m), so that what the script mounts goes away with the server.
   * The script must exec netdumpd -D.
   */
  async spawnServerWithOwnMounts(script: string, scriptName: string, scriptArgs: string[]): Promise<NetdumpdServer> {
    this.server = await NetdumpdServer.spawn(this.hosts, 'unshare', [
      '-m',
      '--propagation',
      'private',
      'sh',
      '-c',
      script,
      scriptName,
      ...scriptArgs,
    ]);
    return this.server;
  }

  /** A test client on `ip` (added to the client namespace unless it is the host pair's own), stopped in tearDown(). */
  async clientAt(ip: string, options: { serverIp?: string } = {}): Promise<NetdumpTestClient> {
    if (ip !== this.hosts.client.ip) addClientAddress(this.hosts, ip);
    const client = await NetdumpTestClient.start(this.hosts, ip, options);
    this.clients.push(client);
    return client;
  }

  async tearDown(): Promise<void> {
    for (const client of this.clients) client.stop();
    await this.server?.stop();
    this.hosts.destroy();
    rmSync(this.work, { recursive: true, force: true });
  }
}
