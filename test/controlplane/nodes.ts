/** The fake nodes kwok manages: no kubelet, no containers; pods scheduled onto them are marked Running and Ready. */

export const FAKE_NODES = ['kwok-node-0', 'kwok-node-1', 'kwok-node-2'] as const;

export function fakeNode(name: string): object {
  const resources = { cpu: '32', memory: '256Gi', pods: '110' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      // the annotation kwok is told to manage; no taint: there are no other nodes, every pod may land here
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', type: 'kwok' },
    },
    spec: {},
    status: { allocatable: resources, capacity: resources, nodeInfo: { architecture: 'amd64', operatingSystem: 'linux', kubeletVersion: 'fake', kubeProxyVersion: 'fake' } },
  };
}

interface NodeList {
  items?: { metadata?: { name?: string }; status?: { conditions?: { type: string; status: string }[] } }[];
}

export function nodesReady(list: unknown, names: readonly string[]): boolean {
  const items = (list as NodeList).items ?? [];
  return names.every((n) => items.some((i) => i.metadata?.name === n && i.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')));
}
