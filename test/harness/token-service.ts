/**
 * A Docker registry token service (the "token" auth of the distribution spec)
 * on 127.0.0.1 over HTTPS. It checks Basic credentials, grants anonymous pull
 * on a public repository prefix, and issues ES256 JWTs whose `x5c` header
 * carries the signing certificate, which Distribution verifies against the
 * test CA in its `auth.token.rootcertbundle`. Limited accounts may pull only
 * some repositories, as on a real token service with per-user access control.
 * Every request to the realm is counted, per account, and served as JSON on
 * GET /stats.
 */
import { X509Certificate, createPrivateKey, randomUUID, sign, timingSafeEqual, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TestPki } from './pki.js';

export interface TokenServiceOptions {
  readonly pki: TestPki;
  /** `aud` of every token and the `service` the registry announces. */
  readonly service: string;
  readonly issuer: string;
  readonly username: string;
  readonly password: string;
  /** Repositories under this prefix may be pulled without credentials. */
  readonly publicPrefix: string;
  /**
   * Accounts named `<username>-<alias>…` (same password) are limited: they are
   * granted only repositories under `repositoryPrefix`, and pull on the public
   * ones; every other scope is left out of their token, not refused.
   */
  readonly limited?: LimitedAccounts;
}

/** Which accounts are limited, and to what. */
export interface LimitedAccounts {
  /** e.g. `limited`: then `tester-limited`, `tester-limited-x` are limited accounts. */
  readonly alias: string;
  /** e.g. `granted/`. */
  readonly repositoryPrefix: string;
}

/** Counters served on GET /stats. */
export interface TokenStats {
  /** Every request to the realm, granted or refused. */
  readonly tokenRequests: number;
  readonly issued: number;
  readonly refused: number;
  /** Token requests per account name (`anonymous` for none). */
  readonly byAccount: Readonly<Record<string, number>>;
}

export interface TokenService {
  /** Realm URL, `https://127.0.0.1:PORT/token`. */
  readonly tokenUrl: string;
  readonly statsUrl: string;
  /**
   * The next `count` tokens are ones the registry already refuses (their `exp`
   * is past the registry's leeway) while the response claims the usual
   * `expires_in`: a token the client believes good, as after clock skew or
   * revocation.
   */
  issueRefused(count: number): void;
  close(): Promise<void>;
}

interface ResourceScope {
  readonly type: string;
  readonly name: string;
  readonly actions: readonly string[];
}

interface Caller {
  /** The user name given, or `anonymous`. */
  readonly account: string;
  readonly verdict: 'authenticated' | 'anonymous' | 'refused';
  /** An authenticated account limited to `limited.repositoryPrefix`. */
  readonly limited: boolean;
}

const TOKEN_TTL_SECONDS = 300;
/** How long before issue a refused token expired: past Distribution's 60 s of leeway for clock skew. */
const REFUSED_EXPIRED_SECONDS = 120;
const ANONYMOUS = 'anonymous';
/** `type:name:actions`; a name may itself hold colons only in exotic types, so split at the ends. */
const SCOPE = /^([a-z0-9()]+):(.+):([a-z*,]*)$/;
const BASIC = /^Basic\s+(\S+)$/i;

function base64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url');
}

/** `name` is `base` or `base-<suffix>`. */
function isAliasOf(name: string, base: string): boolean {
  return name === base || name.startsWith(`${base}-`);
}

function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** Parses `repository:foo/bar:pull,push` scopes; unknown shapes are ignored as the spec allows. */
export function parseScopes(scopes: readonly string[]): ResourceScope[] {
  return scopes.flatMap((scope) => scope.split(' ')).flatMap((scope) => {
    const match = SCOPE.exec(scope);
    if (!match) return [];
    const [, type = '', name = '', actions = ''] = match;
    return [{ type, name, actions: actions.split(',').filter((a) => a !== '') }];
  });
}

class TokenIssuer {
  private readonly stats = { tokenRequests: 0, issued: 0, refused: 0, byAccount: {} as Record<string, number> };
  /** Tokens still to issue refused; see TokenService.issueRefused. */
  refusedToIssue = 0;

  constructor(
    private readonly options: TokenServiceOptions,
    private readonly signingKey: KeyObject,
    private readonly x5c: readonly string[],
  ) {}

  snapshot(): TokenStats {
    return { ...this.stats, byAccount: { ...this.stats.byAccount } };
  }

