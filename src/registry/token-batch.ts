/**
 * Token requests batched across repositories: the token requests for one realm
 * and credential made in one turn of the event loop (the images of one
 * admission, which reach the token service together once the registry's auth
 * scheme is known) become one request with several `scope` parameters, as the
 * Docker token spec allows.
 */
import { setImmediate } from 'node:timers';
import { credentialKey } from './credential-key.js';
import { RegistryFailure } from './failure.js';
import type { GrantedToken, TokenRequest } from './token.js';

/** A token for one request, and whether it was asked for together with other scopes. */
export interface BatchedToken extends GrantedToken {
  /** True when the request named scopes besides this one's: the token may not cover them all. */
  readonly shared: boolean;
}

/** How large one batched request may grow before the next starts. */
export interface BatchLimits {
  readonly maxScopes: number;
  /** Bound on the `scope=…` parameters' length, URL-encoded. */
  readonly maxQueryChars: number;
}

/**
 * 16 scopes and 2,000 characters keep the URL well under the usual 8 KiB
 * limits, and the token small: it lists what was granted, and goes in the
 * Authorization header of every manifest request.
 */
export const DEFAULT_BATCH_LIMITS: BatchLimits = { maxScopes: 16, maxQueryChars: 2000 };

/** Asks the token service for `scopes` with `request`'s realm, service and credential. */
export type ScopeFetch = (request: TokenRequest, scopes: readonly string[]) => Promise<GrantedToken>;

/** Requests that go out as one, and the scopes they ask for together (in order, without repeats). */
export interface Batch<T> {
  readonly members: readonly T[];
  readonly scopes: readonly string[];
}

interface Waiter {
  readonly request: TokenRequest;
  resolve(token: BatchedToken): void;
  reject(error: unknown): void;
}

/** Collects token requests per realm and credential, and sends each collection as few requests as the limits allow. */
export class TokenBatcher {
  private readonly pending = new Map<string, Waiter[]>();

  constructor(
    private readonly fetchScopes: ScopeFetch,
    private readonly limits: BatchLimits = DEFAULT_BATCH_LIMITS,
  ) {}

  /**
   * A token for `request`, asked for together with every other request for the
   * same realm and credential made before the event loop turns. The request
   * itself has no signal: the transport's timeout bounds it, and no one
   * waiter's deadline ends it for the others.
   */
  join(request: TokenRequest): Promise<BatchedToken> {
    return new Promise<BatchedToken>((resolve, reject) => {
      const key = batchKey(request);
      let waiters = this.pending.get(key);
      if (waiters === undefined) {
        waiters = [];
        this.pending.set(key, waiters);
        setImmediate(() => {
          this.flush(key);
        });
      }
      waiters.push({ request, resolve, reject });
    });
  }

  private flush(key: string): void {
    const waiters = this.pending.get(key) ?? [];
    this.pending.delete(key);
    for (const batch of splitBatch(waiters, this.limits)) void this.send(batch);
  }

  /** One request for the batch; settles every member, never rejects. */
  private async send(batch: Batch<Waiter>): Promise<void> {
    const [first] = batch.members;
    if (first === undefined) return;
    let granted: GrantedToken;
    try {
      granted = await this.fetchScopes(first.request, batch.scopes);
    } catch (error) {
      for (const waiter of batch.members) {
        if (asksForMore(batch, waiter) && worthAskingAlone(error)) this.alone(waiter);
        else waiter.reject(error);
      }
      return;
    }
    for (const waiter of batch.members) waiter.resolve({ ...granted, shared: asksForMore(batch, waiter) });
  }

  private alone(waiter: Waiter): void {
    this.fetchScopes(waiter.request, waiter.request.scopes).then(
      (granted) => {
        waiter.resolve({ ...granted, shared: false });
      },
      (error: unknown) => {
        waiter.reject(error);
      },
    );
  }
}

/**
 * Which requests may share one token request: same realm, service, credential
 * identity, registry and hosts allowed to receive the credential, so the
 * checks made on the realm and the failures reported hold for each of them.
 */
export function batchKey(request: TokenRequest): string {
  const { realm, service } = request.bearer;
  // Absent is not empty: absent means the registry's own host.
  const hosts = request.credentialHosts === undefined ? 'default' : `hosts ${[...request.credentialHosts].sort().join(' ')}`;
  return [realm, service ?? '', credentialKey(request.credential), request.registry.origin.href, String(request.registry.insecure), hosts].join('\0');
}

/**
 * Groups `members` in order into batches within `limits`. A member's scopes
 * are never split: one whose scopes alone exceed the limits gets a batch of
 * its own.
 */
export function splitBatch<T extends { readonly request: Pick<TokenRequest, 'scopes'> }>(members: readonly T[], limits: BatchLimits): Batch<T>[] {
  const batches: OpenBatch<T>[] = [];
  let open: OpenBatch<T> = { members: [], scopes: [], chars: 0 };
  for (const member of members) {
    if (open.members.length > 0 && !fits(open, member.request.scopes, limits)) {
      batches.push(open);
      open = { members: [], scopes: [], chars: 0 };
    }
    open.members.push(member);
    for (const scope of member.request.scopes) {
      if (open.scopes.includes(scope)) continue;
      open.scopes.push(scope);
      open.chars += scopeChars(scope);
    }
  }
  if (open.members.length > 0) batches.push(open);
  return batches.map(({ members: inBatch, scopes }) => ({ members: inBatch, scopes }));
}

interface OpenBatch<T> {
  readonly members: T[];
  readonly scopes: string[];
  chars: number;
}

function fits(batch: OpenBatch<unknown>, scopes: readonly string[], limits: BatchLimits): boolean {
  const added = scopes.filter((scope, i) => scopes.indexOf(scope) === i && !batch.scopes.includes(scope));
  const chars = added.reduce((sum, scope) => sum + scopeChars(scope), 0);
  return batch.scopes.length + added.length <= limits.maxScopes && batch.chars + chars <= limits.maxQueryChars;
}

/** Length of `&scope=…` as it goes into the URL. */
function scopeChars(scope: string): number {
  return new URLSearchParams([['scope', scope]]).toString().length + 1;
}

/** Whether the batch asked for scopes besides the member's own. */
function asksForMore(batch: Batch<Waiter>, waiter: Waiter): boolean {
  return batch.scopes.some((scope) => !waiter.request.scopes.includes(scope));
}

/**
 * A 4xx other than 401 and 429 may be the token service refusing several
 * scopes at once (400, 403, 404…): each request is then asked for alone.
 * Refused credentials (401), rate limits, 5xx and network failures would be
 * the same alone, so they go to every member as they are.
 */
function worthAskingAlone(error: unknown): boolean {
  if (!(error instanceof RegistryFailure)) return false;
  const { status } = error.options;
  return status !== undefined && status >= 400 && status < 500 && status !== 401 && status !== 429;
}
