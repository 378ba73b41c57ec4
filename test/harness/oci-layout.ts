/**
 * Writes OCI image layouts (https://github.com/opencontainers/image-spec/blob/main/image-layout.md)
 * from nothing: a one-file gzip'd tar layer with unique content, a config, a
 * manifest, and for multi-arch an index over linux/amd64 and linux/arm64.
 * skopeo then copies them to the registries as they are.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { MEDIA_TYPE } from './media-types.js';

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly platform?: Platform;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface Platform {
  readonly architecture: string;
  readonly os: string;
}

export interface LayoutOptions {
  readonly multiArch: boolean;
  /** Mixed into the layer content; a random UUID is always added, so every layout is unique. */
  readonly seed: string;
}

const TAR_BLOCK = 512;
const MULTI_ARCH_PLATFORMS: readonly Platform[] = [
  { architecture: 'amd64', os: 'linux' },
  { architecture: 'arm64', os: 'linux' },
];
const SINGLE_PLATFORM: Platform = { architecture: 'amd64', os: 'linux' };
const REF_NAME = 'org.opencontainers.image.ref.name';

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Writes `value` NUL-terminated, right-aligned octal into a tar header field. */
function octal(header: Buffer, offset: number, width: number, value: number): void {
  header.write(value.toString(8).padStart(width - 1, '0'), offset, width - 1, 'ascii');
}

/** A ustar archive holding one regular file. */
export function tarOneFile(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(TAR_BLOCK);
  header.write(name, 0, 100, 'utf8');
  octal(header, 100, 8, 0o644);
  octal(header, 108, 8, 0);
  octal(header, 116, 8, 0);
  octal(header, 124, 12, content.length);
  octal(header, 136, 12, 0);
  header.write('0', 156, 1, 'ascii');
  header.write('ustar\u000000', 257, 8, 'ascii');
  header.fill(' ', 148, 156);
  const checksum = header.reduce((sum, byte) => sum + byte, 0);
  header.write(`${checksum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'ascii');
  const padding = Buffer.alloc((TAR_BLOCK - (content.length % TAR_BLOCK)) % TAR_BLOCK);
  return Buffer.concat([header, content, padding, Buffer.alloc(2 * TAR_BLOCK)]);
}

class LayoutWriter {
  constructor(private readonly dir: string) {}

  async blob(mediaType: string, data: Buffer): Promise<Descriptor> {
    const digest = sha256(data);
    await writeFile(join(this.dir, 'blobs', 'sha256', digest.slice('sha256:'.length)), data);
    return { mediaType, digest, size: data.length };
  }

  async json(mediaType: string, value: unknown): Promise<Descriptor> {
    return this.blob(mediaType, Buffer.from(JSON.stringify(value)));
  }

  async image(platform: Platform, seed: string): Promise<Descriptor> {
    const content = Buffer.from(`digest-pinner test image\nseed: ${seed}\nplatform: ${platform.os}/${platform.architecture}\nunique: ${randomUUID()}\n`);
    const tar = tarOneFile('digest-pinner-test.txt', content);
    const layer = await this.blob(MEDIA_TYPE.ociLayerGzip, gzipSync(tar));
    const config = await this.json(MEDIA_TYPE.ociConfig, {
      architecture: platform.architecture,
      os: platform.os,
      config: { Labels: { 'dev.digest-pinner.test.seed': seed } },
      rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
    });
    const manifest = await this.json(MEDIA_TYPE.ociManifest, {
      schemaVersion: 2,
      mediaType: MEDIA_TYPE.ociManifest,
      config,
      layers: [layer],
    });
    return manifest;
  }
}

/** Writes a layout to `dir` whose `index.json` names the top manifest `tag`; returns that manifest's descriptor. */
export async function writeImageLayout(dir: string, tag: string, options: LayoutOptions): Promise<Descriptor> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  const writer = new LayoutWriter(dir);
  let top: Descriptor;
  if (options.multiArch) {
    const manifests = await Promise.all(
      MULTI_ARCH_PLATFORMS.map(async (platform) => ({ ...(await writer.image(platform, options.seed)), platform })),
    );
    top = await writer.json(MEDIA_TYPE.ociIndex, { schemaVersion: 2, mediaType: MEDIA_TYPE.ociIndex, manifests });
  } else {
    top = await writer.image(SINGLE_PLATFORM, options.seed);
  }
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ ...top, annotations: { [REF_NAME]: tag } }],
  }));
  return top;
}
