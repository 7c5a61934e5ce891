import { Counter, Histogram } from 'prom-client';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Dispatcher, type Entries } from '../../src/controller/dispatch.ts';
import type { Result } from '../../src/controller/failure.ts';
import { STRAY_GUARDRAILS, type WorkItem } from '../../src/controller/workitem.ts';
import { KubeError } from '../../src/kube/errors.ts';

/** A dispatcher over recording entries; `answer` decides what each reconcile returns or throws. */
function setup(answer: (call: string) => Promise<Result> = async () => ({})) {
  const calls: string[] = [];
  const run = (call: string) => {
    calls.push(call);
    return answer(call);
  };
  const entries: Entries = {
    member: { reconcile: (ns, name) => run(`member ${ns}/${name}`) },
    policy: { reconcile: (name) => run(`policy ${name}`), deleteStrayGuardrails: () => run('stray') },
    workload: { reconcile: (kind, ns, name) => run(`workload ${kind} ${ns}/${name}`) },
  };
  const reconciles = new Counter({ name: 'r', help: 'r', labelNames: ['resource', 'result'] as const, registers: [] });
  const reconcileDuration = new Histogram({ name: 'd', help: 'd', labelNames: ['resource'] as const, registers: [] });
  let synced = true;
  const d = new Dispatcher({
    queue: { release: () => {} }, synced: () => synced, metrics: { reconciles, reconcileDuration }, log: pino({ level: 'silent' }),
    recheckCredentials: async () => {},
  });
  d.entries = entries;
  const counted = async () => Object.fromEntries((await reconciles.get()).values.map((v) => [`${v.labels.resource ?? ''} ${v.labels.result ?? ''}`, v.value]));
  return { d, calls, counted, unsync: () => (synced = false) };
}

describe('Dispatcher', () => {
  it('routes each item to its entry, and counts it under its resource', async () => {
    const { d, calls, counted } = setup();
    const items: WorkItem[] = [
      { kind: 'member', namespace: 'n', name: 'm' },
      { kind: 'policy', name: 'p' },
      { kind: 'workload', workload: 'DaemonSet', namespace: 'n', name: 'w' },
      STRAY_GUARDRAILS,
    ];
    for (const item of items) expect(await d.handle(item)).toEqual({});
    expect(calls).toEqual(['member n/m', 'policy p', 'workload DaemonSet n/w', 'stray']);
    expect(await counted()).toEqual({ 'teammember done': 1, 'keypolicy done': 2, 'workload done': 1 });
    expect(d.count).toBe(4);
  });

  it('waits for synced caches without reconciling', async () => {
    const { d, calls, counted, unsync } = setup();
    unsync();
    expect(await d.handle({ kind: 'policy', name: 'p' })).toEqual({ requeueAfterMs: 1_000 });
    expect(calls).toEqual([]);
    expect(await counted()).toEqual({ 'keypolicy requeue': 1 });
  });

  it('turns a known failure into its Result, and throws an unknown one again', async () => {
    const { d, counted } = setup(async (call) => {
      throw call.startsWith('member') ? new KubeError('conflict', 409, 'stale') : new Error('boom');
    });
    expect(await d.handle({ kind: 'member', namespace: 'n', name: 'm' })).toEqual({ retry: true });
    await expect(d.handle({ kind: 'policy', name: 'p' })).rejects.toThrow('boom');
    expect(await counted()).toEqual({ 'teammember retry': 1, 'keypolicy error': 1 });
  });

  it('fails (and so retries) a reconcile before the operator is prepared', async () => {
    const { d } = setup();
    d.entries = undefined;
    await expect(d.handle({ kind: 'policy', name: 'p' })).rejects.toThrow('operator not started');
  });
});
