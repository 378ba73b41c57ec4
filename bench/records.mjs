/**
 * The rollout benchmark's memory probe: the PinRecord store `serve` runs (its informer and
 * the index admissions read) against BENCH_KUBECONFIG, and the V8 heap it holds once synced,
 * after full collections, over the heap before it started. It imports src/ and runs only as
 * rollout.mjs bundles it (with the production bundle's options). Run with --expose-gc;
 * speaks to rollout.mjs over IPC.
 */
import process from 'node:process';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadKubeConfig } from '../src/kube/index.js';
import { DEFAULT_RECORD_CACHE_BYTES, RecordStore } from '../src/rollout/record-store.js';
import { collect, memory, quiet } from './probe.mjs';

const SYNC_POLL_MS = 100;
const loaded = loadKubeConfig({ kubeconfig: process.env.BENCH_KUBECONFIG, env: {} });
if (loaded === undefined) throw new Error('BENCH_KUBECONFIG names no kubeconfig');

await collect();
const before = await memory();
const began = performance.now();
const store = new RecordStore({ kubeConfig: loaded.kubeConfig, log: quiet });
await store.start();
while (!store.synced()) await sleep(SYNC_POLL_MS);
const syncSeconds = (performance.now() - began) / 1000;
const synced = await memory();
await collect();
const settled = await memory();
process.send?.({ records: store.size, indexBytes: store.bytes, indexBound: DEFAULT_RECORD_CACHE_BYTES, syncSeconds, before, synced, settled });
await store.stop();
process.exit(0);
