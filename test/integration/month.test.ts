/**
 * Money across rotations: a simulated month, a rotation every 3 days with a 6 hour overlap, traffic on the current
 * and the previous key trying to spend past the limit, daily and weekly reset boundaries inside overlaps. In no
 * window may a member's spend, over all its keys, exceed its limit by more than one request per key in use. Run
 * once with the two clocks agreeing, and once with OpenRouter's 10 minutes ahead, a rotation asked for every
 * evening so that each overlap ends just before the operator's midnight and just after OpenRouter's (windows
 * are OpenRouter's: what it enforces). And a month of keyTTL renewals, OpenRouter's clock ahead again: no key
 * expires under a member still valid, and the money bound holds across renewals. Prints the worst case found.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { windowStart } from '../../src/util/windows.ts';
import { startEnv, type Env } from './env.ts';
import { aMember, aPolicy } from '../kit/objects.ts';

let env: Env;
let n = '';
const HOUR = 3_600_000;
/** about $0.012 per request with openai/gpt-4o-mini */
const MAX_TOKENS = 20_000;
const MEMBERS = [
  { name: 'daily', reset: 'daily' as const, limitUSD: 0.1 },
  { name: 'weekly', reset: 'weekly' as const, limitUSD: 0.5 },
];
beforeAll(async () => {
  env = await startEnv({ orphanGrace: '1s' });
  env.clock.set(Date.parse('2027-03-01T00:00:00Z'));
  n = await env.newNamespace('month');
  for (const m of MEMBERS) {
    await env.apply(aPolicy(`month-${m.name}-${n}`, { budget: { limitUSD: m.limitUSD, reset: m.reset }, rotation: { every: '72h', overlap: '6h', overlapAllowancePercent: 10, retainDisabled: '1h' } }));
    await env.apply(aMember(n, m.name, `month-${m.name}-${n}`));
    await env.ready(n, m.name);
  }
});
afterAll(() => env.stop());

