import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Cluster } from '../kube/cluster.ts';
import { isKube } from '../kube/errors.ts';
import type { OpenRouterClient } from '../openrouter/client.ts';
import { OpenRouterError } from '../openrouter/errors.ts';

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

  constructor(o: { cluster: Cluster; namespace: string; secretName: string; secretKey: string; log: Logger }) {
    this.cluster = o.cluster;
    this.namespace = o.namespace;
    this.secretName = o.secretName;
    this.secretKey = o.secretKey;
    this.log = o.log;
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
  async refresh(client: OpenRouterClient): Promise<void> {
    let key: string | undefined;
    try {
      const s = await this.cluster.readSecret(this.namespace, this.secretName);
      const raw = s.data?.[this.secretKey];
      key = raw === undefined ? undefined : Buffer.from(raw, 'base64').toString('utf8').trim();
      if (!key) return this.set({ state: 'invalid', reason: 'KeyMissing', message: `Secret ${this.namespace}/${this.secretName} has no data key "${this.secretKey}"` });
    } catch (e) {
      if (isKube(e, 'notFound')) return this.set({ state: 'invalid', reason: 'SecretMissing', message: `Secret ${this.namespace}/${this.secretName} not found` });
      throw e;
    }
    if (key === this.checked && this.current.state !== 'unknown' && !(this.current.state === 'invalid' && this.current.reason === 'Unreachable')) return;
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
        return this.set({ state: 'invalid', reason: 'Rejected', message: `OpenRouter rejected the management key in Secret ${this.namespace}/${this.secretName}: ${e.message}` });
      }
      this.set({ state: 'invalid', reason: 'Unreachable', message: `cannot check the management key: ${e instanceof Error ? e.message : String(e)}` });
    }
  }

  private set(next: CredentialState): void {
    const changed = JSON.stringify(next) !== JSON.stringify(this.current);
    const wasValid = this.current.state === 'valid';
    this.current = next;
    if (!changed) return;
    if (next.state === 'valid') {
      this.log.info({ label: next.label }, 'management key is valid');
      if (!wasValid) this.onValid();
    } else if (next.state === 'invalid') {
      this.log.error({ reason: next.reason }, next.message);
    }
  }
}

/** The key that HMACs key strings in Secret annotations: created once per cluster, shared by every replica. */
export async function loadHmacKey(cluster: Cluster, namespace: string, name: string): Promise<Buffer> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const s = await cluster.readSecret(namespace, name);
      const v = s.data?.['key'];
      if (v) return Buffer.from(v, 'base64');
      throw new Error(`Secret ${namespace}/${name} has no data key "key"`);
    } catch (e) {
      if (!isKube(e, 'notFound')) throw e;
    }
    try {
      await cluster.createSecret(namespace, {
        metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': 'teamkeys' } },
        data: { key: randomBytes(32).toString('base64') },
      });
    } catch (e) {
      if (!isKube(e, 'alreadyExists')) throw e; // another replica won the race; read theirs
    }
  }
  throw new Error(`could not read or create Secret ${namespace}/${name}`);
}
