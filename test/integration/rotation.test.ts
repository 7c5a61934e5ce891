/** Rotation: on demand and on schedule, the overlap, the money rule, retirement, and what interrupts a rotation. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TeamMemberStatus } from '../../src/api/schema.ts';
import { MERGE, eventually } from './kube.ts';
import { startEnv, type Env } from './env.ts';
import { expectNoKeyStrings } from './scan.ts';
import { aMember, aPolicy } from '../kit/objects.ts';

let env: Env;
let n = '';
const HOUR = 3_600_000;
beforeAll(async () => {
  env = await startEnv({ orphanGrace: '1s' });
  // mid-month, so the hours and days this file moves through stay in one monthly window
  env.clock.set(Date.parse('2027-03-10T12:00:00Z'));
  n = await env.newNamespace('rotate');
  // $10 a month; during a 1h overlap the previous key may spend 10% of it ($1) beyond what it had spent
  await env.apply(aPolicy(`rot-${n}`, { budget: { limitUSD: 10, reset: 'monthly' }, rotation: { overlap: '1h', overlapAllowancePercent: 10, retainDisabled: '1h' } }));
  await env.apply(aPolicy(`sched-${n}`, { budget: { limitUSD: 10, reset: 'monthly' }, rotation: { every: '48h', overlap: '10m' } }));
});
afterAll(() => env.stop());
afterEach(() => env.emu.faults.clear());

const member = async (name: string, policy = `rot-${n}`) => {
  await env.apply(aMember(n, name, policy));
  return env.ready(n, name);
};
const status = async (name: string) => (await env.member(n, name)).status ?? {};
const annotate = (name: string, value: string) => env.kubectl(['annotate', 'tm', name, '-n', n, '--overwrite', `teamkeys.dev/rotate=${value}`]);
const emuKey = (hash: string) => env.emu.store.state.keys.find((k) => k.hash === hash);
const apiKeyOf = async (name: string) => (await env.secretData(n, `${name}-openrouter`))['OPENROUTER_API_KEY'] ?? '';
const rotated = (name: string, count: number) => eventually(async () => {
  const s = await status(name);
  return (s.rotation?.count ?? 0) >= count && !s.pendingKey ? s : undefined;
}, 20_000, `${name} rotated ${count} time(s)`);
/** Moves time for the operator and the emulator, then lets the operator look again. */
const later = async (ms: number) => {
  env.clock.advance(ms);
  await env.op.sync();
  await env.settled(30_000, 300, 5_000);
};
const previous = (s: TeamMemberStatus, hash: string) => s.previousKeys?.find((p) => p.hash === hash);

