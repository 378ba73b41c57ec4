/**
 * The kube-apiserver series the chart's alerts read when the webhook cannot be reached (its own
 * metrics are then silent): with the webhook entries pointed at a port nothing listens on, a
 * real kube-apiserver counts the warn entry's calls as failing open and the strict entry's
 * (failurePolicy Fail) as rejections, under the names and labels the PrometheusRule and the
 * dashboard select.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from './cluster.js';
import { applyManifests, type ManifestDoc } from './host-webhook.js';
import { freePort } from '../harness/registry-process.js';
import { parseExposition, type Sample } from '../support/exposition.js';
import { renderedDashboardQueries, renderedRuleFile, selectedMetrics } from '../harness/monitoring.js';

const WARN = 'alerts-warn';
const STRICT = 'alerts-strict';
const IMAGE = 'registry.invalid/alerts/app:1.0';

let started: Cluster | undefined;
/** The PromQL of the chart's alerts and dashboard panels. */
let queries: string[] = [];
let series: Sample[] = [];
let strictAnswer = '';

beforeAll(async () => {
  queries = [...(await renderedRuleFile()).groups.flatMap((group) => group.rules.map((rule) => rule.expr)), ...(await renderedDashboardQueries())];
  const cluster = await startCluster({ controllerManager: false });
  started = cluster;
  // Nothing listens there: every call is refused, as with a crashed webhook or a blocking NetworkPolicy.
  const nowhere = await freePort();
  await applyManifests(cluster, nowhere, (doc: ManifestDoc) => doc.kind === 'MutatingWebhookConfiguration');
  // The chart's webhook.strict.failurePolicy: Fail, so the strict entry's failures are rejections.
  const configuration = JSON.parse(await cluster.kubectlOk(['get', 'mutatingwebhookconfiguration', 'digest-pinner', '-o', 'json'])) as { webhooks: { name: string }[] };
  const strictIndex = configuration.webhooks.findIndex((webhook) => webhook.name === 'strict.digest-pinner.io');
  expect(strictIndex).toBeGreaterThanOrEqual(0);
  await cluster.kubectlOk(['patch', 'mutatingwebhookconfiguration', 'digest-pinner', '--type=json', '-p', JSON.stringify([{ op: 'replace', path: `/webhooks/${strictIndex}/failurePolicy`, value: 'Fail' }])]);
  for (const [namespace, mode] of [[WARN, 'warn'], [STRICT, 'strict']] as const) {
    await cluster.kubectlOk(['create', 'namespace', namespace]);
    await cluster.kubectlOk(['label', 'namespace', namespace, `digest-pinner.io/mode=${mode}`]);
  }
  await cluster.kubectlOk(['create', 'deployment', 'app', `--image=${IMAGE}`, '-n', WARN]);
  const strict = await cluster.kubectl(['create', 'deployment', 'app', `--image=${IMAGE}`, '-n', STRICT]);
  strictAnswer = `${strict.code} ${strict.stderr}`;
  series = parseExposition(await cluster.kubectlOk(['get', '--raw', '/metrics']));
}, 600_000);

afterAll(async () => {
  await started?.stop();
});

describe('kube-apiserver /metrics after calls to an unreachable webhook', () => {
  it('rejected the strict namespace\'s Deployment because the webhook could not be called', () => {
    expect(strictAnswer).toMatch(/^1 .*failed calling webhook "strict\.digest-pinner\.io"/s);
  });

  it('counts the warn entry as failing open and the strict entry\'s rejection as a calling error, as the alerts select them', () => {
    const failOpen = series.filter((s) => s.name === 'apiserver_admission_webhook_fail_open_count' && s.labels['name'] === 'warn.digest-pinner.io');
    expect(failOpen.reduce((sum, s) => sum + s.value, 0)).toBeGreaterThanOrEqual(1);
    const rejected = series.filter((s) => s.name === 'apiserver_admission_webhook_rejection_count' && s.labels['name'] === 'strict.digest-pinner.io');
    expect(rejected.map((s) => s.labels['error_type'])).toContain('calling_webhook_error');
  });

  it('exposes every kube-apiserver metric a rule or dashboard panel queries', () => {
    const queried = [...new Set(queries.flatMap((expr) => selectedMetrics(expr)))].filter((name) => name.startsWith('apiserver_'));
    expect(queried.sort()).toEqual(['apiserver_admission_webhook_fail_open_count', 'apiserver_admission_webhook_rejection_count']);
    const exposed = new Set(series.map((s) => s.name));
    expect(queried.filter((name) => !exposed.has(name))).toEqual([]);
  });
});
