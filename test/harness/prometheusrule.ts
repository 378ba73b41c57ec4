/**
 * The chart's PrometheusRule as Helm renders it (release digest-pinner in namespace
 * digest-pinner), and the metric names a rule's PromQL selects, read with Prometheus's own
 * grammar (its lezer parser), for the tests that check those metrics exist.
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

/** Renders the chart with metrics.prometheusRule.enabled and returns the PrometheusRule's spec. */
export async function renderedRuleFile(): Promise<RuleFile> {
  const helm = await helmBinary(4);
  const rendered = await runHelm(helm, ['template', 'digest-pinner', CHART_DIR, '--namespace', 'digest-pinner', '--set', 'metrics.prometheusRule.enabled=true', '--show-only', 'templates/prometheusrule.yaml']);
  if (rendered.code !== 0) throw new Error(`helm template: ${rendered.stderr}`);
  const docs = parseAllDocuments(rendered.stdout).map((doc) => doc.toJS() as { kind?: string; spec?: RuleFile });
  const spec = docs.find((doc) => doc.kind === 'PrometheusRule')?.spec;
  if (spec === undefined) throw new Error('no PrometheusRule rendered');
  return spec;
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
