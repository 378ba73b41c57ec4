/**
 * The image's SBOM (SPDX 2.3 JSON) from what the build already has, no extra tool:
 * `npm sbom` for the npm packages the bundle is built from (production dependencies;
 * tree-shaking keeps a subset of them), the base's /var/lib/dpkg/status for the Debian
 * packages, and rootfs.sh's node.json for the Node binary. One document per architecture.
 *
 *   node scripts/image/sbom.mjs ARCH ROOTFS_OUTDIR > sbom-ARCH.spdx.json
 * ROOTFS_OUTDIR is where scripts/image/rootfs.sh wrote dpkg-status and node.json.
 * SOURCE_DATE_EPOCH dates the document (default: now).
 */
import { Buffer } from 'node:buffer';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const SOURCE = 'https://github.com/digest-pinner/digest-pinner';

/** dpkg's status file: one paragraph of `Field: value` lines (continuations indented) per package. */
export function parseDpkgStatus(text) {
  return text.split(/\n\s*\n/).filter((paragraph) => paragraph.trim() !== '').map((paragraph) => {
    const fields = {};
    let last;
    for (const line of paragraph.split('\n')) {
      if (/^\s/.test(line) && last !== undefined) fields[last] += `\n${line.trim()}`;
      else {
        const match = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
        if (match === null) throw new Error(`not a dpkg status line: ${JSON.stringify(line)}`);
        [, last] = match;
        fields[last] = match[2];
      }
    }
    return fields;
  });
}

/** An SPDX identifier: letters, digits, `.` and `-` only. */
function spdxId(...parts) {
  return `SPDXRef-${parts.join('-').replace(/[^A-Za-z0-9.-]/g, '.')}`;
}

function purl(type, name, version, qualifiers) {
  return { referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: `pkg:${type}/${name}@${encodeURIComponent(version)}${qualifiers}` };
}

/** Combines npm's SPDX document with the Debian packages and Node of one architecture's image. */
export function imageSbom({ npmSbom, dpkgStatus, node, arch, version, created }) {
  const npmRoot = npmSbom.documentDescribes[0];
  const image = spdxId('Image', 'digest-pinner', version, arch);
  const debian = parseDpkgStatus(dpkgStatus).map((fields) => ({
    name: fields.Package,
    SPDXID: spdxId('Package', 'deb', fields.Package, fields.Version),
    versionInfo: fields.Version,
    supplier: `Organization: ${fields.Maintainer}`,
    downloadLocation: 'NOASSERTION',
    filesAnalyzed: false,
    licenseDeclared: 'NOASSERTION',
    externalRefs: [purl('deb', `debian/${fields.Package}`, fields.Version, `?arch=${fields.Architecture}&distro=debian-12`)],
  }));
  const nodeBinary = {
    name: node.package,
    SPDXID: spdxId('Package', 'node', node.package, node.version),
    versionInfo: node.version,
    description: 'Node.js, the binary of the npm registry package',
    downloadLocation: `https://registry.npmjs.org/${node.package}/-/${node.package}-${node.version}.tgz`,
    filesAnalyzed: false,
    licenseDeclared: 'MIT',
    checksums: [{ algorithm: 'SHA512', checksumValue: Buffer.from(node.integrity.replace(/^sha512-/, ''), 'base64').toString('hex') }],
    externalRefs: [purl('npm', node.package, node.version, '')],
  };
  const imagePackage = {
    name: 'digest-pinner',
    SPDXID: image,
    versionInfo: version,
    description: `The container image, linux/${arch}`,
    primaryPackagePurpose: 'CONTAINER',
    downloadLocation: SOURCE,
    filesAnalyzed: false,
    licenseDeclared: 'NOASSERTION',
  };
  const contained = [npmRoot, nodeBinary.SPDXID, ...debian.map((pkg) => pkg.SPDXID)];
  return {
    ...npmSbom,
    name: `digest-pinner-${version}-linux-${arch}`,
    documentNamespace: `${SOURCE}/spdx/${version}/linux-${arch}`,
    creationInfo: { created, creators: ['Tool: scripts/image/sbom.mjs', ...npmSbom.creationInfo.creators] },
    documentDescribes: [image],
    packages: [imagePackage, ...npmSbom.packages, nodeBinary, ...debian],
    relationships: [
      { spdxElementId: 'SPDXRef-DOCUMENT', relatedSpdxElement: image, relationshipType: 'DESCRIBES' },
      ...contained.map((id) => ({ spdxElementId: image, relatedSpdxElement: id, relationshipType: 'CONTAINS' })),
      ...npmSbom.relationships.filter((r) => r.relationshipType !== 'DESCRIBES'),
    ],
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [arch, dir] = process.argv.slice(2);
  if (arch === undefined || dir === undefined) {
    process.stderr.write('usage: node scripts/image/sbom.mjs ARCH ROOTFS_OUTDIR\n');
    process.exit(2);
  }
  const npmSbom = JSON.parse(execFileSync('npm', ['sbom', '--sbom-format', 'spdx', '--sbom-type', 'application', '--omit', 'dev'], { cwd: REPO, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }));
  const epoch = process.env.SOURCE_DATE_EPOCH;
  const sbom = imageSbom({
    npmSbom,
    dpkgStatus: readFileSync(join(dir, 'dpkg-status'), 'utf8'),
    node: JSON.parse(readFileSync(join(dir, 'node.json'), 'utf8')),
    arch,
    version: JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version,
    created: (epoch === undefined ? new Date() : new Date(Number(epoch) * 1000)).toISOString().replace(/\.\d{3}Z$/, 'Z'),
  });
  process.stdout.write(`${JSON.stringify(sbom, null, 2)}\n`);
}
