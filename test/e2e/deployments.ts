/** What the control plane has done with a Deployment, for tests that wait on it rather than sleep. */
import type { Cluster } from './cluster.js';

interface DeploymentState {
  metadata: { generation?: number };
  spec: { replicas?: number };
  status?: { observedGeneration?: number; replicas?: number };
}

/**
 * Whether the Deployment controller has acted on the Deployment's latest generation and made its
 * Pods: from then on its ReplicaSets are the ones that generation gives (a new template would
 * have added one by now).
 */
export async function deploymentCaughtUp(cluster: Pick<Cluster, 'kubectlOk'>, namespace: string, name: string): Promise<boolean> {
  const { metadata, spec, status } = JSON.parse(await cluster.kubectlOk(['get', 'deployment', name, '-n', namespace, '-o', 'json'])) as DeploymentState;
  return metadata.generation !== undefined && status?.observedGeneration === metadata.generation && status.replicas === spec.replicas;
}
