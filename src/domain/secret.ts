/**
 * The member Secret as the member reconcile sees it: plain strings, no client types. The kube adapter
 * (kube/secrets.ts) encodes and decodes it.
 */
export interface OwnerRef {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean | undefined;
  blockOwnerDeletion?: boolean | undefined;
}

export interface SecretObject {
  namespace: string;
  name: string;
  uid?: string | undefined;
  /** guards a replace: a concurrent edit makes it fail with a conflict */
  resourceVersion?: string | undefined;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  ownerReferences: OwnerRef[];
  /** decoded values */
  data: Record<string, string>;
}

/** Where member Secrets are read and written. A refusal for what the Secret is throws SecretRejected (domain/errors.ts). */
export interface SecretStore {
  /** from the informer cache (only Secrets the operator labels), undefined when absent */
  cached(namespace: string, name: string): SecretObject | undefined;
  /** a fresh read; undefined when it does not exist */
  read(namespace: string, name: string): Promise<SecretObject | undefined>;
  /** creates it, or replaces it guarded by its resourceVersion; with dryRun only validation and admission run */
  write(secret: SecretObject, replace: boolean, dryRun?: boolean): Promise<SecretObject>;
  /** deletes it only if it is still the object with this uid */
  delete(namespace: string, name: string, uid: string): Promise<void>;
}
