/** Where TeamMembers are read fresh and written, as the member reconcile needs it. */
import type { TeamMember } from '../api/schema.ts';
import type { Json } from '../util/json.ts';

export interface MemberStore {
  /** a fresh read from the API server (a lagging cache must not decide a create or a revoke alone); undefined when gone or unreadable */
  read(namespace: string, name: string): Promise<TeamMember | undefined>;
  /**
   * Merge-patches the status, guarded by resourceVersion: a stale view fails with a conflict and is retried from
   * a fresh read. A refusal for what the status is throws StatusRejected. Returns the new resourceVersion.
   */
  patchStatus(namespace: string, name: string, resourceVersion: string, patch: Json): Promise<string>;
  /** Replaces the finalizers, guarded by resourceVersion; returns the new resourceVersion. */
  setFinalizers(namespace: string, name: string, resourceVersion: string, finalizers: string[]): Promise<string>;
}
