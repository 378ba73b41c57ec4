/** What a credential is, and what an admission asks for when it needs some. */
import type { ImageRef } from '../reference/types.js';
import type { Deadline } from '../timeout.js';

/** A username/password pair for one registry, and where it came from (for logs; never the secret). */
export interface Credential {
  readonly username: string;
  readonly password: string;
  /** Human-readable origin, e.g. `docker config /root/.docker/config.json` or `secret ns/name`. */
  readonly source: string;
  /** The namespace of the pull secret it came from; undefined for the webhook's own credentials (docs/rollouts.md, the tag ledger). */
  readonly tenant?: string | undefined;
}

/** Credentials to try, in order; `undefined` stands for an anonymous attempt. */
export type CredentialChain = readonly (Credential | undefined)[];

/** An image as credential lookups need it: `domain` (`host[:port]`) and `name` (`domain/path`). */
export interface ImageName {
  readonly domain: string;
  readonly name: string;
}

/** What an admission knows about where an image runs, to pick its credentials. */
export interface CredentialContext {
  readonly namespace: string | undefined;
  readonly kind: string;
  /** The pod spec (imagePullSecrets, serviceAccountName), untrusted JSON. */
  readonly podSpec: unknown;
  /** The admission's deadline: a lookup that must wait on a credential program stops waiting when it passes. */
  readonly deadline?: Deadline | undefined;
}

/** Finds the credentials to try for one image, in order. */
export type CredentialLookup = (ref: ImageRef, context: CredentialContext) => Promise<CredentialChain>;
