/**
 * Heralds from a hostile or broken client: a path's bytes are a path's bytes
 * (not text), control characters never reach the log, a directory where no
 * file can be created costs one log line and not one per index, and the
 * number of dumps at once is bounded: a herald into a full table ends the
 * dump idle longest that sent no data, and when all have sent data a flood
 * of refused heralds costs one log line.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { buildKdh, expectedKdhInfo, heraldPath } from '../helpers/netdump-test-client.js';
import { type HandlerRecorder, NETDUMPD, type NetdumpdServer } from '../helpers/netdumpd-server.js';
import { ServerFixture } from '../helpers/server-fixture.js';

const HERALD = 1;
const HERALD_PORT = 20023;
/** One packet of dump data: what makes a session one that a herald cannot end. */
const DATA = Buffer.alloc(1448, 0xa5);

describe('netdumpd: herald paths as bytes, and in the log', () => {
  let fixture: ServerFixture;
  let server: NetdumpdServer;
  let dumpDir: string;

  before(async () => {
    fixture = new ServerFixture('netdumpd-heralds-');
    ({ dumpDir } = fixture);
    server = await fixture.startServer(['-d', dumpDir, '-P', fixture.pidFile]);
  });

  after(() => fixture?.tearDown());

  test('a path that is not UTF-8 names the directory with exactly those bytes', async () => {
    const ip = '198.18.0.40';
    const name = Buffer.from([0x63, 0x61, 0x66, 0xe9]); // "caf" and Latin-1's é
    mkdirSync(Buffer.concat([Buffer.from(`${dumpDir}/`), name]));
    const client = await fixture.clientAt(ip);
    await client.herald(1, Buffer.concat([name, Buffer.alloc(1)]));
    await client.finish(2);
    const files = readdirSync(Buffer.concat([Buffer.from(`${dumpDir}/`), name]), { encoding: 'buffer' })
      .map(String)
      .sort();
    assert.deepEqual(files, [`bounds.${ip}`, `info.${ip}.0`, `info.${ip}.last`, `vmcore.${ip}.0`, `vmcore.${ip}.last`]);
    await server.waitForLine(`New dump from client ${ip} [${ip}] (to caf\\xe9/vmcore.${ip}.0)`);
    assert.equal(server.countLines('Refusing path'), 0);
  });

  test('control characters and backslashes in a refused path are logged as \\xNN, on one line', async () => {
    const ip = '198.18.0.41';
    const client = await fixture.clientAt(ip);
    const from = server.lines.length;
    await client.herald(1, heraldPath('no\x1b[2Jsuch\nNew dump from client forged\\'));
    await client.finish(2);
    await server.waitForLine(
      `Refusing path 'no\\x1b[2Jsuch\\x0aNew dump from client forged\\x5c' from client ${ip} [${ip}]: No such file or directory`,
      5000,
      from,
    );
    assert.equal(server.countLines('forged'), 1, 'the path cannot start a log line of its own');
    assert.equal(readFileSync(path.join(dumpDir, `info.${ip}.0`), 'latin1'), `Dump from ${ip} [${ip}]\nDump complete\n`);
  });
});

describe('netdumpd: a directory where nothing can be created', () => {
  let fixture: ServerFixture;
  let server: NetdumpdServer;
  let dumpDir: string;

  before(async () => {
    fixture = new ServerFixture('netdumpd-readonly-');
    ({ dumpDir } = fixture);
    mkdirSync(path.join(dumpDir, 'ro'));
    // dump/ro read-only in a mount namespace of the server's own; sh execs node, so the pid is the server's.
    const script = 'mount --bind "$1/ro" "$1/ro" && mount -o remount,bind,ro "$1/ro" && exec "$2" "$3" -D -d "$1" -P "$4"';
    server = await fixture.spawnServerWithOwnMounts(script, 'netdumpd-read-only-dir', [
      dumpDir,
      process.execPath,
      NETDUMPD,
      fixture.pidFile,
    ]);
  });

  after(() => fixture?.tearDown());

  test('one log line for each file that cannot be created, not one for each of the 1024 indexes', async () => {
    const ip = '198.18.0.42';
    const client = await fixture.clientAt(ip);
    await client.herald(1, heraldPath('ro'));
    await client.finish(2);
    await server.waitForLine(`Completed dump from client ${ip} [${ip}]`);
    assert.deepEqual(
      server.lines.filter((line) => line.includes(ip)),
      [
        `openat(bounds.${ip}): Read-only file system`,
        `openat("info.${ip}.0"): Read-only file system`,
        `Can't create output files in path for client ${ip} [${ip}], retrying with default`,
        `Empty bounds file for client ${ip} [${ip}]`,
        `New dump from client ${ip} [${ip}] (to ./vmcore.${ip}.0)`,
        `Completed dump from client ${ip} [${ip}]`,
      ],
    );
    assert.equal(readFileSync(path.join(dumpDir, `info.${ip}.0`), 'latin1'), `Dump from ${ip} [${ip}]\nDump complete\n`);
  });
});