async function chat(apiKey: string): Promise<number | undefined> {
  const res = await fetch(`${env.emuUrl}/api/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'openai/gpt-4o-mini', max_tokens: MAX_TOKENS, messages: [{ role: 'user', content: 'hi' }] }) });
  if (res.status !== 200) {
    await res.body?.cancel();
    return undefined;
  }
  return ((await res.json()) as { usage: { cost: number } }).usage.cost;
}

/**
 * Users at work: each member's workloads spend on its current key and on the one before it (still working inside
 * its overlap), in a random order, until OpenRouter refuses (or a few requests). Spend is counted per OpenRouter
 * window (its clock: what it enforces).
 */
function users(members: readonly { name: string; reset: 'daily' | 'weekly' }[], seed: number) {
  const spent = new Map<string, number>();
  const keys = new Map<string, string[]>(members.map((m) => [m.name, []]));
  let maxRequest = 0;
  let random = seed;
  const rand = () => (random = (random * 48271) % 2147483647) / 2147483647;
  const spend = async () => {
    for (const m of members) {
      const current = (await env.secretData(n, `${m.name}-openrouter`))['OPENROUTER_API_KEY'] ?? '';
      const seen = keys.get(m.name) ?? [];
      if (seen.at(-1) !== current) seen.push(current);
      const both = [current, ...(seen.length > 1 ? [seen.at(-2) ?? ''] : [])];
      for (const apiKey of rand() < 0.5 ? both : both.toReversed()) {
        for (let i = 0; i < 1 + Math.floor(rand() * 6); i++) {
          const cost = await chat(apiKey);
          if (cost === undefined) break;
          maxRequest = Math.max(maxRequest, cost);
          const w = `${m.name}@${windowStart(m.reset, env.openRouterClock.now())}`;
          spent.set(w, (spent.get(w) ?? 0) + cost);
        }
      }
    }
  };
  return { spend, spent, get maxRequest() { return maxRequest; } };
}

function report(label: string, spent: Map<string, number>, members: typeof MEMBERS, rotations: number, maxRequest: number): void {
  let worst = { window: '', ratio: 0, overUSD: 0 };
  for (const [w, usd] of spent) {
    const limit = members.find((m) => w.startsWith(`${m.name}@`))?.limitUSD ?? 0;
    if (usd / limit > worst.ratio) worst = { window: w, ratio: usd / limit, overUSD: usd - limit };
  }
  process.stdout.write(`${label}: ${rotations} rotations, ${spent.size} windows, worst spend/limit ${worst.ratio.toFixed(4)} in ${worst.window} (${worst.overUSD.toFixed(4)} USD over; one request at most ${maxRequest.toFixed(4)} USD)\n`);
  for (const [w, usd] of spent) {
    const limit = members.find((m) => w.startsWith(`${m.name}@`))?.limitUSD ?? 0;
    expect(usd, `spend in ${w}`).toBeLessThanOrEqual(limit + 2 * maxRequest);
  }
}

it('a month of rotations never hands out a second budget', async () => {
  const u = users(MEMBERS, 7);
  let rotations = 0;
  for (let step = 0; step < 30 * 6; step++) {
    await u.spend();
    env.clock.advance(4 * HOUR);
    await env.op.sync();
    await env.settled(30_000, 200, 5_000);
  }
  for (const m of MEMBERS) rotations += (await env.member(n, m.name)).status?.rotation?.count ?? 0;
  expect(rotations).toBeGreaterThanOrEqual(2 * 9);
  report('month', u.spent, MEMBERS, rotations, u.maxRequest);
}, 600_000);

it("a month with OpenRouter's clock 10 minutes ahead, each overlap ending between its midnight and ours", async () => {
  const members = [
    { name: 'dskew', reset: 'daily' as const, limitUSD: 0.1 },
    { name: 'wskew', reset: 'weekly' as const, limitUSD: 0.5 },
  ];
  // passes at 19:55, 23:55, 03:55, ... on the operator's clock: 00:05, 04:05, ... on OpenRouter's
  env.clock.set(Date.parse('2027-05-01T19:55:00Z'));
  env.skew(10 * 60_000);
  try {
    for (const m of members) {
      await env.apply(aPolicy(`month-${m.name}-${n}`, { budget: { limitUSD: m.limitUSD, reset: m.reset }, rotation: { overlap: '4h', overlapAllowancePercent: 10, retainDisabled: '1h' } }));
      await env.apply(aMember(n, m.name, `month-${m.name}-${n}`));
      await env.ready(n, m.name);
    }
    const u = users(members, 11);
    for (let step = 0; step < 30 * 6; step++) {
      // every evening a rotation is asked for: its overlap ends at the next pass, at 23:55 here (00:05 there)
      if (new Date(env.clock.now()).getUTCHours() === 19) {
        for (const m of members) await env.kubectl(['annotate', 'tm', m.name, '-n', n, '--overwrite', `teamkeys.dev/rotate=${step}`]);
      }
      await env.op.sync();
      await env.settled(30_000, 200, 5_000);
      env.clock.advance(4 * HOUR);
      // users spend before the operator's next pass: OpenRouter may already have turned its window
      await u.spend();
    }
    let rotations = 0;
    for (const m of members) rotations += (await env.member(n, m.name)).status?.rotation?.count ?? 0;
    expect(rotations).toBeGreaterThanOrEqual(2 * 25);
    report('month with skew', u.spent, members, rotations, u.maxRequest);
  } finally {
    env.skew(0);
  }
}, 600_000);

it("a month of keyTTL renewals, OpenRouter's clock 10 minutes ahead: no key expires under a member still valid", async () => {
  const start = Date.parse('2027-06-01T00:00:00Z');
  const workshopEnds = start + 10 * 24 * HOUR + 5 * HOUR;
  const members = [
    // keyTTL 72h, renewed a third ahead (24h); keyTTL 30h renewed 8h ahead with a 2h overlap; a workshop member
    // whose last key ends with the member (no renewal for it)
    { name: 'ttl', reset: 'weekly' as const, limitUSD: 0.5, policy: { keyTTL: '72h' }, expiresAt: undefined },
    { name: 'short', reset: 'daily' as const, limitUSD: 0.1, policy: { keyTTL: '30h', renewBefore: '8h', rotation: { overlap: '2h', overlapAllowancePercent: 10 } }, expiresAt: undefined },
    { name: 'shop', reset: 'weekly' as const, limitUSD: 0.5, policy: { keyTTL: '72h' }, expiresAt: new Date(workshopEnds).toISOString().replace('.000Z', 'Z') },
  ];
  env.clock.set(start);
  env.skew(10 * 60_000);
  try {
    for (const m of members) {
      await env.apply(aPolicy(`month-${m.name}-${n}`, { budget: { limitUSD: m.limitUSD, reset: m.reset }, ...m.policy }));
      await env.apply(aMember(n, m.name, m.expiresAt ? { policy: `month-${m.name}-${n}`, expiresAt: m.expiresAt } : `month-${m.name}-${n}`));
      await env.ready(n, m.name);
    }
    const u = users(members, 13);
    let expiredUnderValid = 0;
    let checked = 0;
    /** Every key a valid member's workloads may use (the Secret's, and a previous one still draining) works at OpenRouter now. */
    const check = async () => {
      for (const m of members) {
        if (m.expiresAt && Date.parse(m.expiresAt) <= env.openRouterClock.now()) continue;
        const tm = await env.member(n, m.name);
        const hashes = [tm.status?.key?.hash, ...(tm.status?.previousKeys ?? []).filter((p) => p.state === 'Draining').map((p) => p.hash)];
        for (const hash of hashes) {
          if (!hash) continue;
          checked++;
          const ends = env.emu.store.getKey(hash).expiresAt;
          if (ends && Date.parse(ends) <= env.openRouterClock.now()) expiredUnderValid++;
        }
      }
    };
    for (let step = 0; step < 30 * 6; step++) {
      await env.op.sync();
      await env.settled(30_000, 200, 5_000);
      env.clock.advance(4 * HOUR);
      // the worst moment: four hours without a pass, users spending before the next one
      await check();
      await u.spend();
    }
    const status = await Promise.all(members.map(async (m) => (await env.member(n, m.name)).status));
    const renewals = status.map((x) => x?.rotation?.count ?? 0);
    process.stdout.write(`month of renewals: ${renewals.join(' / ')} renewals (ttl / short / shop), ${checked} key checks, ${expiredUnderValid} expired under a valid member\n`);
    expect(expiredUnderValid).toBe(0);
    expect(checked).toBeGreaterThan(3 * 30 * 6 * 0.3);
    // 72h keys renewed 24h ahead (spread up to 2.4h): about every 47h; 30h keys 8h ahead: about every 22h, at the 4-hourly pass after (24h)
    expect(renewals[0]).toBeGreaterThanOrEqual(14);
    expect(renewals[1]).toBeGreaterThanOrEqual(28);
    expect(status.slice(0, 2).every((x) => x?.rotation?.lastTrigger === 'Renewal')).toBe(true);
    // the workshop renewed until its last key could end with it, and never after: 10 days at about 47h apart
    expect(renewals[2]).toBeGreaterThanOrEqual(4);
    expect(renewals[2]).toBeLessThanOrEqual(5);
    expect(status[2]?.key?.expiresAt).toBe(members[2]?.expiresAt);
    report('month of renewals', u.spent, members, renewals.reduce((a, b) => a + b, 0), u.maxRequest);
  } finally {
    env.skew(0);
  }
}, 600_000);
