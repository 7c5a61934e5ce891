import { createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import type { Cluster } from '../kube/cluster.ts';
import { isKube } from '../kube/errors.ts';
import type { OpenRouterClient } from '../openrouter/client.ts';
import { OpenRouterError } from '../openrouter/errors.ts';
import type { Clock } from '../util/clock.ts';
import type { Recorder } from './events.ts';
import { errorMessage } from '../util/errors.ts';

/** A refused key is checked again after this, doubling up to the cap: a refusal that passes must not stop work. */
const RECHECK_MAX_MS = 5 * 60_000;

export type CredentialState =
  | { state: 'unknown' }
  | { state: 'valid'; label: string }
  | { state: 'invalid'; reason: 'SecretMissing' | 'KeyMissing' | 'NotManagementKey' | 'Rejected' | 'Unreachable'; message: string };

/**
 * The management key: read from a Secret in the operator's namespace, re-read periodically so a rotated key
 * is picked up without a restart, and checked with GET /key before use.
 */
export class Credentials {
  private key: string | undefined;
  private checked: string | undefined;
  current: CredentialState = { state: 'unknown' };
  private readonly cluster: Cluster;
  private readonly namespace: string;
  private readonly secretName: string;
  private readonly secretKey: string;
  private readonly log: Logger;
  private onValid: () => void = () => {};
  private readonly clock: Clock;
  private readonly recorder: Recorder | undefined;
  private readonly recheckBaseMs: number;
  private recheckMs: number;
  private recheckAt = 0;
  private secretRef: { name: string; namespace: string; uid: string } | undefined;

  constructor(o: { cluster: Cluster; namespace: string; secretName: string; secretKey: string; log: Logger; clock: Clock; recorder?: Recorder; recheckBaseMs: number }) {
    this.cluster = o.cluster;
    this.namespace = o.namespace;
    this.secretName = o.secretName;
    this.secretKey = o.secretKey;
    this.log = o.log;
    this.clock = o.clock;
    this.recorder = o.recorder;
    this.recheckBaseMs = o.recheckBaseMs;
    this.recheckMs = o.recheckBaseMs;
  }

  /** The key from the Secret. Reconciles run only while it is known valid (see `valid`); the check uses it too. */
  candidate(): string | undefined {
    return this.key;
  }

  /** OpenRouter refused the key mid-flight (revoked in the dashboard?): check it again on the next refresh. */
  recheck(): void {
    this.checked = undefined;
  }

  whenValid(cb: () => void): void {
    this.onValid = cb;
  }

  get valid(): boolean {
    return this.current.state === 'valid';
  }

  /** Reads the Secret and, when the key changed (or was never checked), validates it. */
  async refresh(client: Pick<OpenRouterClient, 'currentKey'>): Promise<void> {
    let key: string | undefined;
    try {
      const s = await this.cluster.readSecret(this.namespace, this.secretName, 'management key Secret');
      this.secretRef = s.metadata?.uid ? { name: this.secretName, namespace: this.namespace, uid: s.metadata.uid } : undefined;
      const raw = s.data?.[this.secretKey];
      key = raw === undefined ? undefined : Buffer.from(raw, 'base64').toString('utf8').trim();
      if (!key) return this.set({ state: 'invalid', reason: 'KeyMissing', message: `Secret ${this.namespace}/${this.secretName} has no data key "${this.secretKey}"` });
    } catch (e) {
      if (isKube(e, 'notFound')) return this.set({ state: 'invalid', reason: 'SecretMissing', message: `Secret ${this.namespace}/${this.secretName} not found` });
      throw e;
    }
    // an unchanged key is checked again only when the last check could not reach OpenRouter, or when a refusal's
    // recheck is due (backing off): a key refused for a minute must not stop all work until someone edits the Secret
    const now = this.clock.now();
    // (a standard key stays a standard key: only a rejection can pass)
    const refused = this.current.state === 'invalid' && this.current.reason === 'Rejected';
    const unreachable = this.current.state === 'invalid' && this.current.reason === 'Unreachable';
    if (key === this.checked && this.current.state !== 'unknown' && !unreachable && !(refused && now >= this.recheckAt)) return;
    if (key !== this.checked) this.recheckMs = this.recheckBaseMs;
    this.key = key;
    try {
      const info = await client.currentKey();
      this.checked = key;
      if (!info.isManagementKey) {
        return this.set({ state: 'invalid', reason: 'NotManagementKey', message: `the key in Secret ${this.namespace}/${this.secretName} (${info.label}) is a standard API key, not a management key; create one at https://openrouter.ai/settings/management-keys` });
      }
      this.set({ state: 'valid', label: info.label });
    } catch (e) {
      if (e instanceof OpenRouterError && (e.kind === 'unauthorized' || e.kind === 'forbidden')) {
        this.checked = key;
        this.backOff(now);
        return this.set({ state: 'invalid', reason: 'Rejected', message: `OpenRouter rejected the management key in Secret ${this.namespace}/${this.secretName}: ${e.message}` });
      }
      this.set({ state: 'invalid', reason: 'Unreachable', message: `cannot check the management key: ${errorMessage(e)}` });
    }
  }

  private backOff(now: number): void {
    this.recheckAt = now + this.recheckMs;
    this.recheckMs = Math.min(RECHECK_MAX_MS, this.recheckMs * 2);
  }

  private set(next: CredentialState): void {
    const changed = JSON.stringify(next) !== JSON.stringify(this.current);
    const was = this.current.state;
    this.current = next;
    if (!changed) return;
    if (next.state === 'valid') {
      this.recheckMs = this.recheckBaseMs;
      this.log.info({ label: next.label }, 'management key is valid');
      if (was !== 'valid') {
        if (was === 'invalid' && this.secretRef) void this.recorder?.normal({ apiVersion: 'v1', kind: 'Secret', metadata: this.secretRef }, 'ManagementKeyValid', `the management key (${next.label}) works again`);
        this.onValid();
      }
    } else if (next.state === 'invalid') {
      this.log.error({ reason: next.reason }, next.message);
      if (this.secretRef) void this.recorder?.warn({ apiVersion: 'v1', kind: 'Secret', metadata: this.secretRef }, 'ManagementKeyInvalid', `${next.reason}: ${next.message}`);
    }
  }
}

/** The key that HMACs key strings in Secret annotations: created once per cluster, shared by every replica. */
export async function loadHmacKey(cluster: Cluster, namespace: string, name: string): Promise<KeyObject> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const s = await cluster.readSecret(namespace, name, 'HMAC key Secret');
      const v = s.data?.['key'];
      if (v) return createSecretKey(Buffer.from(v, 'base64')); // prepared once: an HMAC from a Buffer prepares it per call
      throw new Error(`Secret ${namespace}/${name} has no data key "key"`);
    } catch (e) {
      if (!isKube(e, 'notFound')) throw e;
    }
    try {
      await cluster.createOwnSecret(namespace, {
        metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': 'teamkeys' } },
        data: { key: randomBytes(32).toString('base64') },
      });
    } catch (e) {
      if (!isKube(e, 'alreadyExists')) throw e; // another replica won the race; read theirs
    }
  }
  throw new Error(`could not read or create Secret ${namespace}/${name}`);
}
