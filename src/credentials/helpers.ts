/**
 * Docker credential helpers: `docker-credential-<name> get` with the server URL
 * on stdin answers `{"ServerURL","Username","Secret"}` on stdout, as docker runs
 * them for config.json's `credHelpers` and `credsStore`.
 *
 * - The server URL is the registry domain (`123.dkr.ecr.eu-west-1.amazonaws.com`),
 *   and `https://index.docker.io/v1/` for Docker Hub, as `docker login` stores it.
 * - Exit status non-zero with `credentials not found in native keychain` on stdout
 *   means "nothing for that registry": no credential, not a failure (docker's
 *   client does the same).
 * - Username `<token>` means the secret is an identity token. docker then sends it
 *   as an OAuth2 refresh token (`POST` to the token realm, `grant_type=refresh_token`).
 *   The registry client here only does `GET` token requests with Basic auth, so the
 *   identity token goes as the Basic password with the username `<token>`: enough
 *   for token services that accept a refresh token as a password (ACR), not for
 *   those that insist on the OAuth2 POST.
 *
 * Each run is killed after `timeoutMs`; answers are cached per registry for
 * `cacheTtlMs` (failures for a few seconds only), and concurrent lookups of one
 * registry share one run. The secret is never logged or put in a message.
 */
import { LRUCache } from 'lru-cache';
import { describeError } from '../errors.js';
import { DEFAULT_DOMAIN } from '../reference/index.js';
import { isRecord, member, parseJson } from '../json.js';
import { DOCKER_HUB_LOGIN_KEY } from './docker-auth.js';
import { registryHostOfKey } from './docker-config.js';
import { firstLineOf, runPlugin, type PluginResult } from './exec-plugin.js';
import type { Credential } from './types.js';

/** What asking a helper gave: a credential, nothing, or a failure to report. Notes never hold a secret. */
export type HelperOutcome =
  | { readonly kind: 'credential'; readonly credential: Credential }
  | { readonly kind: 'none'; readonly note: string }
  | { readonly kind: 'failed'; readonly note: string };

export interface CredentialHelperOptions {
  /** The helper suffix for a domain (DockerConfigCredentials.helperFor). */
  readonly helperFor: (domain: string) => string | undefined;
  /** Environment of the helpers; `PATH` is where `docker-credential-*` are looked for. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly timeoutMs?: number;
  readonly cacheTtlMs?: number;
}

export const HELPER_PREFIX = 'docker-credential-';
export const DEFAULT_HELPER_TIMEOUT_MS = 5_000;
export const DEFAULT_HELPER_CACHE_TTL_MS = 5 * 60_000;
/** How long a failed run is remembered, so a broken helper is not run for every image. */
const FAILURE_TTL_MS = 10_000;
const MAX_CACHED = 1000;
const NOT_FOUND = 'credentials not found in native keychain';
const TOKEN_USERNAME = '<token>';

/** The server URL docker hands a helper for a registry domain. */
export function helperServerUrl(domain: string): string {
  const host = registryHostOfKey(domain);
  return host === DEFAULT_DOMAIN ? DOCKER_HUB_LOGIN_KEY : host;
}

/** Parses a helper's `get` answer; a string says what is wrong with it (never quoting it). */
export function parseHelperAnswer(stdout: string, program: string): Credential | string {
  const answer = parseJson(stdout);
  if (answer === undefined) return 'answered something that is not JSON';
  if (!isRecord(answer)) return 'answered JSON that is not an object';
  const username = member(answer, 'Username');
  const secret = member(answer, 'Secret');
  if (typeof username !== 'string' || typeof secret !== 'string') return 'answered without a string Username and Secret';
  if (secret === '') return 'answered an empty Secret';
  const source = username === TOKEN_USERNAME ? `credential helper ${program} (identity token)` : `credential helper ${program}`;
  return { username, password: secret, source };
}

/** Runs docker credential helpers for registry domains, with a cache. */
export class DockerCredentialHelpers {
  readonly #options: CredentialHelperOptions;
  readonly #cache: LRUCache<string, HelperOutcome, string>;

  constructor(options: CredentialHelperOptions) {
    this.#options = options;
    this.#cache = new LRUCache<string, HelperOutcome, string>({
      max: MAX_CACHED,
      ttl: options.cacheTtlMs ?? DEFAULT_HELPER_CACHE_TTL_MS,
      fetchMethod: async (domain, _stale, { options: set, context }) => {
        const outcome = await this.#run(domain, context);
        if (outcome.kind === 'failed') set.ttl = FAILURE_TTL_MS;
        return outcome;
      },
    });
  }

  /** The program docker would run for `domain`, or undefined when no helper is configured for it. */
  programFor(domain: string): string | undefined {
    const suffix = this.#options.helperFor(domain);
    return suffix === undefined ? undefined : `${HELPER_PREFIX}${suffix}`;
  }

  /** The helper's answer for `domain`; undefined when no helper is configured for it. Never throws. */
  async lookup(domain: string): Promise<HelperOutcome | undefined> {
    const program = this.programFor(domain);
    if (program === undefined) return undefined;
    const key = registryHostOfKey(domain);
    const outcome = await this.#cache.fetch(key, { context: program });
    return outcome ?? { kind: 'failed', note: `${program} gave no answer` };
  }

  async #run(domain: string, program: string): Promise<HelperOutcome> {
    let result: PluginResult;
    try {
      result = await runPlugin({
        file: program,
        args: ['get'],
        env: this.#options.env,
        stdin: helperServerUrl(domain),
        timeoutMs: this.#options.timeoutMs ?? DEFAULT_HELPER_TIMEOUT_MS,
      });
    } catch (error) {
      return { kind: 'failed', note: `docker credential helper ${describeError(error)}` };
    }
    if (result.code !== 0) {
      if (result.stdout.includes(NOT_FOUND)) return { kind: 'none', note: `docker credential helper ${program} has no credentials for ${domain}` };
      return { kind: 'failed', note: `docker credential helper ${program} failed (exit ${String(result.code)}${firstLineOf(result.stderr)})` };
    }
    const parsed = parseHelperAnswer(result.stdout, program);
    if (typeof parsed === 'string') return { kind: 'failed', note: `docker credential helper ${program} ${parsed}` };
    return { kind: 'credential', credential: parsed };
  }
}