describe('rotation on demand', () => {
  it('issues a new key into the Secret, keeps the old one working for the overlap, and never hands out a second budget', async () => {
    const m = await member('ann');
    const oldHash = m.status?.key?.hash ?? '';
    const oldKey = await apiKeyOf('ann');
    env.emu.store.spend(env.emu.store.getKey(oldHash), { usd: 3 });
    await env.op.sync();
    await annotate('ann', 'first');
    const s = await rotated('ann', 1);
    expect(s.rotation).toMatchObject({ count: 1, lastTrigger: 'Requested', lastRequest: 'first' });
    const newHash = s.key?.hash ?? '';
    expect(newHash).not.toBe(oldHash);
    const newKey = await apiKeyOf('ann');
    expect(newKey).not.toBe(oldKey);
    // both work during the overlap; the pair may spend $10 in the month: old $3 + $1 allowance, new $6
    expect((await env.chat(oldKey)).status).toBe(200);
    expect((await env.chat(newKey)).status).toBe(200);
    expect(emuKey(oldHash)).toMatchObject({ disabled: false, limit: 4 });
    expect(emuKey(newHash)?.limit).toBe(6);
    expect(previous(s, oldHash)).toMatchObject({ state: 'Draining', spentUSD: 3, allowanceUSD: 1 });
    expect(s.conditions?.find((c) => c.type === 'Rotating')).toMatchObject({ status: 'True', reason: 'Draining' });
    await eventually(async () => (await env.events(n)).some((e) => e.regarding?.name === 'ann' && e.reason === 'KeyRotated') || undefined, 10_000, 'KeyRotated');

    // the same annotation value again rotates nothing
    await env.op.sync();
    await env.settled();
    expect((await status('ann')).rotation?.count).toBe(1);

    // the old key spends $0.5 more in the overlap; when the overlap ends it is disabled, and what it did not
    // spend of its allowance goes back to the new key: 10 - 3.5 = 6.5
    env.emu.store.spend(env.emu.store.getKey(oldHash), { usd: 0.5 });
    await later(HOUR + 60_000);
    const after = await status('ann');
    expect(emuKey(oldHash)?.disabled).toBe(true);
    expect(previous(after, oldHash)).toMatchObject({ state: 'Disabled' });
    // (3.5 plus the one probe request above)
    expect(emuKey(newHash)?.limit).toBeCloseTo(10 - (emuKey(oldHash)?.usage ?? 0), 6);
    expect(emuKey(oldHash)?.usage).toBeCloseTo(3.5, 3);
    expect(after.conditions?.find((c) => c.type === 'Rotating')).toMatchObject({ status: 'False' });
    expect((await env.chat(oldKey)).status).toBe(401);
    expect((await env.chat(newKey)).status).toBe(200);

    // after the retention the old key is deleted
    await later(HOUR + 60_000);
    expect(emuKey(oldHash)).toBeUndefined();
    expect(previous(await status('ann'), oldHash)).toMatchObject({ state: 'Deleted' });
  });

  it('a second value rotates again; a suspension ends the overlap at once', async () => {
    await member('bo');
    await annotate('bo', '1');
    const s1 = await rotated('bo', 1);
    const draining = s1.previousKeys?.find((p) => p.state === 'Draining')?.hash ?? '';
    await env.custom.patchNamespacedCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', namespace: n, plural: 'teammembers', name: 'bo', body: { spec: { suspended: true } } }, MERGE);
    await eventually(async () => (emuKey(draining)?.disabled && emuKey((await status('bo')).key?.hash ?? '')?.disabled) || undefined, 10_000, 'both keys disabled');
    await env.custom.patchNamespacedCustomObject({ group: 'teamkeys.dev', version: 'v1alpha1', namespace: n, plural: 'teammembers', name: 'bo', body: { spec: { suspended: false } } }, MERGE);
    await env.ready(n, 'bo');
    await annotate('bo', '2');
    const s2 = await rotated('bo', 2);
    expect(s2.rotation?.lastRequest).toBe('2');
    expect(emuKey(draining)?.disabled, 'the key drained earlier stays off').toBe(true);
  });

  it('deleting a member mid-overlap removes both keys', async () => {
    await member('cy');
    await annotate('cy', 'x');
    const s = await rotated('cy', 1);
    const hashes = [s.key?.hash ?? '', ...(s.previousKeys ?? []).map((p) => p.hash)];
    await env.kubectl(['delete', 'tm', 'cy', '-n', n]);
    for (const h of hashes) expect(emuKey(h), h).toBeUndefined();
  });

  it('a create OpenRouter refuses (400) leaves the active key as it was, and the request is tried again', async () => {
    const m = await member('fay');
    const hash = m.status?.key?.hash ?? '';
    env.emu.faults.set([{ route: 'POST /api/v1/keys', kind: 'error', times: 1, probability: 1, status: 400, latencyMs: 0, retryAfterSeconds: 0 }]);
    await annotate('fay', 'x');
    await eventually(async () => (await env.events(n)).some((e) => e.reason === 'CreateFailed' && e.regarding?.name === 'fay') || undefined, 10_000, 'CreateFailed');
    const s = await rotated('fay', 1);
    expect(s.previousKeys?.filter((p) => p.hash === hash).map((p) => p.state)).toEqual(['Draining']);
    expect(emuKey(hash)?.disabled).toBe(false);
    expect(s.rotation?.lastRequest).toBe('x');
  });

  it('survives a create that succeeds but answers 502: one rotation, nothing left behind', async () => {
    const m = await member('dee');
    env.emu.faults.set([{ route: 'POST /api/v1/keys', kind: 'commitThenError', times: 1, probability: 1, status: 502, latencyMs: 0, retryAfterSeconds: 0 }]);
    await annotate('dee', 'x');
    const s = await rotated('dee', 1);
    const live = env.emu.store.state.keys.filter((k) => k.name.includes(`/${n}/dee/`) && !k.disabled);
    expect(live.map((k) => k.hash).toSorted()).toEqual([s.key?.hash ?? '', m.status?.key?.hash ?? ''].toSorted());
    expect(previous(s, m.status?.key?.hash ?? '')).toMatchObject({ state: 'Draining' });
  });
});

describe('scheduled rotation', () => {
  it('rotates once the period has passed (spread per member), and shows when it will next', async () => {
    const m = await member('eve', `sched-${n}`);
    const next = Date.parse(m.status?.rotation?.nextRotationAt ?? '');
    const created = Date.parse(m.status?.key?.createdAt ?? '');
    expect(next).toBeGreaterThan(created + 48 * HOUR - 4.8 * HOUR - 1_000);
    expect(next).toBeLessThanOrEqual(created + 48 * HOUR);
    await later(24 * HOUR);
    expect((await status('eve')).rotation?.count).toBe(0);
    await later(24 * HOUR);
    const s = await rotated('eve', 1);
    expect(s.rotation?.lastTrigger).toBe('Scheduled');
    expect(Date.parse(s.rotation?.nextRotationAt ?? '')).toBeGreaterThan(Date.parse(s.key?.createdAt ?? '') + 40 * HOUR);
    await later(11 * 60_000);
    expect(emuKey(m.status?.key?.hash ?? '')?.disabled).toBe(true);
  });
});

it('counts rotations by trigger, overlaps ended by why, and keys still draining', async () => {
  const text = await env.op.metrics.registry.metrics();
  const value = (series: string) => Number(new RegExp(`^${series.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? 'NaN');
  // ann, bo twice, cy, fay, dee on request; eve on schedule
  expect(value('teamkeys_rotations_total{trigger="Requested"}')).toBe(6);
  expect(value('teamkeys_rotations_total{trigger="Scheduled"}')).toBe(1);
  // ann, bo's second, fay, dee and eve at the end of their overlaps (the clock moved two days); bo's first when it
  // was suspended; cy's went with the member
  expect(value('teamkeys_rotation_overlaps_ended_total{ended="overlap"}')).toBe(5);
  expect(value('teamkeys_rotation_overlaps_ended_total{ended="forced"}')).toBe(1);
  expect(value('teamkeys_keys_draining')).toBe(0);
  expect(text).toMatch(/^teamkeys_member_last_rotation_timestamp_seconds\{namespace="[^"]+",member="ann",policy="[^"]+"\} \d+/m);
});

it('leaks no key string', async () => {
  await expectNoKeyStrings(env, [n]);
});