  /**
   * Accounts are `username` and any `username-<suffix>` alias with the same
   * password, so parallel test files can count their own token requests.
   */
  identify(authorization: string | undefined, form: URLSearchParams | undefined): Caller {
    let user: string | undefined;
    let pass: string | undefined;
    const basic = authorization === undefined ? null : BASIC.exec(authorization);
    if (basic) {
      const decoded = Buffer.from(basic[1] ?? '', 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      user = colon < 0 ? decoded : decoded.slice(0, colon);
      pass = colon < 0 ? '' : decoded.slice(colon + 1);
    } else if (form?.get('grant_type') === 'password') {
      user = form.get('username') ?? '';
      pass = form.get('password') ?? '';
    }
    if (user === undefined || pass === undefined) return { account: ANONYMOUS, verdict: 'anonymous', limited: false };
    const { username, password, limited } = this.options;
    const known = user === username || user.startsWith(`${username}-`);
    const verdict = known && sameSecret(pass, password) ? 'authenticated' : 'refused';
    return { account: user, verdict, limited: limited !== undefined && isAliasOf(user, `${username}-${limited.alias}`) };
  }

  /**
   * Authenticated callers get what they ask for, limited ones only under their
   * prefix; everyone may pull under the public prefix.
   */
  grant(scopes: readonly ResourceScope[], caller: Caller): ResourceScope[] {
    if (caller.verdict !== 'authenticated') return this.publicPulls(scopes);
    const { limited } = this.options;
    if (!caller.limited || limited === undefined) return [...scopes];
    const own = scopes.filter((s) => s.type === 'repository' && s.name.startsWith(limited.repositoryPrefix));
    return [...own, ...this.publicPulls(scopes.filter((s) => !own.includes(s)))];
  }

  private publicPulls(scopes: readonly ResourceScope[]): ResourceScope[] {
    return scopes
      .filter((s) => s.type === 'repository' && s.name.startsWith(this.options.publicPrefix))
      .map((s) => ({ ...s, actions: s.actions.filter((a) => a === 'pull') }))
      .filter((s) => s.actions.length > 0);
  }

  count(account: string): void {
    this.stats.tokenRequests += 1;
    this.stats.byAccount[account] = (this.stats.byAccount[account] ?? 0) + 1;
  }

  refuse(): void {
    this.stats.refused += 1;
  }

  issue(subject: string, access: readonly ResourceScope[]): { token: string; expiresIn: number; issuedAt: Date } {
    const issuedAt = new Date();
    const now = Math.floor(issuedAt.getTime() / 1000);
    const header = { typ: 'JWT', alg: 'ES256', x5c: this.x5c };
    const refused = this.refusedToIssue > 0;
    if (refused) this.refusedToIssue -= 1;
    const exp = now + (refused ? -REFUSED_EXPIRED_SECONDS : TOKEN_TTL_SECONDS);
    const claims = {
      iss: this.options.issuer,
      sub: subject,
      aud: this.options.service,
      exp,
      nbf: Math.min(now - 1, exp - 1),
      iat: now,
      jti: randomUUID(),
      access,
    };
    const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
    // JWS wants ECDSA signatures as raw r‖s, not DER.
    const signature = sign('sha256', Buffer.from(signingInput), { key: this.signingKey, dsaEncoding: 'ieee-p1363' });
    this.stats.issued += 1;
    return { token: `${signingInput}.${base64url(signature)}`, expiresIn: TOKEN_TTL_SECONDS, issuedAt };
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams | undefined> {
  if (req.method !== 'POST') return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function handleToken(issuer: TokenIssuer, service: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'https://127.0.0.1');
  const form = await readForm(req);
  const params = form ?? url.searchParams;
  const caller = issuer.identify(req.headers.authorization, form);
  issuer.count(caller.account);
  if (caller.verdict === 'refused') {
    issuer.refuse();
    sendJson(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'invalid username or password' }] }, {
      'www-authenticate': 'Basic realm="digest-pinner test token service"',
    });
    return;
  }
  const requestedService = params.get('service');
  if (requestedService !== null && requestedService !== service) {
    issuer.refuse();
    sendJson(res, 400, { errors: [{ code: 'DENIED', message: `unknown service ${requestedService}` }] });
    return;
  }
  const requested = form ? parseScopes(form.getAll('scope')) : parseScopes(url.searchParams.getAll('scope'));
  const { token, expiresIn, issuedAt } = issuer.issue(caller.account, issuer.grant(requested, caller));
  sendJson(res, 200, { token, access_token: token, expires_in: expiresIn, issued_at: issuedAt.toISOString() });
}

/** Starts the token service on a free port of 127.0.0.1. */
export async function startTokenService(options: TokenServiceOptions): Promise<TokenService> {
  const [cert, key, signerCert, signerKey] = await Promise.all(
    [options.pki.serverCertFile, options.pki.serverKeyFile, options.pki.signerCertFile, options.pki.signerKeyFile].map((f) => readFile(f)),
  );
  const x5c = [new X509Certificate(signerCert ?? '').raw.toString('base64')];
  const issuer = new TokenIssuer(options, createPrivateKey(signerKey ?? ''), x5c);

  const server: Server = createServer({ cert, key }, (req, res) => {
    const path = new URL(req.url ?? '/', 'https://127.0.0.1').pathname;
    if (path === '/stats' && req.method === 'GET') {
      sendJson(res, 200, issuer.snapshot());
    } else if (path === '/token' && (req.method === 'GET' || req.method === 'POST')) {
      handleToken(issuer, options.service, req, res).catch((error: unknown) => {
        sendJson(res, 500, { errors: [{ code: 'UNKNOWN', message: String(error) }] });
      });
    } else {
      sendJson(res, 404, { errors: [{ code: 'NOT_FOUND', message: path }] });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const base = `https://127.0.0.1:${port}`;
  return {
    tokenUrl: `${base}/token`,
    statsUrl: `${base}/stats`,
    issueRefused: (count) => {
      issuer.refusedToIssue += count;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
