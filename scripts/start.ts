/**
 * npm start — the whole path on one machine: test hosts in network
 * namespaces, our netdumpd in one, our netdump client on the other's spare
 * interface dumping a synthetic minidump, then the received vmcore and info
 * file checked against what was sent. Everything is removed at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

import { parseSize } from '../src/cli/size.js';
import { verifySyntheticVmcore } from './lib/synthetic-vmcore.js';
import { createTestHostPair, type TestHosts } from './lib/testhosts.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const USAGE = `usage: npm start -- [--size SIZE] [--profile freebsd12|freebsd13|fast] [--pcap FILE] [--trace FILE]
  --size SIZE      synthetic minidump size (default 64M)
  --profile NAME   client behaviour profile (default freebsd13; fast: the pipelined window)
  --pcap FILE      keep the client's capture of the dump (relative to where npm was started)
  --trace FILE     keep the client's trace of its polling path (JSON lines)`;

interface ClientOptions {
  size: string;
  profile: string;
  pcap?: string;
  trace?: string;
}

function waitForLine(child: ChildProcess, pattern: RegExp, lines: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not log ${pattern}`)), 20_000);
    const check = () => {
      if (lines.some((line) => pattern.test(line))) {
        clearTimeout(timer);
        resolve();
        return true;
      }
      return false;
    };
    if (check()) return;
    createInterface({ input: child.stdout! }).on('line', () => check());
  });
}

function startServer(hosts: TestHosts, dumpDir: string): { child: ChildProcess; lines: string[] } {
  const cli = path.join(ROOT, 'dist/src/cli/netdumpd.js');
  const child = hosts.spawn(hosts.server.ns, process.execPath, [cli, '-D', '-d', dumpDir, '-P', path.join(dumpDir, '.pid')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    console.log(`  netdumpd | ${line}`);
  });
  return { child, lines };
}

async function runClient(hosts: TestHosts, { size, profile, pcap, trace }: ClientOptions): Promise<number> {
  const cli = path.join(ROOT, 'dist/src/cli/netdump.js');
  const args = [cli, '--netns', hosts.client.ns, '-s', hosts.server.ip, '-c', hosts.client.ip, '--synthetic', size, '--profile', profile];
  args.push('--hostname', 'crashed-host', '--panic', 'npm start: a demonstration panic');
  if (pcap !== undefined) args.push('--pcap', pcap);
  if (trace !== undefined) args.push('--trace', trace);
  console.log(`\n$ netdump ${args.slice(1).join(' ')} ${hosts.client.iface}`);
  const child = spawn(process.execPath, [...args, hosts.client.iface], { stdio: ['ignore', 'pipe', 'inherit'] });
  createInterface({ input: child.stdout }).on('line', (line) => console.log(`  netdump  | ${line}`));
  const [status] = (await once(child, 'exit')) as [number | null];
  return status ?? 1;
}

function verifyInfo(file: string, size: number): void {
  const info = readFileSync(file, 'utf8');
  for (const expected of [
    `  Dump Length: ${size}B (${size >> 20} MB)\n`,
    '  Hostname: crashed-host\n',
    '  Header Parity Check: Pass\n',
    'Dump complete\n',
  ]) {
    if (!info.includes(expected)) throw new Error(`info file lacks ${JSON.stringify(expected)}:\n${info}`);
  }
}

/** npm runs scripts in the project's root; a path the user gave is relative to where they started npm. */
function fromUserDirectory(file: string | undefined): string | undefined {
  return file === undefined ? undefined : path.resolve(process.env.INIT_CWD ?? process.cwd(), file);
}

async function main(): Promise<void> {
  let options;
  try {
    options = parseArgs({
      options: {
        size: { type: 'string' },
        profile: { type: 'string' },
        pcap: { type: 'string' },
        trace: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (error) {
    console.error(`npm start: ${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if (options.help) return console.log(USAGE);
  const sizeText = options.size ?? '64M';
  let size: number;
  try {
    size = parseSize(sizeText);
  } catch (error) {
    console.error(`npm start: --size: ${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  const profile = options.profile ?? 'freebsd13';
  if (profile !== 'freebsd12' && profile !== 'freebsd13' && profile !== 'fast') {
    console.error(`npm start: --profile must be freebsd12, freebsd13 or fast\n${USAGE}`);
    process.exit(2);
  }
  const hosts = createTestHostPair();
  const dumpDir = mkdtempSync(path.join(tmpdir(), 'netdump-start-'));
  console.log(
    `test hosts: client ${hosts.client.ip} (${hosts.client.ns}), server ${hosts.server.ip} (${hosts.server.ns}); dump directory ${dumpDir}`,
  );
  try {
    const server = startServer(hosts, dumpDir);
    await waitForLine(server.child, /^Waiting for clients\./, server.lines);
    const status = await runClient(hosts, {
      size: sizeText,
      profile,
      pcap: fromUserDirectory(options.pcap),
      trace: fromUserDirectory(options.trace),
    });
    if (status !== 0) throw new Error(`netdump exited with status ${status}`);
    await waitForLine(server.child, /^Completed dump from client/, server.lines);
    const base = path.join(dumpDir, `vmcore.${hosts.client.ip}.0`);
    verifySyntheticVmcore(base, size, profile === 'freebsd12' ? 2 : 3);
    verifyInfo(path.join(dumpDir, `info.${hosts.client.ip}.0`), size);
    console.log(`\nverified: ${base} is the ${sizeText} synthetic minidump byte for byte, and its info file is complete.`);
    for (const [what, file] of [
      ['capture', options.pcap],
      ['trace', options.trace],
    ]) {
      if (file !== undefined) console.log(`kept: the client's ${what} in ${fromUserDirectory(file)}`);
    }
  } finally {
    hosts.destroy();
    rmSync(dumpDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`npm start: ${(error as Error).message}`);
  process.exit(1);
});
