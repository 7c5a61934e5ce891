/**
 * The fault scenarios, each on a fresh World and sized by the caller: `make chaos` runs them whole
 * (test/chaos/run.ts), `make test` a short fixed-seed subset (test/integration/chaos.test.ts). Each returns its
 * figures; the caller decides what must hold.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Partition } from './partition.ts';
import { prng, World, type Audit } from './world.ts';

export interface Row {
  scenario: string;
  members: number;
  /** seconds from the end of the fault to a clean audit */
  convergeSeconds: number;
  /** OpenRouter management calls during the scenario */
  calls: number;
  keysCreated: number;
  orphans: number;
  doubleKeys: number;
  withoutWorkingKey: number;
  /** the most management calls reaching OpenRouter in one second */
  maxCallsPerSecond: number;
  /** operator processes that exited on their own (a restart of its own) */
  selfExits: number;
  note: string;
}

export interface Sizes {
  members: number;
  seed: number;
  convergeTimeoutMs: number;
}

/** Runs `fault` on a fresh world while the users keep working; then converges and audits. */
async function scenario(name: string, s: Sizes, o: { replicas: 0 | 1 | 2; fault: (w: World) => Promise<string> }): Promise<{ row: Row; audit: Audit }> {
  const w = await World.start();
  let sampler: NodeJS.Timeout | undefined;
  try {
    for (let i = 0; i < o.replicas; i++) w.startOperator(o.replicas === 2);
    let done = false;
    const driving = w.drive({ members: s.members, seed: s.seed, until: () => done });
    const calls0 = w.calls();
    const keys0 = w.issued.all.length;
    let max = 0;
    let prev = w.calls();
    sampler = setInterval(() => {
      const now = w.calls();
      max = Math.max(max, now - prev);
      prev = now;
    }, 1_000);
    const live = () => w.created.size - w.deleted.size;
    const until = async (n: number) => {
      const deadline = performance.now() + 300_000;
      while (live() < n && performance.now() < deadline) await sleep(200);
    };
    let note: string;
    try {
      await until(s.members / 2); // half the fleet first: the fault strikes mid-provisioning
      note = await o.fault(w);
      await until(s.members); // the users go on until the whole fleet exists
    } finally {
      done = true;
      await driving;
    }
    // the users' last members exist; every replica the fault left down is started again (0: the fault's own)
    while (w.running().length < o.replicas) w.startOperator(o.replicas === 2);
    const { seconds, audit } = await w.converge(s.convergeTimeoutMs);
    const selfExits = w.operators.filter((p) => p.child.exitCode !== null && p.child.signalCode === null).length;
    return {
      audit,
      row: {
        scenario: name, members: audit.live, convergeSeconds: Math.round(seconds * 10) / 10, calls: w.calls() - calls0, keysCreated: w.issued.all.length - keys0,
        orphans: audit.orphans.length, doubleKeys: audit.doubles.length, withoutWorkingKey: audit.withoutWorkingKey.length + audit.pending.length, maxCallsPerSecond: max, selfExits, note,
      },
    };
  } finally {
    clearInterval(sampler);
    await w.stop();
  }
}

/** Waits for `ok()`, or throws after `ms`: a scenario that cannot go on must not hold its cluster forever. */
async function waitUntil(what: string, ms: number, ok: () => boolean): Promise<void> {
  const deadline = performance.now() + ms;
  while (!ok()) {
    if (performance.now() > deadline) throw new Error(`waited ${ms / 1000} s for ${what}`);
    await sleep(100);
  }
}

/** SIGKILL at random instants, `kills` times, alternating between two replicas on one Lease. */
export function kills(s: Sizes, count: number) {
  return scenario(`operator SIGKILLed ${count} times (two replicas in turn)`, s, {
    replicas: 2,
    fault: async (w) => {
      const rnd = prng(s.seed ^ 0x5eed);
      for (let i = 0; i < count; i++) {
        await sleep(200 + rnd() * 2_800);
        const victim = w.running()[i % 2] ?? w.running()[0];
        if (victim) await w.kill(victim);
        w.startOperator(true);
      }
      return `${count} kills, 0.2-3 s apart`;
    },
  });
}

/** kube-apiserver or etcd stopped for `downMs` while members are being provisioned. */
export function outage(s: Sizes, component: 'kube-apiserver' | 'etcd', downMs: number) {
  return scenario(`${component} down ${downMs / 1000} s mid-provisioning`, s, {
    replicas: 1,
    fault: async (w) => {
      const issued = () => w.issued.all.length;
      const before = issued();
      await waitUntil('keys being created', 60_000, () => issued() >= before + 5); // provisioning under way
      const pid = w.running()[0]?.child.pid;
      await w.cp.outage(component, downMs);
      const after = issued();
      await waitUntil('a key created after the outage', 120_000, () => issued() > after); // the operator works again
      return pid === w.running()[0]?.child.pid ? 'the same operator process throughout' : 'the operator process was replaced';
    },
  });
}

