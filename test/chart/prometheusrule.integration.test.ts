/**
 * The chart's PrometheusRule, as Helm renders it: `promtool check rules` and `promtool test rules`
 * (test/chart/prometheusrule.promtool.yaml: a firing and a silent test per alert), promtool being
 * the real program (scripts/build-promtool.sh builds it from the Go module proxy into ~/.cache);
 * and every metric of the webhook a rule or a dashboard panel queries is one a real `serve`
 * exposes on its metrics port.
 */
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Agent, request } from 'undici';
import { HELM_BUILD_TIMEOUT_MS, REPO_DIR } from '../harness/helm.js';
import { renderedDashboardQueries, renderedRuleFile, selectedMetrics, type AlertRule } from '../harness/monitoring.js';
import { runCli } from '../../src/cli/main.js';
import type { RunningServer } from '../../src/cli/serve.js';
import { captureIo } from '../support/cli.js';
import '../helpers/registry-types.js';

const PROMTOOL_SCRIPT = join(REPO_DIR, 'scripts/build-promtool.sh');
const PROMTOOL_TESTS = join(REPO_DIR, 'test/chart/prometheusrule.promtool.yaml');
/** Nothing listens on port 1: connections are refused at once. */
const UNREACHABLE_HOST = '127.0.0.1:1';
/** Series Prometheus makes itself, not scraped from anyone. */
const PROMETHEUS_OWN = new Set(['up']);
/** Declared without a cluster, but with series only once serve watches one (test/kube, test/e2e). */
const NEEDS_CLUSTER = new Set(['digest_pinner_informer_synced']);

interface PromtoolTests {
  readonly tests: readonly { readonly alert_rule_test?: readonly { readonly alertname: string; readonly exp_alerts: readonly unknown[] }[] }[];
}

interface Exec {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function exec(file: string, args: readonly string[], timeoutMs: number): Promise<Exec> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr: stderr || (error?.message ?? '') });
    });
  });
}

/** The names of the samples an exposition holds. */
function sampledNames(text: string): Set<string> {
  return new Set([...text.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/gm)].map(([, name = '']) => name));
}

/** The metric families an exposition declares (`# TYPE name type`), with the series names each may have. */
function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const [, name = '', type = ''] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name}${suffix}`);
  }
  return names;
}

let dir = '';
let promtool = '';
let rules: readonly AlertRule[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dp-promrule-'));
  const [ruleFile, built] = await Promise.all([renderedRuleFile(), exec('bash', [PROMTOOL_SCRIPT], HELM_BUILD_TIMEOUT_MS)]);
  promtool = built.stdout.trim().split('\n').at(-1) ?? '';
  if (built.code !== 0 || promtool === '') throw new Error(`${PROMTOOL_SCRIPT} exited ${built.code}:\n${built.stderr}`);
  rules = ruleFile.groups.flatMap((group) => group.rules);
  // promtool reads a Prometheus rule file: the PrometheusRule's spec is one.
  await writeFile(join(dir, 'rules.yaml'), JSON.stringify(ruleFile));
  await copyFile(PROMTOOL_TESTS, join(dir, 'tests.yaml'));
}, HELM_BUILD_TIMEOUT_MS);

afterAll(async () => {
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

describe('the PrometheusRule', () => {
  it('passes promtool check rules', async () => {
    const result = await exec(promtool, ['check', 'rules', join(dir, 'rules.yaml')], 60_000);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`SUCCESS: ${rules.length} rules found`);
  });

  it('has, for each alert, a promtool test where it fires and one where it stays silent', async () => {
    const tests = parse(await readFile(PROMTOOL_TESTS, 'utf8')) as PromtoolTests;
    const cases = tests.tests.flatMap((test) => test.alert_rule_test ?? []);
    const coverage = rules.map((rule) => ({
      alert: rule.alert,
      firing: cases.some((c) => c.alertname === rule.alert && c.exp_alerts.length > 0),
      silent: cases.some((c) => c.alertname === rule.alert && c.exp_alerts.length === 0),
    }));
    expect(coverage).toEqual(rules.map((rule) => ({ alert: rule.alert, firing: true, silent: true })));
    expect(rules.length).toBeGreaterThan(0);
  });

  it('passes promtool test rules: each alert fires with its labels and annotations, or stays silent', async () => {
    const result = await exec(promtool, ['test', 'rules', join(dir, 'tests.yaml')], 120_000);
    expect(result.stdout + result.stderr).toMatch(/SUCCESS/);
    expect(result.code).toBe(0);
  });
});

describe('every webhook metric a rule or dashboard panel queries', () => {
  const registries = inject('registries');
  const { plain } = registries;
  let server: RunningServer | undefined;
  let cwd = '';
  let exposed = new Set<string>();
  let sampled = new Set<string>();
  let panels: string[] = [];

  beforeAll(async () => {
    panels = await renderedDashboardQueries();
    cwd = await mkdtemp(join(tmpdir(), 'dp-promrule-serve-'));
    const { io } = captureIo({ cwd, homeDir: cwd });
    const code = await runCli(['serve', '--port', '0', '--metrics-port', '0', '--host', '127.0.0.1', '--insecure-registry', plain.host, '--log-level', 'silent'], io, (s) => (server = s));
    if (code !== undefined || server === undefined) throw new Error(`serve exited ${String(code)}`);
    const agent = new Agent({ connect: { ca: await readFile(join(cwd, 'certs', 'ca.crt')) } });
    // A pinned image, a tag the registry does not have, and a registry that refuses connections.
    const images = [`${plain.host}/${plain.images.single.repository}:v1`, `${plain.host}/${plain.images.single.repository}:no-such-tag`, `${UNREACHABLE_HOST}/nothing/here:v1`];
    const body = {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: 'rules-1',
        kind: { group: '', version: 'v1', kind: 'Pod' },
        namespace: 'x',
        operation: 'CREATE',
        object: { metadata: { name: 'p' }, spec: { containers: images.map((image, i) => ({ name: `c${i}`, image })) } },
      },
    };
    const response = await request(`${server.url}/mutate/strict?timeout=10s`, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(response.statusCode).toBe(200);
    await response.body.dump();
    await agent.close();
    const text = await (await request(`${server.metricsUrl}/metrics`)).body.text();
    exposed = exposedNames(text);
    sampled = sampledNames(text);
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    if (cwd !== '') await rm(cwd, { recursive: true, force: true });
  });

  it('is exposed on the metrics port of a real serve after admissions', () => {
    expect(panels.length).toBeGreaterThan(0);
    const queried = [...new Set([...rules.map((rule) => rule.expr), ...panels].flatMap((expr) => selectedMetrics(expr)))];
    const own = queried.filter((name) => name.startsWith('digest_pinner_'));
    expect(own.length).toBeGreaterThan(0);
    expect(own.filter((name) => !exposed.has(name))).toEqual([]);
    expect(own.filter((name) => !sampled.has(name) && !NEEDS_CLUSTER.has(name))).toEqual([]);
    // The rest are kube-apiserver's (test/e2e/alert-metrics.e2e.test.ts scrapes it) or Prometheus's own.
    expect(queried.filter((name) => !name.startsWith('digest_pinner_') && !name.startsWith('apiserver_admission_webhook_') && !PROMETHEUS_OWN.has(name))).toEqual([]);
  });
});
