/**
 * Command-line parsing shared by the CLIs: `--flag value` pairs, and config fields given either as
 * torchvision keywords (`--box-score-thresh 0.05`, `--min-size 320`) or as dotted paths of our config
 * (`--roi-heads.box-roi-pool.sampling-ratio 0`).
 */
import { pathToFileURL } from 'node:url';
import { ConfigError, type MaskRcnnSpec, TORCHVISION_KEYWORDS, defaultAt, withField } from '../config.ts';

export class UsageError extends Error {
  override name = 'UsageError';
}

export interface ParsedArgs {
  /** The CLI's own flags (camelCase keys) → value ('' for a bare switch). */
  flags: Map<string, string>;
  /** Config fields given on the command line. */
  spec: MaskRcnnSpec;
}

const camel = (s: string) => s.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** Parse a config value: JSON when it parses (numbers, booleans, arrays), else the raw string. */
function parseValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/**
 * Split argv into the CLI's own flags (`own`: name → takes a value?) and config fields.
 * Throws UsageError naming the unknown flag and listing what is accepted.
 */
export function parseArgs(argv: readonly string[], own: Record<string, boolean>): ParsedArgs {
  const flags = new Map<string, string>();
  let spec: MaskRcnnSpec = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument '${arg}': every option is a --flag (see --help)`);
    let name = arg.slice(2);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    const key = camel(name);
    if (key in own) {
      if (own[key]) {
        value ??= argv[++i];
        if (value === undefined) throw new UsageError(`--${name} needs a value`);
      }
      flags.set(key, value ?? '');
      continue;
    }
    const keyword = name.replace(/-/g, '_');
    const path = TORCHVISION_KEYWORDS[keyword] ?? name.split('.').map(camel).join('.');
    if (defaultAt(path) === undefined) {
      throw new UsageError(
        `unknown option --${name}: not a flag of this command (${Object.keys(own).map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')}), ` +
          `a torchvision keyword (--${Object.keys(TORCHVISION_KEYWORDS).slice(0, 4).map((k) => k.replace(/_/g, '-')).join(', --')}, …) or a config path (e.g. --roi-heads.box-roi-pool.sampling-ratio)`,
      );
    }
    value ??= argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    try {
      spec = withField(spec, path, parseValue(value));
    } catch (e) {
      if (e instanceof ConfigError) throw new UsageError(e.message);
      throw e;
    }
  }
  return { flags, spec };
}

/**
 * Run `main` when `moduleUrl` is the script Node was started with: exit with its code, or print
 * `error: <message>` (no stack trace) and exit 2 for a UsageError, 1 for anything else.
 */
export function runIfMain(moduleUrl: string, main: (argv: readonly string[]) => number | Promise<number>): void {
  if (process.argv[1] === undefined || moduleUrl !== pathToFileURL(process.argv[1]).href) return;
  Promise.resolve()
    .then(() => main(process.argv.slice(2)))
    .then(
      (code) => process.exit(code),
      (e: unknown) => {
        const err = e as Error;
        process.stderr.write(`error: ${err.message}\n`);
        process.exit(err instanceof UsageError ? 2 : 1);
      },
    );
}
