/**
 * A throwaway PKI made with the openssl CLI, all EC P-256: a CA, a serving
 * certificate for 127.0.0.1/localhost (IP SAN, so Go and Node verify it) and for
 * the names under digest-pinner.test (the names a proxy test gives a registry), and a
 * token-signing certificate whose chain (x5c) Distribution checks against the
 * CA named in `auth.token.rootcertbundle`.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './exec.js';

export interface TestPki {
  readonly caFile: string;
  readonly serverCertFile: string;
  readonly serverKeyFile: string;
  readonly signerCertFile: string;
  readonly signerKeyFile: string;
}

/** Our own config, so the system's openssl.cnf cannot add or clash with extensions. */
const OPENSSL_CONFIG = `
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost, DNS:*.digest-pinner.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[signer]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

const KEY_ARGS = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
const VALID_DAYS = '2';

/** Writes ca.pem, server.pem/-key.pem and token-signer.pem/-key.pem into `dir`. */
export async function createPki(dir: string): Promise<TestPki> {
  const config = join(dir, 'openssl.cnf');
  await writeFile(config, OPENSSL_CONFIG);
  const pki: TestPki = {
    caFile: join(dir, 'ca.pem'),
    serverCertFile: join(dir, 'server.pem'),
    serverKeyFile: join(dir, 'server-key.pem'),
    signerCertFile: join(dir, 'token-signer.pem'),
    signerKeyFile: join(dir, 'token-signer-key.pem'),
  };
  const caKey = join(dir, 'ca-key.pem');
  await run('openssl', ['req', '-config', config, '-x509', ...KEY_ARGS, '-keyout', caKey, '-out', pki.caFile,
    '-days', VALID_DAYS, '-subj', '/CN=digest-pinner test CA', '-extensions', 'ca']);
  // `req -CA` (OpenSSL 3) signs with the CA directly: no CSR or serial file.
  const issue = (subject: string, section: string, cert: string, key: string): Promise<string> =>
    run('openssl', ['req', '-config', config, '-x509', '-CA', pki.caFile, '-CAkey', caKey, ...KEY_ARGS,
      '-keyout', key, '-out', cert, '-days', VALID_DAYS, '-subj', subject, '-extensions', section]);
  await Promise.all([
    issue('/CN=127.0.0.1', 'server', pki.serverCertFile, pki.serverKeyFile),
    issue('/CN=digest-pinner test token signer', 'signer', pki.signerCertFile, pki.signerKeyFile),
  ]);
  return pki;
}
