/** Errors the ports raise that decisions act on, whatever adapter raised them. */

/** The API server refused the member Secret for what it is (invalid, over quota, a policy webhook), not for a stale read. */
export class SecretRejected extends Error {}

/** The API server refused a status the operator computed (a bug: every status is checked against the CRD in tests). */
export class StatusRejected extends Error {}

/** The workspace the operator creates for a pooled policy does not exist yet: its members wait, nothing is created elsewhere. */
export class WorkspacePending extends Error {
  readonly ref: string;

  constructor(ref: string) {
    super(`workspace ${ref} (the policy's pool) is not created yet`);
    this.ref = ref;
  }
}
