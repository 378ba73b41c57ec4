/** PEM bundles: the CA files of the configuration and the registry client's trust. */

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----/g;

/** The certificates of a PEM bundle, each trimmed and with LF line ends; text around them is ignored. */
export function splitPem(bundle: string): string[] {
  return (bundle.match(PEM_CERTIFICATE) ?? []).map((pem) => pem.replace(/\r\n/g, '\n').trim());
}
