/**
 * A herald the client repeats while the server still looks up its name:
 * netdumpd (which blocks on the lookup) acks it from the session's socket
 * afterwards; so must we, though our lookup runs asynchronously.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { NETDUMP_HERALD } from '../../src/wire/index.js';
import type { NetdumpdServer } from '../helpers/netdumpd-server.js';
import { ServerFixture } from '../helpers/server-fixture.js';

/** On the server's link, but no host: queries to it wait for an ARP reply that never comes. */
const SILENT_NAME_SERVER = '198.18.0.99';

describe('netdumpd: a herald repeated during a slow reverse DNS lookup', () => {
  let fixture: ServerFixture;
  let server: NetdumpdServer;

  before(async () => {
    fixture = new ServerFixture('netdumpd-slow-dns-');
    // ip netns exec gives the server /etc/netns/<ns>/resolv.conf as its /etc/resolv.conf
    // (removed with the test hosts), so its lookups last until --dns-timeout.
    const etc = `/etc/netns/${fixture.hosts.server.ns}`;
    mkdirSync(etc, { recursive: true });
    writeFileSync(path.join(etc, 'resolv.conf'), `nameserver ${SILENT_NAME_SERVER}\n`);
    server = await fixture.startServer(['-d', fixture.dumpDir, '-P', fixture.pidFile, '--dns-timeout', '1']);
  });

  after(() => fixture?.tearDown());

  test('is acked from the session port once the lookup ends, and the dump goes on', async () => {
    const client = await fixture.clientAt(fixture.hosts.client.ip);
    const started = Date.now();
    client.send({ type: NETDUMP_HERALD, seq: 1 }, 20023);
    await client.expectNoAck(300, 'herald during the lookup');
    client.send({ type: NETDUMP_HERALD, seq: 1 }, 20023);
    const first = await client.expectAck(1, null, 3000);
    const second = await client.expectAck(1, first.port, 1000);
    assert.ok(Date.now() - started >= 1000, 'the acks waited for the 1 s lookup');
    assert.equal(second.port, first.port);
    assert.equal(server.lines.filter((line) => line.startsWith('New dump from client')).length, 1);

    // The session is the one both acks came from: a dump completes on it.
    await client.herald(1);
    await client.finish(2);
    const info = readFileSync(path.join(fixture.dumpDir, `info.${fixture.hosts.client.ip}.0`), 'utf8');
    assert.equal(info, `Dump from ${fixture.hosts.client.ip} [${fixture.hosts.client.ip}]\nDump complete\n`);
  });
});
