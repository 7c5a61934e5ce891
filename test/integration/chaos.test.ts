/**
 * The fault suite's fixed-seed subset (`make chaos` runs it whole and prints the figures): the operator SIGKILLed
 * at random instants, kube-apiserver and etcd taken down mid-provisioning, OpenRouter failing every way at once,
 * the leader cut off from the API server.
 * Each on its own cluster with users at work; after each, once converged: no orphan key, no second key outside a
 * rotation's overlap, every member with a working key, and no restart the operator did not get from outside.
 */
import { expect, it } from 'vitest';
import { kills, outage, partition, storm, type Row } from '../chaos/scenarios.ts';

const SIZES = { members: 30, seed: 20261127, convergeTimeoutMs: 120_000 };
const expectKept = (row: Row, selfExits = 0) => {
  process.stdout.write(`${JSON.stringify(row)}\n`);
  expect({ orphans: row.orphans, doubleKeys: row.doubleKeys, withoutWorkingKey: row.withoutWorkingKey, selfExits: row.selfExits }).toEqual({ orphans: 0, doubleKeys: 0, withoutWorkingKey: 0, selfExits });
  expect(row.members).toBeGreaterThanOrEqual(SIZES.members / 2);
};

it('SIGKILLed at random instants, two replicas in turn', async () => {
  const { row } = await kills(SIZES, 8);
  expectKept(row);
}, 300_000);

it('kube-apiserver unreachable mid-provisioning: informers resume in the same process', async () => {
  const { row } = await outage(SIZES, 'kube-apiserver', 8_000);
  expectKept(row);
  expect(row.note).toBe('the same operator process throughout');
}, 300_000);

it('etcd restarted mid-provisioning', async () => {
  const { row } = await outage(SIZES, 'etcd', 5_000);
  expectKept(row);
  expect(row.note).toBe('the same operator process throughout');
}, 300_000);

it('OpenRouter failing every way at once: bounded calls, then full convergence', async () => {
  const { row } = await storm(SIZES, 15_000);
  expectKept(row);
  // the operator's own limiter: --rate-limit-per-second 100 and a burst of 20
  expect(row.maxCallsPerSecond).toBeLessThanOrEqual(120);
}, 300_000);

it('a leader cut off from the API server stops calling OpenRouter before the next one leads, then exits', async () => {
  const { row, gapMs } = await partition(SIZES);
  expectKept(row, 1);
  expect(gapMs).toBeGreaterThan(0);
}, 300_000);
