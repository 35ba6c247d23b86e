// Runs every compiled test with Node's test runner, then checks that the
// run left no test host (network namespace, and so no veth) behind.
import { spawnSync } from 'node:child_process';
import { readdirSync, existsSync } from 'node:fs';
import path from 'node:path';

const suites = ['dist/test/unit', 'dist/test/integration'];
// Node's runner applies this to each test and to each file as a whole: a file
// whose process stays alive (a child or socket left open) is ended, not waited
// for. The slowest file takes about 21 s here, and 35 s with three suites at once.
const TEST_TIMEOUT_MS = 180_000;

function testFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true })
    .filter((name) => name.endsWith('.test.js'))
    .map((name) => path.join(dir, name))
    .sort();
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
// After our run every test process has exited, so any test host of ours left is stale.
const { removeStaleTestHosts, staleTestHosts } = await import('../dist/scripts/lib/testhosts.js');
const before = new Set(staleTestHosts());
const result = spawnSync(process.execPath, ['--test', '--test-reporter=spec', `--test-timeout=${TEST_TIMEOUT_MS}`, ...files], {
  stdio: 'inherit',
});
const leaked = staleTestHosts().filter((name) => !before.has(name));
if (leaked.length > 0) {
  console.error(`run-tests: the tests left network namespaces behind: ${leaked.join(' ')}`);
  removeStaleTestHosts();
  process.exit(1);
}
process.exit(result.status ?? 1);
