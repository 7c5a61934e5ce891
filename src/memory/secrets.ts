/**
 * In-memory member Secrets behind the SecretStore port (domain/secret.ts): create and replace guarded as the API
 * server guards them (a replace by resourceVersion), dry runs that store nothing, refusals on demand (as an
 * invalid or over-quota Secret is refused), and an informer cache that can lag behind. For whole-pass tests and
 * simulations.
 */
import { SecretRejected } from '../domain/errors.ts';
import type { SecretObject, SecretStore } from '../domain/secret.ts';
import { KubeError } from '../kube/errors.ts';
import type { Landing } from './members.ts';

const id = (ns: string, name: string) => `${ns}/${name}`;

export class MemorySecrets implements SecretStore {
  private readonly landing: Landing<'secret' | 'secret-delete'>;
  private readonly store = new Map<string, SecretObject>();
  /** the informer's view while it lags (undefined: it shows the store) */
  private frozen: Map<string, SecretObject> | undefined;
  private version = 0;
  private uids = 0;
  /** real writes (create or replace) that landed, dry runs tried, deletes */
  writes = 0;
  dryRuns = 0;
  /** reads from the store (GETs) */
  reads = 0;
  deletes = 0;
  /** while set, every write (dry runs too) is refused as the API server refuses an invalid or over-quota Secret */
  refuse: string | undefined;

  /** The informer cache stops seeing changes (until catchUp). */
  lag(): void {
    this.frozen = new Map([...this.store].map(([k, v]) => [k, structuredClone(v)]));
  }

  catchUp(): void {
    this.frozen = undefined;
  }

  constructor(landing: Landing<'secret' | 'secret-delete'> = async (_step, write) => write()) {
    this.landing = landing;
  }

  /** What the store holds now (a copy). */
  get(ns: string, name: string): SecretObject | undefined {
    const s = this.store.get(id(ns, name));
    return s && structuredClone(s);
  }

  /** Someone edits the Secret outside the operator. */
  edit(ns: string, name: string, change: (s: SecretObject) => void): void {
    const s = this.store.get(id(ns, name));
    if (!s) throw new Error(`no Secret ${ns}/${name}`);
    change(s);
    s.resourceVersion = this.bump();
  }

  /** Someone deletes the Secret outside the operator. */
  removeOutside(ns: string, name: string): void {
    this.store.delete(id(ns, name));
  }

  cached(namespace: string, name: string): SecretObject | undefined {
    const s = (this.frozen ?? this.store).get(id(namespace, name));
    return s && structuredClone(s);
  }

  async read(namespace: string, name: string): Promise<SecretObject | undefined> {
    this.reads++;
    return this.get(namespace, name);
  }

  write(secret: SecretObject, replace: boolean, dryRun = false): Promise<SecretObject> {
    const k = id(secret.namespace, secret.name);
    const apply = (): SecretObject => {
      if (dryRun) this.dryRuns++;
      if (this.refuse !== undefined) throw new SecretRejected(this.refuse);
      const was = this.store.get(k);
      if (replace && !was) throw new KubeError('notFound', 404, `secrets "${secret.name}" not found`);
      if (!replace && was) throw new KubeError('alreadyExists', 409, `secrets "${secret.name}" already exists`);
      if (replace && was && secret.resourceVersion !== undefined && secret.resourceVersion !== was.resourceVersion) {
        throw new KubeError('conflict', 409, `Operation cannot be fulfilled on secrets "${secret.name}": the object has been modified`);
      }
      const out: SecretObject = { ...structuredClone(secret), uid: was?.uid ?? `secret-uid-${this.uids + 1}`, resourceVersion: dryRun ? was?.resourceVersion : undefined };
      if (dryRun) return out;
      if (!was) this.uids++;
      out.resourceVersion = this.bump();
      this.store.set(k, out);
      this.writes++;
      return structuredClone(out);
    };
    return dryRun ? Promise.resolve().then(apply) : this.landing('secret', apply);
  }

  delete(namespace: string, name: string, uid: string): Promise<void> {
    return this.landing('secret-delete', () => {
      const k = id(namespace, name);
      if (this.store.get(k)?.uid !== uid) return;
      this.store.delete(k);
      this.deletes++;
    });
  }


  private bump(): string {
    return String(++this.version);
  }
}
