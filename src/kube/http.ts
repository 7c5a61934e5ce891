/**
 * The operator's requests to the API server: JSON in and out, and watch streams, over one pooled Agent
 * (kube/access.ts). A failure reaches the caller as a KubeError. No generated client: the operator calls a few
 * dozen paths, and client-node's generated API and models cost about 80 MB of RSS before the first member.
 */
import { request } from 'undici';
import { USER_AGENT, type KubeAccess } from './access.ts';
import { kubeError } from './errors.ts';

export type Query = Record<string, string | number | boolean | undefined>;

export const MERGE_PATCH = 'application/merge-patch+json';
export const JSON_PATCH = 'application/json-patch+json';

export interface KubeRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Query | undefined;
  body?: unknown;
  /** for PATCH: MERGE_PATCH or JSON_PATCH */
  contentType?: string | undefined;
}

/** One watch event as the API server streams it. */
export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: unknown;
}

const REQUEST_TIMEOUT_MS = 60_000;

function url(server: string, path: string, query: Query | undefined): string {
  const q = Object.entries(query ?? {}).filter((e): e is [string, string | number | boolean] => e[1] !== undefined);
  return `${server}${path}${q.length > 0 ? `?${new URLSearchParams(q.map(([k, v]): [string, string] => [k, String(v)])).toString()}` : ''}`;
}

export class KubeHttp {
  private readonly access: KubeAccess;

  constructor(access: KubeAccess) {
    this.access = access;
  }

  async json<T>(r: KubeRequest): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': USER_AGENT, ...(await this.access.headers()) };
    if (r.body !== undefined) headers['content-type'] = r.contentType ?? 'application/json';
    const res = await request(url(this.access.server, r.path, r.query), {
      method: r.method,
      headers,
      body: r.body === undefined ? null : JSON.stringify(r.body),
      dispatcher: this.access.agent,
      headersTimeout: REQUEST_TIMEOUT_MS,
      bodyTimeout: REQUEST_TIMEOUT_MS,
    });
    const text = await res.body.text();
    if (res.statusCode >= 400) throw kubeError(res.statusCode, text);
    return (text ? JSON.parse(text) : {}) as T;
  }

  /**
   * Streams a watch until the server ends it (its timeoutSeconds), the signal aborts it, or it fails; each event is
   * handed over as it arrives. A connection silent for longer than the server's own timeout is dead and fails.
   */
  async watch(path: string, query: Query & { timeoutSeconds: number }, onEvent: (e: WatchEvent) => void, signal: AbortSignal): Promise<void> {
    const res = await request(url(this.access.server, path, { ...query, watch: true }), {
      method: 'GET',
      headers: { accept: 'application/json', 'user-agent': USER_AGENT, ...(await this.access.headers()) },
      dispatcher: this.access.agent,
      signal,
      headersTimeout: REQUEST_TIMEOUT_MS,
      bodyTimeout: (query.timeoutSeconds + 60) * 1000,
    });
    if (res.statusCode >= 400) throw kubeError(res.statusCode, await res.body.text());
    res.body.setEncoding('utf8');
    let buffered = '';
    for await (const chunk of res.body as AsyncIterable<string>) {
      buffered += chunk;
      let nl = buffered.indexOf('\n');
      while (nl >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.trim()) onEvent(JSON.parse(line) as WatchEvent);
        nl = buffered.indexOf('\n');
      }
    }
  }
}