describe('netdumpd: --max-sessions', () => {
  let fixture: ServerFixture;
  let server: NetdumpdServer;
  let handler: HandlerRecorder;

  before(async () => {
    fixture = new ServerFixture('netdumpd-sessions-');
    ({ handler } = fixture);
    server = await fixture.startServer(['-d', fixture.dumpDir, '-P', fixture.pidFile, '-i', handler.script, '--max-sessions', '2']);
  });

  after(() => fixture?.tearDown());

  const info = (ip: string) => readFileSync(path.join(fixture.dumpDir, `info.${ip}.0`), 'latin1');
  const timedOut = (ip: string) => `Dump from ${ip} [${ip}]\nDump incomplete: client timed out\n`;
  const completed = (ip: string) => `Dump from ${ip} [${ip}]\nDump complete\n`;

  test('while every dump has sent data, heralds past the limit are not answered, with one log line for the lot; a slot freed is taken', async () => {
    const [first, second, third, fourth] = await Promise.all(
      ['198.18.0.43', '198.18.0.44', '198.18.0.45', '198.18.0.46'].map((ip) => fixture.clientAt(ip)),
    );
    await first!.herald(1);
    await first!.sendData(DATA, { firstSeq: 2 });
    await second!.herald(1);
    await second!.sendData(DATA, { firstSeq: 2 });
    for (let seq = 1; seq <= 20; seq++) {
      third!.send({ type: HERALD, seq }, HERALD_PORT);
      fourth!.send({ type: HERALD, seq }, HERALD_PORT);
    }
    await third!.expectNoAck(500, 'herald past --max-sessions');
    await fourth!.expectNoAck(100, 'herald past --max-sessions');
    // Two peer processes send: either may be first.
    await server.waitForLine(/^Refusing herald from 198\.18\.0\.4[56]: 2 dumps in progress \(--max-sessions\)$/);
    assert.equal(server.countLines('Refusing herald'), 1);
    assert.equal(server.countLines('timed out'), 0, 'no dump that has sent data is ended for a herald');

    await first!.finish(3);
    await third!.herald(21);
    await third!.finish(22);
    await second!.finish(3);
    assert.equal(server.countLines('New dump from client 198.18.0.45'), 1);
    assert.deepEqual([info('198.18.0.43'), info('198.18.0.44')], [completed('198.18.0.43'), completed('198.18.0.44')]);
  });

  test('a herald into a full table ends the dump idle longest of those that sent no data, as a timeout', async () => {
    const [silentOld, silentNew, withData, last] = ['198.18.0.47', '198.18.0.48', '198.18.0.49', '198.18.0.56'];
    const [a, b, c, d] = await Promise.all([silentOld, silentNew, withData, last].map((ip) => fixture.clientAt(ip)));
    await a!.herald(1);
    await b!.herald(1);

    // Both sent nothing: the older goes, and the new client dumps.
    await c!.herald(1);
    const ended = await handler.waitFor(['timeout', silentOld, silentOld, `./info.${silentOld}.0`, `./vmcore.${silentOld}.0`]);
    assert.equal(ended.info, timedOut(silentOld));
    await server.waitForLine(
      `Ending the dump from ${silentOld} [${silentOld}], which has sent no data, for a herald from ${withData} (--max-sessions 2)`,
    );
    await server.waitForLine(`Client ${silentOld} timed out`);
    await c!.sendData(DATA, { firstSeq: 2 });

    // The dump with data has been idle longer, but only the one without data may go.
    await d!.herald(1);
    await handler.waitFor(['timeout', silentNew, silentNew, `./info.${silentNew}.0`, `./vmcore.${silentNew}.0`]);
    await c!.sendKdh(buildKdh({ dumpLength: DATA.length }), 3);
    await c!.finish(4);
    await d!.finish(2);
    assert.deepEqual([info(silentOld), info(silentNew), info(last)], [timedOut(silentOld), timedOut(silentNew), completed(last)]);
    assert.equal(info(withData), `Dump from ${withData} [${withData}]\n${expectedKdhInfo({ dumpLength: DATA.length })}Dump complete\n`);
    assert.equal(server.countLines('Refusing herald'), 1, 'no herald refused since the first test');
  });
});
