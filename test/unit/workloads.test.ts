import type { V1Deployment } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { formatGenerations, parseGenerations, restartDecision, rolledOut, secretsUsed, startedAfter } from '../../src/controller/workloads.ts';

const deployment = (o: { annotations?: Record<string, string>; template?: Record<string, string>; created?: string; generation?: number; status?: V1Deployment['status'] } = {}): V1Deployment => ({
  metadata: { name: 'web', namespace: 'n', uid: 'u', generation: o.generation ?? 1, creationTimestamp: new Date(o.created ?? '2027-03-01T00:00:00Z'), ...(o.annotations ? { annotations: o.annotations } : {}) },
  spec: {
    replicas: 2, selector: {},
    template: {
      metadata: o.template ? { annotations: o.template } : {},
      spec: {
        containers: [{ name: 'a', envFrom: [{ secretRef: { name: 'ann-openrouter' } }], env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'bo-openrouter', key: 'k' } } }] }],
        volumes: [{ name: 'v', secret: { secretName: 'cy-openrouter' } }, { name: 'p', projected: { sources: [{ secret: { name: 'dee-openrouter' } }] } }],
      },
    },
  },
  status: o.status ?? { observedGeneration: o.generation ?? 1, replicas: 2, updatedReplicas: 2, availableReplicas: 2 },
});
const gens = (entries: [string, number, number?][]) => new Map(entries.map(([s, g, since]) => [s, { generation: g, rotatingSince: since }]));

describe('which Secrets a workload uses', () => {
  it('reads envFrom, env, volumes and projected volumes, or the annotation when set', () => {
    expect(secretsUsed(deployment())).toEqual(['ann-openrouter', 'bo-openrouter', 'cy-openrouter', 'dee-openrouter']);
    expect(secretsUsed(deployment({ annotations: { 'teamkeys.dev/secrets': 'x, y,,x' } }))).toEqual(['x', 'y']);
  });
  it('round-trips the generations record, sorted', () => {
    expect(formatGenerations(parseGenerations('b=2,a=1,bad,c=x'))).toBe('a=1,b=2');
  });
});

describe('restart or not', () => {
  const at = (iso: string) => Date.parse(iso);
  it.each([
    ['first sight: record, no restart', undefined, gens([['ann-openrouter', 1]]), { kind: 'record', value: 'ann-openrouter=1', secrets: [] }],
    ['nothing moved', 'ann-openrouter=1', gens([['ann-openrouter', 1]]), { kind: 'none' }],
    ['a generation moved on: restart', 'ann-openrouter=1', gens([['ann-openrouter', 2]]), { kind: 'restart', value: 'ann-openrouter=2', secrets: ['ann-openrouter'] }],
    ['two moved: one restart naming both', 'ann-openrouter=1,bo-openrouter=4', gens([['ann-openrouter', 2], ['bo-openrouter', 5]]), { kind: 'restart', value: 'ann-openrouter=2,bo-openrouter=5', secrets: ['ann-openrouter', 'bo-openrouter'] }],
    ['first sight while a rotation that began after the workload drains: restart', undefined, gens([['ann-openrouter', 2, at('2027-03-05T00:00:00Z')]]), { kind: 'restart', value: 'ann-openrouter=2', secrets: ['ann-openrouter'] }],
    ['first sight while a rotation that began before the workload drains: record', undefined, gens([['ann-openrouter', 2, at('2027-02-01T00:00:00Z')]]), { kind: 'record', value: 'ann-openrouter=2', secrets: [] }],
  ] as const)('%s', (_what, recorded, current, want) => {
    expect(restartDecision(deployment(recorded ? { annotations: { 'teamkeys.dev/key-generations': recorded } } : {}), current)).toEqual(want);
  });
});

describe('rolled out or not', () => {
  it('needs the generation in the pod template and every replica updated and available', () => {
    const done = { kind: 'Deployment' as const, obj: deployment({ template: { 'teamkeys.dev/key-generations': 'ann-openrouter=2' } }) };
    expect(rolledOut(done, 'ann-openrouter', 2)).toBe(true);
    expect(rolledOut(done, 'ann-openrouter', 3)).toBe(false);
    const rolling = { kind: 'Deployment' as const, obj: deployment({ template: { 'teamkeys.dev/key-generations': 'ann-openrouter=2' }, status: { observedGeneration: 1, replicas: 3, updatedReplicas: 1, availableReplicas: 2 } }) };
    expect(rolledOut(rolling, 'ann-openrouter', 2)).toBe(false);
    const unobserved = { kind: 'Deployment' as const, obj: deployment({ generation: 2, template: { 'teamkeys.dev/key-generations': 'ann-openrouter=2' }, status: { observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 2 } }) };
    expect(rolledOut(unobserved, 'ann-openrouter', 2)).toBe(false);
  });
  it('a workload created during the overlap and rolled out started with the new key', () => {
    const w = { kind: 'Deployment' as const, obj: deployment({ created: '2027-03-05T01:00:00Z' }) };
    expect(startedAfter(w, Date.parse('2027-03-05T00:00:00Z'))).toBe(true);
    expect(startedAfter(w, Date.parse('2027-03-06T00:00:00Z'))).toBe(false);
  });
});
