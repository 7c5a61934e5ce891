/** The TeamMember port (domain/member.ts) over the API server. */
import { parseMember } from '../api/objects.ts';
import type { TeamMember } from '../api/schema.ts';
import { StatusRejected } from '../domain/errors.ts';
import type { MemberStore } from '../domain/member.ts';
import type { Json } from '../util/json.ts';
import type { Cluster } from './cluster.ts';
import { KubeError, isKube } from './errors.ts';

export class KubeMembers implements MemberStore {
  private readonly cluster: Cluster;

  constructor(cluster: Cluster) {
    this.cluster = cluster;
  }

  async read(namespace: string, name: string): Promise<TeamMember | undefined> {
    try {
      const p = parseMember(await this.cluster.readMember(namespace, name));
      return p?.ok ? p.value : undefined;
    } catch (e) {
      if (isKube(e, 'notFound')) return undefined;
      throw e;
    }
  }

  async patchStatus(namespace: string, name: string, resourceVersion: string, patch: Json): Promise<string> {
    try {
      return (await this.cluster.patchMemberStatusGuarded(namespace, name, resourceVersion, patch)).metadata?.resourceVersion ?? '';
    } catch (e) {
      if (e instanceof KubeError && e.kind === 'invalid') throw new StatusRejected(e.message);
      throw e;
    }
  }

  async setFinalizers(namespace: string, name: string, resourceVersion: string, finalizers: string[]): Promise<string> {
    return (await this.cluster.setMemberFinalizers(namespace, name, resourceVersion, finalizers)).metadata?.resourceVersion ?? '';
  }
}
