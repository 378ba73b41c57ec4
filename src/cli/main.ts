/**
 * Command dispatch; every command takes its arguments and an CliIo and returns an exit code.
 * Each command's module is imported when that command runs: `serve` then never loads what
 * only the other commands use (their manifest and YAML code, and `certs`'s @kubernetes/client-node
 * and @peculiar/x509), which would otherwise stay resident in the webhook.
 */
import type { RunningServer } from './serve.js';
import { UsageError } from './options.js';
import { writeLine, type CliIo } from './io.js';
import { describeError, DigestPinnerError } from '../errors.js';

export const USAGE = `Usage: digest-pinner <command> [flags]

Commands:
  serve      run the mutating admission webhook over HTTPS
  resolve    print image references pinned to their digests
  certs      create the webhook's CA and serving certificate (files, Secret, caBundle)
  pin        rewrite the images in manifest files (or stdin) to pinned references
  check      list the images in manifest files that are not pinned (text, JSON, SARIF)
  imageset   resolve references into an ImageSet manifest
  krm        pin the images of a ResourceList as a KRM function (kustomize, kpt)
  audit      find unpinned images, moved tags and split revisions in a live cluster
  version    print the version (also --version)

Run 'digest-pinner <command> --help' for a command's flags.`;

type Command = (argv: readonly string[], io: CliIo) => Promise<number>;

/** The commands other than serve, each loaded when it runs. */
const COMMANDS: ReadonlyMap<string, () => Promise<Command>> = new Map([
  ['resolve', async () => (await import('./resolve.js')).resolveCommand],
  ['certs', async () => (await import('./certs.js')).certsCommand],
  ['pin', async () => (await import('./pin.js')).pinCommand],
  ['check', async () => (await import('./check.js')).checkCommand],
  ['imageset', async () => (await import('./imageset.js')).imagesetCommand],
  ['krm', async () => (await import('./krm.js')).krmCommand],
  ['audit', async () => (await import('./audit.js')).auditCommand],
]);

const HELP = new Set(['help', '--help', '-h']);
const VERSION = new Set(['version', '--version']);

/** `digest-pinner 0.1.0`; takes no arguments. */
function versionCommand(argv: readonly string[], io: CliIo): number {
  if (argv.length === 1 && HELP.has(argv[0] ?? '')) {
    writeLine(io.stdout, 'Usage: digest-pinner version\n\nPrints the version of digest-pinner (also: digest-pinner --version).');
    return 0;
  }
  if (argv.length > 0) throw new UsageError(`version takes no arguments, got ${JSON.stringify(argv[0])}`);
  writeLine(io.stdout, `digest-pinner ${io.version}`);
  return 0;
}

/** Where to read the flags of what ran: the command's own help when `command` is one. */
function helpHint(command: string | undefined): string {
  const known = command === 'serve' || (command !== undefined && COMMANDS.has(command));
  return known ? `digest-pinner ${command} --help` : 'digest-pinner --help';
}

/** Runs the command in argv; `onServing` receives a started server (serve keeps running). */
export async function runCli(argv: readonly string[], io: CliIo, onServing?: (server: RunningServer) => void): Promise<number | undefined> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined) {
      // A usage error like any other: the usage goes to stderr, stdout stays empty for pipes.
      writeLine(io.stderr, USAGE);
      return 2;
    }
    if (HELP.has(command)) {
      writeLine(io.stdout, USAGE);
      return 0;
    }
    if (VERSION.has(command)) return versionCommand(rest, io);
    if (command === 'serve') {
      const { startServer } = await import('./serve.js');
      const server = await startServer(rest, io);
      if (typeof server === 'number') return server;
      onServing?.(server);
      return undefined;
    }
    const load = COMMANDS.get(command);
    if (load === undefined) throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    return await (await load())(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      writeLine(io.stderr, `digest-pinner: ${error.message} (see ${helpHint(command)})`);
      return 2;
    }
    const code = error instanceof DigestPinnerError ? ` (${error.code})` : '';
    writeLine(io.stderr, `digest-pinner: ${describeError(error)}${code}`);
    return 1;
  }
}
