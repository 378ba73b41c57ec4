/**
 * The cluster benchmark's memory probe: the informers `serve` runs in a cluster (pull
 * secrets, ServiceAccounts, Namespaces) against BENCH_KUBECONFIG, and the V8 heap they
 * hold once synced, after full collections, over the heap before they started. It imports
 * src/ and runs only as cluster.mjs bundles it (with the production bundle's options).
 * Run with --expose-gc; speaks to cluster.mjs over IPC.
 */
import process from 'node:process';
import { performance } from 'node:perf_hooks';
import { loadKubeConfig, NamespaceInformer, PullSecretCache, PullSecretInformers, RelatedImageNamespaces } from '../src/kube/index.js';
import { collect, memory, quiet } from './probe.mjs';

const loaded = loadKubeConfig({ kubeconfig: process.env.BENCH_KUBECONFIG, env: {} });
if (loaded === undefined) throw new Error('BENCH_KUBECONFIG names no kubeconfig');
const { kubeConfig } = loaded;

await collect();
const before = await memory();
const began = performance.now();
const cache = new PullSecretCache();
const pullSecrets = new PullSecretInformers({ kubeConfig, cache, log: quiet });
const namespaces = new NamespaceInformer({ kubeConfig, namespaces: new RelatedImageNamespaces(), log: quiet });
await Promise.all([pullSecrets.start(), namespaces.start()]);
await Promise.all([pullSecrets.waitForSync(), namespaces.waitForSync()]);
const syncSeconds = (performance.now() - began) / 1000;
const synced = await memory();
await collect();
const settled = await memory();
process.send?.({
  secrets: cache.secretCount,
  serviceAccounts: cache.serviceAccountCount,
  namespaces: namespaces.heldObjects().length,
  syncSeconds,
  before,
  synced,
  settled,
});
await pullSecrets.stop();
await namespaces.stop();
process.exit(0);
