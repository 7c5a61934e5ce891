/**
 * Who this operator is among the operators that share a cluster (sharded with --namespace-selector) and perhaps an
 * OpenRouter account. Its id is part of every key and guardrail name it creates, and keys its entry in each
 * KeyPolicy's status.operators: two operators never share a key name, a guardrail or a status field, so neither
 * overwrites, sweeps or offboards what is the other's.
 *
 *   --cluster-id set                     → that id (the operator's own: give each operator its own)
 *   unset, no --namespace-selector       → the kube-system namespace UID (one operator per cluster)
 *   unset, --namespace-selector set      → <kube-system UID>.<operator namespace>[.<lease name>] (one per shard)
 *
 * A derived shard id is the only kind with a '.': an explicit id is a DNS label and a UID has none, so the part
 * before the '.' is the cluster's id, which sharded operators used for their keys before ids were per operator.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Offboardee } from '../api/objects.ts';
import { FINALIZER } from '../api/schema.ts';
import type { Config } from '../config.ts';
import { RELEASED_PREFIX, parseKeyName } from './keyname.ts';

/** The longest namespace (and lease name) a derived id carries as it is. */
const SHARD_MAX = 63;

/** --lease-name's default: left out of a derived id. */
const DEFAULT_LEASE = 'teamkeys-operator';

export interface OperatorId {
  id: string;
  /** where it came from, for the start-up log */
  from: string;
}

/** Pure: this operator's id, from its configuration and the kube-system namespace UID. */
export function operatorId(cfg: Pick<Config, 'clusterId' | 'namespaceSelector' | 'namespace' | 'leaseName'>, kubeSystemUid: string): OperatorId {
  if (cfg.clusterId) return { id: cfg.clusterId, from: '--cluster-id' };
  if (!cfg.namespaceSelector) return { id: kubeSystemUid, from: 'kube-system namespace UID' };
  const lease = cfg.leaseName === DEFAULT_LEASE ? '' : `.${cfg.leaseName}`;
  const shard = `${cfg.namespace}${lease}`;
  // key and guardrail names carry the id: a long namespace and lease name are shortened to a stable digest
  const part = shard.length <= SHARD_MAX ? shard : createHash('sha256').update(shard).digest('hex').slice(0, 16);
  return { id: `${kubeSystemUid}.${part}`, from: 'kube-system namespace UID, operator namespace (--namespace-selector is set)' };
}

/** Pure: the cluster-wide id a derived shard id was before ids were per operator; undefined for any other id. */
export function legacyId(id: string): string | undefined {
  const dot = id.indexOf('.');
  return dot > 0 ? id.slice(0, dot) : undefined;
}

/** Pure: "k=v,k2=v2", as --namespace-selector was given (undefined: every namespace). */
export function selectorText(selector: Record<string, string> | undefined): string | undefined {
  return selector && Object.entries(selector).map(([k, v]) => `${k}=${v}`).join(',');
}

/** status.operator: the operator that manages the member, recorded by the member reconcile (read leniently). */
const Recorded = z.object({ status: z.object({ operator: z.string().min(1) }) });

export function recordedOperator(o: unknown): string | undefined {
  const r = Recorded.safeParse(o);
  return r.success ? r.data.status.operator : undefined;
}

/** The operator id in a key's name (a released key keeps its owner after the prefix). */
function idInName(name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  return parseKeyName(name.startsWith(RELEASED_PREFIX) ? name.slice(RELEASED_PREFIX.length) : name)?.cluster;
}

/**
 * Pure: whether a deleted member is this operator's to offboard although its namespace is not (any longer) one it
 * manages. A positive mark that survives restarts is required: the operator recorded in its status, else the id in
 * the name of a key it holds (its active, pending or previous keys). Another operator's member (another selector,
 * perhaps another account, perhaps the same cluster id) carries another id and is never touched. Keys named before
 * ids were per operator (the bare cluster id) are ours only while our account holds them (`inAccount`).
 */
export function finalizes(m: Offboardee, recorded: string | undefined, self: string, inAccount: (hash: string) => boolean): boolean {
  if (m.metadata.deletionTimestamp === undefined || !m.metadata.finalizers?.includes(FINALIZER)) return false;
  if (recorded === self) return true;
  // recorded by another operator; or by this one before it was sharded (its id was the cluster's then), which the
  // rest decides from the key names and our account, as for a member recorded by no one
  if (recorded !== undefined && recorded !== legacyId(self)) return false;
  const keys = [
    ...(m.key ? [{ hash: m.key.hash, name: m.key.name }] : []),
    ...m.previous,
    ...(m.pendingName === undefined ? [] : [{ hash: undefined, name: m.pendingName }]),
  ];
  if (keys.some((k) => idInName(k.name) === self)) return true;
  const legacy = legacyId(self) ?? self;
  return keys.some((k) => {
    const id = idInName(k.name);
    return (id === undefined || id === legacy) && k.hash !== undefined && inAccount(k.hash);
  });
}