/** OpenRouter answering 429 with Retry-After, 500s, cut connections and commit-then-error for `ms`. */
export function storm(s: Sizes, ms: number) {
  return scenario(`OpenRouter storm ${ms / 1000} s (429, 500, cut, commit-then-error)`, s, {
    replicas: 1,
    fault: async (w) => {
      w.emu.faults.set([
        { kind: 'rateLimit', probability: 0.3, retryAfterSeconds: 1, status: 429, latencyMs: 0 },
        { kind: 'error', probability: 0.2, status: 500, latencyMs: 0, retryAfterSeconds: 1 },
        { kind: 'cut', probability: 0.1, status: 500, latencyMs: 0, retryAfterSeconds: 1 },
        { route: 'POST /api/v1/keys', kind: 'commitThenError', probability: 0.2, status: 502, latencyMs: 0, retryAfterSeconds: 1 },
      ], s.seed);
      await sleep(ms);
      w.emu.faults.clear();
      return 'faults on every management route';
    },
  });
}

/** Log lines of one JSON logger, as objects. */
const lines = (logs: readonly string[]) => logs.join('').split('\n').flatMap((l) => {
  try {
    return [JSON.parse(l) as { time: number; msg?: string; host?: string; route?: string }];
  } catch {
    return [];
  }
});

/**
 * The leader cut off from the API server (a black hole: its calls hang) while it can still reach OpenRouter. It must
 * stop calling OpenRouter before the standby becomes leader: no two leaders, ever. The emulator's log tells the two
 * apart by the name each calls it by; the deposed leader exits, as client-go's do (its restart is the Deployment's).
 */
export function partition(s: Sizes) {
  let gapMs = Number.NaN;
  return scenario('leader partitioned from the API server', s, {
    replicas: 0,
    fault: async (w) => {
      const server = new URL(w.cp.server);
      const cutOff = new Partition(server.hostname, Number(server.port));
      await cutOff.start();
      const kubeconfig = join(w.cp.dir, 'kubeconfig-partitioned');
      await writeFile(kubeconfig, (await readFile(w.cp.kubeconfigPath, 'utf8')).replace(w.cp.server, `https://127.0.0.1:${cutOff.port}`));
      try {
        const a = w.startOperator(true, { kubeconfig, openrouterHost: 'localhost' });
        await waitUntil('replica A to lead', 60_000, () => a.logged('became leader'));
        const b = w.startOperator(true);
        const fromA = (from: number) => lines(w.emuLog.slice(from)).filter((l) => l.host?.startsWith('localhost') && l.route === 'POST /api/v1/keys');
        await waitUntil('A at work', 60_000, () => fromA(0).length >= 5);
        // the cut comes while the leader has work queued and calls in flight: a burst of members, slow creates
        w.emu.faults.set([{ route: 'POST /api/v1/keys', kind: 'latency', latencyMs: 300, probability: 1, status: 500, retryAfterSeconds: 1 }]);
        const seen = w.emuLog.length;
        await Promise.all(Array.from({ length: 20 }, (_, i) => w.createMember(`burst${i}`)));
        await waitUntil('A to create keys', 60_000, () => fromA(seen).length > 0);
        cutOff.cut();
        const cutAt = Date.now();
        await waitUntil('replica B to lead', 60_000, () => b.logged('became leader'));
        const led = lines(b.logs).find((l) => l.msg === 'became leader')?.time ?? Number.NaN;
        // the new leader at work: it has created keys since it led
        await waitUntil('B at work', 60_000, () => lines(w.emuLog).some((l) => l.host?.startsWith('127.0.0.1') && l.route === 'POST /api/v1/keys' && l.time > led));
        const callsOfA = lines(w.emuLog).filter((l) => l.msg === 'request' && l.host?.startsWith('localhost'));
        const lastA = Math.max(...callsOfA.map((l) => l.time));
        gapMs = led - lastA;
        w.emu.faults.clear();
        // the deposed leader exits (within --shutdown-timeout: its informers cannot stop cleanly without a server)
        await Promise.race([a.exited, sleep(30_000)]);
        return `A cut off; its last OpenRouter call ${gapMs} ms before B led (${led - cutAt} ms after the cut)`;
      } finally {
        cutOff.heal();
        await cutOff.stop();
      }
    },
  }).then((r) => ({ ...r, gapMs }));
}
