/** Starts the real webhook app over HTTPS against the test registries, and posts reviews to it. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/server/app.js';
import { skipList } from '../../src/admission/index.js';
import type { Mode, AdmissionReviewResponse } from '../../src/admission/index.js';
import { generateCertificates } from '../../src/certs/index.js';
import type { Credential } from '../../src/credentials/types.js';
import { RegistryClient, type RequestEvent } from '../../src/registry/index.js';
import { Resolver } from '../../src/resolve/index.js';
import type { TestRegistries } from '../helpers/registry-types.js';
import type { ImageRef } from '../../src/reference/types.js';

export interface TestWebhook {
  readonly url: string;
  readonly app: FastifyInstance;
  readonly resolver: Resolver;
  post(path: string, body: unknown, options?: { contentType?: string; query?: string }): Promise<{ status: number; json: unknown }>;
  review(path: string, body: unknown, query?: string): Promise<AdmissionReviewResponse>;
  close(): Promise<void>;
}

export interface TestWebhookOptions {
  readonly mode?: Mode;
  readonly skip?: readonly string[];
  readonly dropTag?: boolean;
  readonly deadlineMs?: number;
  /** Credentials the webhook tries for every image, in order (then anonymous). */
  readonly credentials?: readonly Credential[];
  /** Rewrite rules, as --config's `rewrites`. */
  readonly rewrite?: (ref: ImageRef) => ImageRef;
  /** Runs inside the handler before each credential lookup (lets a test hold a review in flight). */
  readonly beforeCredentials?: () => Promise<void>;
  /** Hears of every request the webhook's registry client makes (RegistryClientOptions.onRequest). */
  readonly onRequest?: (event: RequestEvent) => void;
}

export async function startTestWebhook(registries: TestRegistries, options: TestWebhookOptions = {}): Promise<TestWebhook> {
  const dir = await mkdtemp(join(tmpdir(), 'dp-webhook-'));
  const certs = await generateCertificates({ hosts: ['localhost', '127.0.0.1'], validDays: 1 });
  await writeFile(join(dir, 'ca.crt'), certs.caCert);
  const client = new RegistryClient({
    env: {},
    caFiles: [registries.caFile],
    insecureRegistries: [registries.plain.host],
    requestTimeoutMs: 5_000,
    userAgent: 'digest-pinner-test',
    ...(options.onRequest === undefined ? {} : { onRequest: options.onRequest }),
  });
  const resolver = new Resolver({ source: client, cacheTtlMs: 60_000, cacheMax: 1000, fetchTimeoutMs: 10_000 });
  const app = buildApp(
    {
      mode: options.mode ?? 'warn',
      deadlineMs: options.deadlineMs ?? 8_000,
      resolver,
      credentials: async () => {
        await options.beforeCredentials?.();
        return [...(options.credentials ?? []), undefined];
      },
      skip: skipList(options.skip ?? []),
      dropTag: options.dropTag ?? false,
      rewrite: options.rewrite,
      ready: () => true,
    },
    { https: { cert: certs.cert, key: certs.key } },
  );
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  const agent = new Agent({ connect: { ca: certs.caCert }, connections: 128 });
  const post = async (path: string, body: unknown, opts: { contentType?: string; query?: string } = {}) => {
    const response = await request(`${url}${path}${opts.query ?? ''}`, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': opts.contentType ?? 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.body.text();
    return { status: response.statusCode, json: text === '' ? undefined : (JSON.parse(text) as unknown) };
  };
  return {
    url,
    app,
    resolver,
    post,
    review: async (path, body, query) => {
      const { status, json } = await post(path, body, query === undefined ? {} : { query });
      if (status !== 200) throw new Error(`webhook answered ${status}: ${JSON.stringify(json)}`);
      return json as AdmissionReviewResponse;
    },
    close: async () => {
      await app.close();
      await agent.close();
      await client.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The decoded JSONPatch of a response, or undefined when it has none. */
export function decodedPatch(review: Pick<AdmissionReviewResponse, 'response'>): unknown[] | undefined {
  const { patch } = review.response;
  return patch === undefined ? undefined : (JSON.parse(Buffer.from(patch, 'base64').toString('utf8')) as unknown[]);
}

/** The references a response's patch writes into image fields (its `replace` operations), in order. */
export function pinnedImages(review: Pick<AdmissionReviewResponse, 'response'>): string[] {
  return (decodedPatch(review) ?? []).flatMap((op) => {
    const { op: kind, path, value } = op as { op: string; path: string; value: unknown };
    return kind === 'replace' && path.endsWith('/image') && typeof value === 'string' ? [value] : [];
  });
}

export interface PodReviewOptions {
  readonly uid: string;
  readonly namespace: string;
  /** The Pod's name. */
  readonly name: string;
  readonly dryRun?: boolean;
}

/** A Pod CREATE as kube-apiserver sends it for review, one container per image (`c0`, `c1`, …). */
export function podReview(images: readonly string[], { uid, namespace, name, dryRun = false }: PodReviewOptions) {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace,
      operation: 'CREATE',
      dryRun,
      object: { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace }, spec: { containers: images.map((image, i) => ({ name: `c${i}`, image })) } },
      oldObject: null,
    },
  };
}
