/**
 * Leader election on a coordination.k8s.io Lease with client-go's semantics: lease 15 s, renew deadline 10 s,
 * retry every 2 s. Another holder's lease counts as expired when its record has not changed for the lease
 * duration, judged by this process's own clock (clocks of different machines are never compared). A leader
 * that cannot renew within the deadline has lost: it stops leading (the process exits).
 */
import type { Logger } from 'pino';
import type { Clock } from '../util/clock.ts';
import { microTime } from './cluster.ts';
import { isKube } from './errors.ts';
import type { KubeHttp } from './http.ts';
import { errorMessage } from '../util/errors.ts';

/** A coordination.k8s.io/v1 Lease, as far as the election reads and writes it. */
interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string; leaseTransitions?: number };
}

export interface LeaderOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

export class LeaderElector {
  private readonly http: KubeHttp;
  private readonly o: Required<LeaderOptions>;
  private readonly clock: Clock;
  private readonly log: Logger;
  private observedRecord = '';
  private observedAt = 0;
  private lastRenew = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  leading = false;
  /** the identity holding the lease as last seen */
  holder = '';

  constructor(http: KubeHttp, o: LeaderOptions, clock: Clock, log: Logger) {
    this.http = http;
    this.o = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, ...o };
    this.clock = clock;
    this.log = log;
  }

  /** Runs until stop(): calls onStart when leadership is acquired and onLost when it is lost. */
  run(onStart: () => void, onLost: () => void): void {
    const tick = async () => {
      if (this.stopped) return;
      // a hung request must not keep a deposed leader working: an attempt counts as failed after the deadline
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), this.o.renewDeadlineMs);
      });
      const ok = await Promise.race([
        this.tryAcquireOrRenew().catch((e: unknown) => {
          this.log.warn({ err: errorMessage(e) }, 'lease update failed');
          return false;
        }),
        deadline,
      ]);
      clearTimeout(timer);
      const now = this.clock.now();
      if (ok) {
        this.lastRenew = now;
        if (!this.leading) {
          this.leading = true;
          this.log.info({ lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity }, 'became leader');
          onStart();
        }
      } else if (this.leading && now - this.lastRenew > this.o.renewDeadlineMs) {
        this.leading = false;
        this.log.error({ lease: `${this.o.namespace}/${this.o.name}`, holder: this.holder }, 'lost the lease');
        onLost();
        return;
      }
      if (!this.stopped) this.timer = setTimeout(() => void tick(), this.o.retryPeriodMs);
    };
    void tick();
  }

  private get path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.o.namespace}/leases`;
  }

  private read(): Promise<Lease> {
    return this.http.json<Lease>({ method: 'GET', path: `${this.path}/${this.o.name}` });
  }

  /** A replace guarded by the resourceVersion read: a concurrent writer makes it fail with a conflict. */
  private replace(lease: Lease): Promise<Lease> {
    return this.http.json<Lease>({ method: 'PUT', path: `${this.path}/${this.o.name}`, body: { ...lease, apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' } });
  }

  private spec(previous: Lease | undefined, now: number): Lease['spec'] {
    const transitions = previous?.spec?.leaseTransitions ?? 0;
    const wasMine = previous?.spec?.holderIdentity === this.o.identity;
    return {
      holderIdentity: this.o.identity,
      leaseDurationSeconds: Math.round(this.o.leaseDurationMs / 1000),
      acquireTime: wasMine && previous?.spec?.acquireTime ? previous.spec.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: wasMine ? transitions : transitions + (previous ? 1 : 0),
    };
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.clock.now();
    let lease: Lease;
    try {
      lease = await this.read();
    } catch (e) {
      if (!isKube(e, 'notFound')) throw e;
      await this.http.json({
        method: 'POST', path: this.path,
        body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.o.name, namespace: this.o.namespace }, spec: this.spec(undefined, now) },
      });
      this.holder = this.o.identity;
      return true;
    }
    const record = JSON.stringify(lease.spec ?? {});
    if (record !== this.observedRecord) {
      this.observedRecord = record;
      this.observedAt = now;
    }
    const holder = lease.spec?.holderIdentity ?? '';
    this.holder = holder;
    const durationMs = (lease.spec?.leaseDurationSeconds ?? 15) * 1000;
    if (holder !== '' && holder !== this.o.identity && now - this.observedAt < durationMs) return false;
    lease.spec = this.spec(lease, now);
    try {
      const updated = await this.replace(lease);
      this.observedRecord = JSON.stringify(updated.spec ?? {});
      this.observedAt = now;
      this.holder = this.o.identity;
      return true;
    } catch (e) {
      if (isKube(e, 'conflict')) return false; // someone else wrote first
      throw e;
    }
  }

  /** Stops electing; a leader gives the lease up so a standby takes over at once instead of after 15 s. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.read();
      if (lease.spec?.holderIdentity !== this.o.identity) return;
      const spec = lease.spec ?? {};
      spec.holderIdentity = '';
      spec.leaseDurationSeconds = 1;
      spec.renewTime = microTime(this.clock.now());
      lease.spec = spec;
      await this.replace(lease);
      this.log.info('released the lease');
    } catch (e) {
      this.log.warn({ err: errorMessage(e) }, 'could not release the lease');
    }
  }
}
