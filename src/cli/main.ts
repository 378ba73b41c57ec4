/** Command dispatch; every command takes its arguments and an CliIo and returns an exit code. */
import { resolveCommand, RESOLVE_USAGE } from './resolve.js';
import { startServer, SERVE_USAGE, type RunningServer } from './serve.js';
import { UsageError } from './options.js';
import { certsCommand, CERTS_USAGE } from './certs.js';
import { pinCommand } from './pin.js';
import { checkCommand } from './check.js';
import { imagesetCommand } from './imageset.js';
import { krmCommand } from './krm.js';
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

/** The commands over manifests and references (pin.ts, check.ts, imageset.ts, krm.ts). */
const MANIFEST_COMMANDS: ReadonlyMap<string, (argv: readonly string[], io: CliIo) => Promise<number>> = new Map([
  ['pin', pinCommand],
  ['check', checkCommand],
  ['imageset', imagesetCommand],
  ['krm', krmCommand],
]);

/** Runs the command in argv; `onServing` receives a started server (serve keeps running). */
export async function runCli(argv: readonly string[], io: CliIo, onServing?: (server: RunningServer) => void): Promise<number | undefined> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve': {
        const server = await startServer(rest, io);
        if (server === undefined) return 0;
        onServing?.(server);
        return undefined;
      }
      case 'resolve':
        return await resolveCommand(rest, io);
      case 'certs':
        return await certsCommand(rest, io);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        writeLine(io.stdout, USAGE);
        return command === undefined ? 2 : 0;
      default: {
        const manifestCommand = MANIFEST_COMMANDS.get(command);
        if (manifestCommand === undefined) throw new UsageError(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
        return await manifestCommand(rest, io);
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

export { SERVE_USAGE, RESOLVE_USAGE, CERTS_USAGE };
