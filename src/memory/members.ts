/**
 * An in-memory TeamMember store behind the MemberStore port (domain/member.ts): what the API server does for the
 * member pass — integer resourceVersions, a conflict on a stale one, status merge-patched (RFC 7386) and checked
 * against the CRD's schema (a status it does not admit is refused, as StatusRejected), generation bumped by a
 * spec change, a deleted member gone once its last finalizer is. For whole-pass tests and simulations.
 */
import { TeamMemberStatus, type TeamMember } from '../api/schema.ts';
import { StatusRejected } from '../domain/errors.ts';
import type { MemberStore } from '../domain/member.ts';
import { KubeError } from '../kube/errors.ts';
import { toJson, type Json } from '../util/json.ts';

const id = (ns: string, name: string) => `${ns}/${name}`;

/** Every write goes through this: a test may cut it short before or after it lands. */
export type Landing<S> = <T>(step: S, write: () => T) => Promise<T>;

export class MemoryMembers implements MemberStore {
  private readonly landing: Landing<'status' | 'finalizers'>;
  private readonly objs = new Map<string, TeamMember>();
  private version = 0;
  /** status patches and finalizer writes that landed */
  writes = 0;
  statusWrites = 0;
  /** reads from the store (GETs), as a pass confirming its view makes them */
  reads = 0;
  /** while set, every status patch is refused (StatusRejected) with this message */
  rejectStatus: string | undefined;
  /** this many next status patches fail with a conflict (another writer got there first) */
  conflicts = 0;

  constructor(landing: Landing<'status' | 'finalizers'> = async (_step, write) => write()) {
    this.landing = landing;
  }

  /** What the store holds now (a copy). */
  get(ns: string, name: string): TeamMember | undefined {
    const m = this.objs.get(id(ns, name));
    return m && structuredClone(m);
  }

  all(): TeamMember[] {
    return [...this.objs.values()].map((m) => structuredClone(m));
  }

  /** A user's write (create or update): a new resourceVersion, generation bumped when the spec changed. */
  put(m: TeamMember): TeamMember {
    const k = id(m.metadata.namespace ?? '', m.metadata.name);
    const was = this.objs.get(k);
    const specChanged = was !== undefined && JSON.stringify(was.spec) !== JSON.stringify(m.spec);
    const generation = was ? (was.metadata.generation ?? 1) + (specChanged ? 1 : 0) : 1;
    const next = structuredClone({ ...m, metadata: { ...m.metadata, generation, resourceVersion: this.bump() } });
    this.objs.set(k, next);
    return structuredClone(next);
  }

  remove(ns: string, name: string): void {
    this.objs.delete(id(ns, name));
  }

  async read(namespace: string, name: string): Promise<TeamMember | undefined> {
    this.reads++;
    return this.get(namespace, name);
  }

  patchStatus(namespace: string, name: string, resourceVersion: string, patch: Json): Promise<string> {
    return this.landing('status', () => {
      const m = this.current(namespace, name, resourceVersion);
      if (this.conflicts > 0) {
        this.conflicts--;
        throw conflict(namespace, name);
      }
      if (this.rejectStatus !== undefined) throw new StatusRejected(this.rejectStatus);
      const merged = applyMergePatch(toJson(m.status ?? {}), patch);
      const checked = TeamMemberStatus.safeParse(merged);
      if (!checked.success) throw new StatusRejected(`status: ${checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      // (what the schema does not know is pruned, as the API server prunes a structural schema's unknown fields)
      m.status = checked.data;
      m.metadata.resourceVersion = this.bump();
      this.writes++;
      this.statusWrites++;
      return m.metadata.resourceVersion;
    });
  }

  setFinalizers(namespace: string, name: string, resourceVersion: string, finalizers: string[]): Promise<string> {
    return this.landing('finalizers', () => {
      const m = this.current(namespace, name, resourceVersion);
      this.writes++;
      m.metadata.finalizers = [...finalizers];
      m.metadata.resourceVersion = this.bump();
      // the API server lets a deleted object go once its last finalizer is removed
      if (m.metadata.deletionTimestamp && finalizers.length === 0) this.objs.delete(id(namespace, name));
      return m.metadata.resourceVersion;
    });
  }


  private current(ns: string, name: string, resourceVersion: string): TeamMember {
    const m = this.objs.get(id(ns, name));
    if (!m) throw new KubeError('notFound', 404, `teammembers "${name}" not found`);
    if (resourceVersion !== m.metadata.resourceVersion) throw conflict(ns, name);
    return m;
  }

  private bump(): string {
    return String(++this.version);
  }
}

function conflict(ns: string, name: string): KubeError {
  return new KubeError('conflict', 409, `Operation cannot be fulfilled on teammembers "${ns}/${name}": the object has been modified`);
}

function isObject(v: Json | undefined): v is { [k: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** RFC 7386: objects merge member by member, null removes a member, anything else (arrays too) replaces. */
export function applyMergePatch(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return patch;
  const out: { [k: string]: Json } = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) Reflect.deleteProperty(out, k);
    else out[k] = applyMergePatch(out[k], v);
  }
  return out;
}
