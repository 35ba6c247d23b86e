/**
 * How a session ends when a step of its ending fails: the handler cannot be
 * started, or the socket, a file or the directory cannot be closed. Every
 * other step still runs, each failure is logged, and the server hears of the
 * end, so the session gives its slot back.
 */
import assert from 'node:assert/strict';
import { closeSync, fstatSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { HeldDirectory, type UdpSocket } from '../../native/index.js';
import type { ClientFiles } from '../../src/server/client-files.js';
import { Session, type SessionContext } from '../../src/server/session.js';

/** The socket calls a session makes while it ends; close() does what the test says. */
class FakeSocket {
  closed = false;

  constructor(private readonly closeAction: () => void = () => undefined) {}

  onReadable(): void {}

  sendBatch(): number {
    return 0;
  }

  close(): void {
    this.closed = true;
    this.closeAction();
  }
}

interface Ending {
  session: Session;
  socket: FakeSocket;
  files: ClientFiles;
  lines: string[];
  ended: Session[];
}

const isOpen = (fd: number) => {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
};

describe('server: a session that fails to end cleanly still ends', () => {
  let work: string;

  before(() => {
    work = mkdtempSync(path.join(tmpdir(), 'netdumpd-session-'));
  });

  after(() => rmSync(work, { recursive: true, force: true }));

  /** A session over real files in `work`, with a handler and a socket that may throw. */
  function session(options: { runHandler?: () => void; closeSocket?: () => void }): Ending {
    const dir = HeldDirectory.open(work);
    const files: ClientFiles = {
      dir,
      path: Buffer.from('.'),
      index: 0,
      infoName: 'info.host.0',
      coreName: 'vmcore.host.0',
      infoFd: openSync(path.join(work, 'info.host.0'), 'a'),
      coreFd: openSync(path.join(work, 'vmcore.host.0'), 'w'),
    };
    const lines: string[] = [];
    const ended: Session[] = [];
    const write = (line: string) => void lines.push(line);
    const context: SessionContext = {
      log: { info: write, warn: write, error: write },
      runHandler: options.runHandler ?? (() => undefined),
      onEnd: (it) => void ended.push(it),
    };
    const socket = new FakeSocket(options.closeSocket);
    return { session: new Session('198.18.0.9', 'host', socket as unknown as UdpSocket, files, context), socket, files, lines, ended };
  }

  /** Ends it as a timeout and checks that it told the server and released what it could. */
  function endAndCheck(ending: Ending, released: number[]): void {
    const { session, socket, files, ended } = ending;
    assert.doesNotThrow(() => session.timeOut());
    assert.deepEqual(ended, [session], 'onEnd ran once: the server frees the slot');
    assert.ok(socket.closed, 'the socket was closed');
    for (const fd of released) assert.ok(!isOpen(fd), `descriptor ${fd} was closed`);
    assert.ok(!isOpen(files.dir.fd), "the client directory's descriptor was closed");
  }

  test('a handler that cannot be started: logged, and the socket, files and directory are closed', () => {
    const ending = session({
      runHandler: () => {
        throw Object.assign(new Error('spawn EAGAIN'), { code: 'EAGAIN', errno: -11 });
      },
    });
    endAndCheck(ending, [ending.files.infoFd, ending.files.coreFd]);
    assert.ok(ending.lines.includes('cannot run the handler: Resource temporarily unavailable\n'), ending.lines.join(''));
  });

  test('a socket that fails to close: logged, and the files and directory are still closed', () => {
    const ending = session({
      closeSocket: () => {
        throw new Error('close: Bad file descriptor');
      },
    });
    endAndCheck(ending, [ending.files.infoFd, ending.files.coreFd]);
    assert.ok(ending.lines.includes('close(socket): close: Bad file descriptor\n'), ending.lines.join(''));
  });

  test('a file that fails to close: logged, and the other file and the directory are still closed', () => {
    const ending = session({});
    closeSync(ending.files.infoFd); // so that the session's own close fails with EBADF
    endAndCheck(ending, [ending.files.coreFd]);
    assert.ok(ending.lines.includes('close(): Bad file descriptor\n'), ending.lines.join(''));
  });

  test('a directory that fails to close: logged, and the server still hears of the end', () => {
    const ending = session({});
    closeSync(ending.files.dir.fd);
    endAndCheck(ending, [ending.files.infoFd, ending.files.coreFd]);
    assert.ok(ending.lines.includes('close(directory): Bad file descriptor\n'), ending.lines.join(''));
  });
});
