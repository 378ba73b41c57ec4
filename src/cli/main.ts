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
]);

/** Runs the command in argv; `onServing` receives a started server (serve keeps running). */
export async function runCli(argv: readonly string[], io: CliIo, onServing?: (server: RunningServer) => void): Promise<number | undefined> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve': {
        const { startServer } = await import('./serve.js');
        const server = await startServer(rest, io);
        if (typeof server === 'number') return server;
        onServing?.(server);
        return undefined;
      }
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        writeLine(io.stdout, USAGE);
        return command === undefined ? 2 : 0;
      default: {
        const load = COMMANDS.get(command);
        if (load === undefined) throw new UsageError(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
        return await (await load())(rest, io);
      }
    }
  } catch (error) {
    if (error instanceof UsageError) {
      writeLine(io.stderr, `digest-pinner: ${error.message}`);
      return 2;
    }
    const code = error instanceof DigestPinnerError ? ` (${error.code})` : '';
    writeLine(io.stderr, `digest-pinner: ${describeError(error)}${code}`);
    return 1;
  }
}
