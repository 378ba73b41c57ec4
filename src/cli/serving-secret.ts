/**
 * serve's certificate from a Secret it manages itself (--tls-secret). Loaded only then:
 * it loads @kubernetes/client-node.
 */
import { createSecureContext } from 'node:tls';
import type { Logger } from 'pino';
import { DigestPinnerError } from '../errors.js';
import type { Metrics } from '../metrics/index.js';
import { kubeConfigFrom } from '../kube/config.js';
import { SelfManagedCertificates } from '../kube/self-managed.js';
import type { SecureContextTarget, SelfManagedSettings, ServingTls, TlsPair } from './serving-tls.js';

/** No serving certificate could be had from the Secret in time. */
export class TlsSecretError extends DigestPinnerError {
  readonly code = 'DP_ERR_TLS_SECRET';
}

export interface SelfManagedTlsOptions {
  readonly settings: SelfManagedSettings;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly identity: string;
  /** How long to wait for a first certificate. */
  readonly timeoutMs: number;
}

/** Starts managing the Secret and resolves once it holds a certificate to serve. */
export async function openSelfManagedTls(options: SelfManagedTlsOptions): Promise<ServingTls> {
  const { settings, log, metrics } = options;
  const secret = `${settings.namespace}/${settings.name}`;
  let target: SecureContextTarget | undefined;
  let current: TlsPair | undefined;
  const certificates = new SelfManagedCertificates({
    kubeConfig: kubeConfigFrom(settings.source).kubeConfig,
    namespace: settings.namespace,
    name: settings.name,
    webhook: settings.webhook,
    hosts: settings.hosts,
    timing: settings.timing,
    identity: options.identity,
    log,
    serve: (pair, notAfter) => {
      // Throws for a pair node:tls cannot use: the certificate being served then stays.
      if (target === undefined) createSecureContext(pair);
      else target.setSecureContext(pair);
      current = pair;
      metrics.servingCertificate(notAfter);
    },
    onStep: (step) => { metrics.certificateStep(step); },
    onFailure: () => { metrics.certificateFailure(); },
  });
  log.info({ secret, webhook: settings.webhook, hosts: settings.hosts, identity: options.identity }, 'self-managed certificates');
  certificates.start();
  try {
    await certificates.serving(AbortSignal.timeout(options.timeoutMs));
  } catch (error) {
    await certificates.stop();
    throw new TlsSecretError(`no serving certificate from Secret ${secret} within ${options.timeoutMs / 1000}s: see the warnings logged before`, { cause: error });
  }
  const initial = current;
  if (initial === undefined) throw new TlsSecretError(`no serving certificate from Secret ${secret}`);
  return {
    initial,
    caFile: undefined,
    follow: (server) => {
      target = server;
      // A certificate taken between the start and now.
      if (current !== undefined && current !== initial) server.setSecureContext(current);
    },
    ready: () => certificates.ready(),
    close: () => certificates.stop(),
  };
}
