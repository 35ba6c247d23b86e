/**
 * A system tool a test runs, checked before anything is started, so that a
 * missing one fails the test at once and says what to install. The check is
 * npm test's own (scripts/system-tools.mjs, plain JavaScript outside dist/).
 */
const SYSTEM_TOOLS = new URL('../../../scripts/system-tools.mjs', import.meta.url).href;

interface SystemTools {
  missingPackages(this: void, tools: Array<{ command: string; package: string }>): string[];
}

/** Throws unless `command` is on PATH, naming the Debian package that brings it. */
export async function requireTool(command: string, debianPackage: string): Promise<void> {
  const { missingPackages } = (await import(SYSTEM_TOOLS)) as SystemTools;
  if (missingPackages([{ command, package: debianPackage }]).length > 0) {
    throw new Error(`${command} is not installed: apt-get install -y ${debianPackage}`);
  }
}
