// Runs every compiled test with Node's test runner, then checks that the
// run left no test host (network namespace, and so no veth) behind.
import { spawnSync } from 'node:child_process';
import { readdirSync, existsSync, rmSync } from 'node:fs';
import path from 'node:path';

const suites = ['dist/test/unit', 'dist/test/integration'];

function testFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true })
    .filter((name) => name.endsWith('.test.js'))
    .map((name) => path.join(dir, name))
    .sort();
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

/**
 * Test namespaces (or their /etc/netns files) whose creating process (its
 * pid is in the name) is gone: after our run every test process has exited,
 * so anything of ours left is here, while a concurrent run's namespaces
 * (live pids) are not.
 */
function leftoverNamespaces() {
  const names = new Set([...listDir('/var/run/netns'), ...listDir('/etc/netns')]);
  return [...names].filter((name) => {
    const match = /^ndt-(\d+)-/.exec(name);
    return match !== null && !isAlive(Number(match[1]));
  });
}

function listDir(dir) {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

const files = suites.flatMap(testFiles);
if (files.length === 0) {
  console.error('run-tests: no compiled tests found; run npm run build first');
  process.exit(1);
}
if (process.getuid?.() !== 0) {
  console.error('run-tests: the integration tests create network namespaces and need root; run npm test as root');
  process.exit(1);
}
const before = new Set(leftoverNamespaces());
const result = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...files], { stdio: 'inherit' });
const leaked = leftoverNamespaces().filter((name) => !before.has(name));
if (leaked.length > 0) {
  console.error(`run-tests: the tests left network namespaces behind: ${leaked.join(' ')}`);
  for (const ns of leaked) {
    spawnSync('ip', ['netns', 'del', ns]);
    rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
  }
  process.exit(1);
}
process.exit(result.status ?? 1);
