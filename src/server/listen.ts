/** Where the webhook and its metrics listen: every address, IPv6 and IPv4, unless told otherwise. */
import type { FastifyInstance } from 'fastify';

/** The unspecified IPv6 address: IPv6 and, through IPv4-mapped addresses, IPv4 connections (dual stack). */
export const DUAL_STACK_HOST = '::';
/** Where the webhook listens when the kernel has no IPv6. */
export const IPV4_ONLY_HOST = '0.0.0.0';

/**
 * Listens on `host`; without one on `::` (reachable over IPv6 and IPv4, as kube-apiserver and
 * kubelet on an IPv6 single-stack cluster need), or on 0.0.0.0 where the kernel has no IPv6
 * at all (a node booted with ipv6.disable=1 refuses IPv6 sockets: EAFNOSUPPORT), which must
 * not crash-loop the webhook. Resolves to the address listened on.
 */
export async function listenWebhook(app: FastifyInstance, port: number, host: string | undefined): Promise<string> {
  if (host !== undefined) return app.listen({ port, host });
  try {
    return await app.listen({ port, host: DUAL_STACK_HOST });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EAFNOSUPPORT') throw error;
    app.log.warn(`IPv6 is not available on this node (EAFNOSUPPORT): listening on ${IPV4_ONLY_HOST}, IPv4 only`);
    return app.listen({ port, host: IPV4_ONLY_HOST });
  }
}
