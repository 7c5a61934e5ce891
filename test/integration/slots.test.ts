/** Scheduled rotations are bounded in number (--max-concurrent-rotations), and waiting for a slot is quiet. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventually } from './kube.ts';
import { startEnv, type Env } from './env.ts';
import { aMember, aPolicy } from '../kit/objects.ts';

let env: Env;
let n = '';
const HOUR = 3_600_000;
const NAMES = ['a', 'b', 'c'];
beforeAll(async () => {
  env = await startEnv({ maxConcurrentRotations: 1 });
  env.clock.set(Date.parse('2027-03-10T12:00:00Z'));
  n = await env.newNamespace('slots');
  await env.apply(aPolicy(`slots-${n}`, { rotation: { every: '10h', overlap: '1h' } }));
  for (const m of NAMES) {
    await env.apply(aMember(n, m, `slots-${n}`));
    await env.ready(n, m);
  }
});
afterAll(() => env.stop());

const counts = async () => Promise.all(NAMES.map(async (m) => (await env.member(n, m)).status?.rotation?.count ?? 0));
const draining = async () => (await Promise.all(NAMES.map(async (m) => ((await env.member(n, m)).status?.previousKeys ?? []).filter((p) => p.state === 'Draining').length))).reduce((a, b) => a + b, 0);

it('rotates one member at a time when the bound is 1, and the others wait without spinning', async () => {
  env.clock.advance(11 * HOUR);
  for (let round = 1; round <= NAMES.length; round++) {
    await env.op.sync();
    await eventually(async () => ((await counts()).reduce((a, b) => a + b, 0) === round) || undefined, 20_000, `${round} rotated`);
    // the members still due wait for the slot: the queue goes quiet instead of retrying every second
    await env.settled(30_000, 500, 10_000);
    expect(env.op.queue.idle(10_000), 'nothing due within 10 s: no retry every second while waiting').toBe(true);
    expect(await draining()).toBe(1);
    expect((await counts()).reduce((a, b) => a + b, 0)).toBe(round);
    env.clock.advance(HOUR + 60_000); // the overlap ends: the slot frees
  }
  await env.op.sync();
  await eventually(async () => ((await draining()) === 0) || undefined, 20_000, 'the last overlap ended');
  expect(await counts()).toEqual([1, 1, 1]);
});
