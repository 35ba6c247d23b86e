/**
 * node:util parseArgs's errors, in the words our usage errors use: its own
 * ("Option '-d, --d <value>' argument missing", "argument is ambiguous")
 * name single-letter options oddly and run over several lines.
 */

/** A usage error's two lines on stderr: what is wrong, and where the help is. */
export function usageLines(program: string, message: string): string {
  return `${program}: ${message}\nTry '${program} --help' for more information.\n`;
}

/** The option as a user types it: -d for a single letter, --name otherwise. */
function optionName(raw: string): string {
  const long = /--([\w-]+)/.exec(raw)?.[1];
  if (long === undefined) return raw;
  return long.length === 1 ? `-${long}` : `--${long}`;
}

/** One line for a parseArgs error; any other error's first line. */
export function describeArgumentError(error: unknown): string {
  const { code, message } = error as { code?: string; message: string };
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const option = /^Unknown option '(.*)'\. To specify/s.exec(message)?.[1] ?? '';
      return `unknown option '${option}' (an argument that starts with '-' but is not an option goes after '--')`;
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const option = optionName(/^Option '([^']+)'/.exec(message)?.[1] ?? '');
      if (message.includes('argument missing')) return `option ${option} needs a value`;
      if (message.includes('ambiguous')) {
        const attached = option.startsWith('--') ? `${option}=VALUE` : `${option}VALUE`;
        return `option ${option} needs a value, and the next argument looks like an option (write ${attached} for a value that starts with '-')`;
      }
      if (message.includes('does not take an argument')) return `option ${option} takes no value`;
      break;
    }
  }
  return message.split('\n')[0]!;
}
