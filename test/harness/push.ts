/**
 * Builds a fresh OCI layout and copies it to a registry with skopeo, then asks
 * the registry (not our own bookkeeping) which digest it now serves.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PushOptions, PushedImage } from '../helpers/registry-types.js';
import { run } from './exec.js';
import { isIndexMediaType } from './media-types.js';
import { writeImageLayout } from './oci-layout.js';
import { getManifest, type RegistryEndpoint } from './registry-client.js';

export interface PushTarget extends RegistryEndpoint {
  /** A directory holding the CA as `ca.crt`, the form skopeo's --dest-cert-dir reads. */
  readonly certDir: string | undefined;
  /** Where push work dirs go (default os.tmpdir()). */
  readonly scratchDir?: string | undefined;
}

const SKOPEO_TIMEOUT_MS = 60_000;
const ACCEPT_ANYTHING_POLICY = JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] });

/**
 * skopeo's HTTP client (containers/image) is used for the token realm too, so
 * --dest-cert-dir makes it trust the token service as well as the registry.
 */
function skopeoCopyArgs(target: PushTarget, format: 'oci' | 'v2s2'): string[] {
  const args = ['copy', '--all', '--quiet', '--retry-times', '0', '--format', format];
  // An OCI layout pushed as OCI must arrive byte for byte; v2s2 is a conversion.
  if (format === 'oci') args.push('--preserve-digests');
  if (target.scheme === 'http') args.push('--dest-tls-verify=false');
  if (target.certDir !== undefined) args.push('--dest-cert-dir', target.certDir);
  if (target.username !== undefined) args.push('--dest-creds', `${target.username}:${target.password ?? ''}`);
  return args;
}

/** Reads back the digest, media type and child digests of `repository:tag` from the registry. */
export async function readBack(target: RegistryEndpoint, repository: string, tag: string): Promise<PushedImage> {
  const { digest, mediaType, body } = await getManifest(target, repository, tag);
  const platformDigests = isIndexMediaType(mediaType)
    ? ((JSON.parse(body.toString('utf8')) as { manifests?: { digest: string }[] }).manifests ?? []).map((m) => m.digest)
    : [];
  return { repository, tag, digest, mediaType, platformDigests };
}

/** Builds a unique image (an index if `multiArch`), pushes it as `repository:tag`, and reads it back. */
export async function pushImage(target: PushTarget, repository: string, tag: string, options: PushOptions = {}): Promise<PushedImage> {
  const format = options.format ?? 'oci';
  const work = await mkdtemp(join(target.scratchDir ?? tmpdir(), 'digest-pinner-push-'));
  try {
    const layout = join(work, 'layout');
    const built = await writeImageLayout(layout, tag, { multiArch: options.multiArch ?? false, seed: options.seed ?? `${repository}:${tag}` });
    const policy = join(work, 'policy.json');
    await writeFile(policy, ACCEPT_ANYTHING_POLICY);
    await run('skopeo', ['--policy', policy, '--tmpdir', work, ...skopeoCopyArgs(target, format),
      `oci:${layout}:${tag}`, `docker://${target.host}/${repository}:${tag}`], { timeoutMs: SKOPEO_TIMEOUT_MS });
    const pushed = await readBack(target, repository, tag);
    if (format === 'oci' && pushed.digest !== built.digest) {
      throw new Error(`${target.host}/${repository}:${tag} holds ${pushed.digest}, but the layout pushed was ${built.digest}`);
    }
    if (format === 'v2s2' && !pushed.mediaType.startsWith('application/vnd.docker.')) {
      throw new Error(`${target.host}/${repository}:${tag} was pushed as v2s2 but is served as ${pushed.mediaType}`);
    }
    return pushed;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
