/**
 * The chart's PrometheusRule and Grafana dashboard as Helm renders them (release digest-pinner
 * in namespace digest-pinner), and the metric names their PromQL selects, read with
 * Prometheus's own grammar (its lezer parser), for the tests that check those metrics exist.
 */
import { parseAllDocuments } from 'yaml';
import { parser } from '@prometheus-io/lezer-promql';
import { CHART_DIR, helmBinary, runHelm } from './helm.js';

export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
}

/** The spec of the rendered PrometheusRule: a Prometheus rule file as it is. */
export interface RuleFile {
  readonly groups: readonly { readonly name: string; readonly rules: readonly AlertRule[] }[];
}

interface Rendered {
  readonly kind?: string;
  readonly spec?: RuleFile;
  readonly data?: Readonly<Record<string, string>>;
}

/** The one object `template` renders with `value` set to true. */
async function renderOne(value: string, template: string): Promise<Rendered> {
  const helm = await helmBinary(4);
  const rendered = await runHelm(helm, ['template', 'digest-pinner', CHART_DIR, '--namespace', 'digest-pinner', '--set', `${value}=true`, '--show-only', template]);
  if (rendered.code !== 0) throw new Error(`helm template: ${rendered.stderr}`);
  const [doc] = parseAllDocuments(rendered.stdout).map((d) => d.toJS() as Rendered | null).filter((d) => d !== null);
  if (doc === undefined) throw new Error(`${template} rendered nothing`);
  return doc;
}

/** Renders the chart with metrics.prometheusRule.enabled and returns the PrometheusRule's spec. */
export async function renderedRuleFile(): Promise<RuleFile> {
  const spec = (await renderOne('metrics.prometheusRule.enabled', 'templates/prometheusrule.yaml')).spec;
  if (spec === undefined) throw new Error('no PrometheusRule rendered');
  return spec;
}

/** Grafana's range variables, given the value Prometheus would see. */
const GRAFANA_RANGES = /\$__(rate_)?interval/g;

/** The PromQL of every panel of the dashboard ConfigMap, Grafana's range variables replaced by a range. */
export async function renderedDashboardQueries(): Promise<string[]> {
  const json = (await renderOne('metrics.dashboard.enabled', 'templates/configmap-dashboard.yaml')).data?.['digest-pinner.json'];
  if (json === undefined) throw new Error('no dashboard rendered');
  const dashboard = JSON.parse(json) as { panels: { targets: { expr: string }[] }[] };
  return dashboard.panels.flatMap((panel) => panel.targets.map((target) => target.expr.replace(GRAFANA_RANGES, '5m')));
}

/** The metric names `expr` selects; throws on text PromQL's grammar does not accept. */
export function selectedMetrics(expr: string): string[] {
  const names: string[] = [];
  parser.parse(expr).iterate({
    enter(node) {
      if (node.type.isError) throw new Error(`not PromQL at ${node.from}: ${expr}`);
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') names.push(expr.slice(node.from, node.to));
    },
  });
  return names;
}
