/**
 * The throwaway PKI a test control plane needs, made with the openssl CLI, all
 * EC P-256: a CA, kube-apiserver's serving certificate, client certificates
 * (admin, kube-controller-manager) and the service-account signing key pair.
 * `issueCertificate` is exported so later tests can sign a webhook's serving
 * certificate with the same CA (the apiserver then trusts it through caBundle).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Our own config, so the system's openssl.cnf cannot add or clash with extensions. */
const OPENSSL_CONFIG = `
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
`;

const KEY_ARGS = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
const VALID_DAYS = '3';

export interface CertificateAuthority {
  readonly dir: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export interface CertificateRequest {
  /** File stem: writes `<name>.crt` and `<name>.key` into the CA's directory. */
  readonly name: string;
  readonly commonName: string;
  /** Subject O= entries: Kubernetes reads them as the user's groups. */
  readonly organizations?: readonly string[];
  /** Subject alternative names for a serving certificate, e.g. `IP:127.0.0.1`, `DNS:localhost`. */
  readonly altNames?: readonly string[];
  readonly usage: 'server' | 'client' | 'both';
}

export interface IssuedCertificate {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface ControlPlanePki {
  readonly ca: CertificateAuthority;
  readonly apiserver: IssuedCertificate;
  readonly admin: IssuedCertificate;
  readonly controllerManager: IssuedCertificate;
  readonly controllerManagerServing: IssuedCertificate;
  /** kube-apiserver's client certificate towards aggregated API servers (--proxy-client-cert-file). */
  readonly frontProxyClient: IssuedCertificate;
  readonly serviceAccountKeyFile: string;
  readonly serviceAccountPublicKeyFile: string;
}

async function openssl(args: readonly string[]): Promise<void> {
  try {
    await execFileAsync('openssl', args, { timeout: 30_000 });
  } catch (error) {
    throw new Error(`openssl ${args.slice(0, 2).join(' ')} failed`, { cause: error });
  }
}

function subject(commonName: string, organizations: readonly string[] = []): string {
  const escape = (value: string): string => value.replace(/[/\\=]/g, (c) => `\\${c}`);
  return [...organizations.map((o) => `/O=${escape(o)}`), `/CN=${escape(commonName)}`].join('');
}

/** Creates a self-signed CA in `dir` (ca.crt / ca.key). */
export async function createCertificateAuthority(dir: string, commonName = 'digest-pinner e2e CA'): Promise<CertificateAuthority> {
  const config = join(dir, 'openssl.cnf');
  await writeFile(config, OPENSSL_CONFIG);
  const ca: CertificateAuthority = { dir, certFile: join(dir, 'ca.crt'), keyFile: join(dir, 'ca.key') };
  await openssl(['req', '-config', config, '-x509', ...KEY_ARGS, '-keyout', ca.keyFile, '-out', ca.certFile,
    '-days', VALID_DAYS, '-subj', subject(commonName), '-extensions', 'ca']);
  return ca;
}

/** Issues a leaf certificate signed by `ca`. */
export async function issueCertificate(ca: CertificateAuthority, request: CertificateRequest): Promise<IssuedCertificate> {
  const base = join(ca.dir, request.name);
  const issued: IssuedCertificate = { certFile: `${base}.crt`, keyFile: `${base}.key` };
  const usages = { server: 'serverAuth', client: 'clientAuth', both: 'serverAuth, clientAuth' }[request.usage];
  const extensions = [
    'basicConstraints = critical, CA:FALSE',
    'keyUsage = critical, digitalSignature',
    `extendedKeyUsage = ${usages}`,
    'subjectKeyIdentifier = hash',
    'authorityKeyIdentifier = keyid',
  ];
  if (request.altNames && request.altNames.length > 0) extensions.push(`subjectAltName = ${request.altNames.join(', ')}`);
  const extFile = `${base}.ext`;
  await writeFile(extFile, `${extensions.join('\n')}\n`);
  await openssl(['req', '-config', join(ca.dir, 'openssl.cnf'), '-new', ...KEY_ARGS, '-keyout', issued.keyFile,
    '-out', `${base}.csr`, '-subj', subject(request.commonName, request.organizations)]);
  await openssl(['x509', '-req', '-in', `${base}.csr`, '-CA', ca.certFile, '-CAkey', ca.keyFile,
    '-set_serial', `0x${randomBytes(16).toString('hex')}`, '-days', VALID_DAYS, '-sha256', '-extfile', extFile,
    '-out', issued.certFile]);
  return issued;
}

/** Everything kube-apiserver and kube-controller-manager need, written into `dir`. */
export async function createControlPlanePki(dir: string): Promise<ControlPlanePki> {
  const ca = await createCertificateAuthority(dir);
  const serviceAccountKeyFile = join(dir, 'sa.key');
  const serviceAccountPublicKeyFile = join(dir, 'sa.pub');
  const [apiserver, admin, controllerManager, controllerManagerServing, frontProxyClient] = await Promise.all([
    issueCertificate(ca, {
      name: 'apiserver',
      commonName: 'kube-apiserver',
      usage: 'server',
      altNames: ['IP:127.0.0.1', 'IP:10.96.0.1', 'DNS:localhost', 'DNS:kubernetes', 'DNS:kubernetes.default',
        'DNS:kubernetes.default.svc', 'DNS:kubernetes.default.svc.cluster.local'],
    }),
    issueCertificate(ca, { name: 'admin', commonName: 'system:admin', organizations: ['system:masters'], usage: 'client' }),
    issueCertificate(ca, { name: 'controller-manager', commonName: 'system:kube-controller-manager', usage: 'client' }),
    issueCertificate(ca, { name: 'controller-manager-serving', commonName: 'kube-controller-manager', usage: 'server',
      altNames: ['IP:127.0.0.1', 'DNS:localhost'] }),
    issueCertificate(ca, { name: 'front-proxy-client', commonName: 'front-proxy-client', usage: 'client' }),
    (async () => {
      await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', serviceAccountKeyFile]);
      await openssl(['pkey', '-in', serviceAccountKeyFile, '-pubout', '-out', serviceAccountPublicKeyFile]);
    })(),
  ]);
  return { ca, apiserver, admin, controllerManager, controllerManagerServing, frontProxyClient, serviceAccountKeyFile, serviceAccountPublicKeyFile };
}
