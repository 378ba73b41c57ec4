export { createCa, generateCertificates, issueServingCertificate } from './generate.js';
export { daysUntilExpiry } from './expiry.js';
export type { CertificateSet, CertificateRequest, KeyPair, ServingRequest, Validity } from './generate.js';
export { ensureDevCertificates, developmentHosts } from './files.js';
export type { CertificatePaths } from './files.js';
