/**
 * What kube-apiserver counts about calling a webhook entry, read from its /metrics. With
 * failurePolicy Ignore a failed call leaves no trace in the answer, only in
 * apiserver_admission_webhook_fail_open_count: how tests see that kube-apiserver called
 * an entry it cannot reach.
 */
import type { Cluster } from './cluster.js';

/** The sum of `metric`'s series for the webhook entry `entry` (e.g. strict.digest-pinner.io) in /metrics text. */
export function webhookCounter(metrics: string, metric: string, entry: string): number {
  let total = 0;
  for (const line of metrics.split('\n')) {
    if (line.startsWith(`${metric}{`) && line.includes(`name="${entry}"`)) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** Calls to `entry` that failed and were let through (failurePolicy Ignore), so far. */
export async function failOpenCount(cluster: Cluster, entry: string): Promise<number> {
  return webhookCounter(await cluster.kubectlOk(['get', '--raw', '/metrics']), 'apiserver_admission_webhook_fail_open_count', entry);
}
