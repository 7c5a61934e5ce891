/** The commands: gather (from the cluster; for doctor, from OpenRouter too), decide in the pure modules, print. */
import { ANNOTATION_ROTATE, memberSecretName, type TeamMember } from '../api/schema.ts';
import { parseDuration } from '../util/duration.ts';
import { doctorRows, doctorTable, exitCode } from './doctor.ts';
import { gather } from './doctor-gather.ts';
import { doctorSettings, type DoctorFlags } from './doctor-settings.ts';
import type { Flags, ReportFlags, RotateFlags } from './flags.ts';
import { CliError, TeamkeysApi, contextNamespace, loadConfig } from './kube.ts';
import { periodOf, parseSince } from './period.ts';
import { withProgress } from './progress.ts';
import { render, report } from './render.ts';
import { rotateRequest } from './rotate-request.ts';
import { rowOf, sortRows, totalsOf } from './rows.ts';
import { summary } from './summary.ts';

export interface Io {
  out(s: string): void;
  err(s: string): void;
}

function connect(f: Flags): { api: TeamkeysApi; namespace: string | undefined } {
  const kc = loadConfig(f);
  return { api: new TeamkeysApi(kc), namespace: f.allNamespaces ? undefined : (f.namespace ?? contextNamespace(kc)) };
}

async function readMembers(api: TeamkeysApi, namespace: string | undefined, io: Io): Promise<TeamMember[]> {
  const { members, unreadable } = await withProgress('reading TeamMembers', () => api.listMembers(namespace));
  for (const u of unreadable) io.err(`warning: skipped TeamMember ${u.namespace}/${u.name}, which cannot be read: ${u.message}\n`);
  return members;
}

const where = (namespace: string | undefined) => (namespace ? `in namespace ${namespace}` : 'in any namespace');

export async function runReport(f: ReportFlags, io: Io, now: number): Promise<void> {
  const { api, namespace } = connect(f);
  const all = await readMembers(api, namespace, io);
  const chosen = f.policy ? all.filter((m) => m.spec.policy === f.policy) : all;
  if (f.policy && chosen.length === 0 && (await api.policyExists(f.policy)) === false) io.err(`warning: there is no KeyPolicy named "${f.policy}"\n`);
  const period = periodOf(f.since, parseSince(f.since), now);
  const rows = sortRows(chosen.map((m) => rowOf(m, period)), f.sort);
  if (rows.length === 0 && (f.output === 'table' || f.output === 'wide')) {
    io.err(`No TeamMembers found ${where(namespace)}${f.policy ? ` with policy ${f.policy}` : ''}.\n`);
    return;
  }
  const doc = report({ generatedAt: new Date(now).toISOString(), period, scope: { namespace: namespace ?? null, policy: f.policy ?? null }, sort: f.sort, rows, totals: totalsOf(rows) });
  io.out(render(doc, f.output));
}

export async function runRotate(name: string, f: RotateFlags, io: Io, now: number): Promise<void> {
  if (f.allNamespaces) throw new CliError('rotate takes one TeamMember: name its namespace with -n, not -A', 2);
  const { api, namespace } = connect(f);
  const ns = namespace ?? 'default';
  const before = await withProgress('reading the TeamMember', () => api.getMember(ns, name));
  const current = before.metadata.annotations?.[ANNOTATION_ROTATE];
  const value = rotateRequest(now, f.reason, current);
  await withProgress('asking for a rotation', () => api.annotateMember(ns, name, ANNOTATION_ROTATE, value));
  const unserved = current !== undefined && current !== before.status?.rotation?.lastRequest;
  io.out([
    `teammember/${name} in namespace ${ns}: rotation requested (${ANNOTATION_ROTATE}=${value})`,
    ...(unserved ? [`  it replaces the request "${current}", which the operator had not acted on yet: one rotation follows`] : []),
    `  the operator issues a new key into Secret ${before.status?.secretName ?? memberSecretName(name, undefined)}; the previous key keeps working for the policy's rotation.overlap`,
    `watch it:`,
    `  kubectl get tm ${name} -n ${ns} -w`,
    `  kubectl teamkeys status ${name} -n ${ns}`,
    `  kubectl events -n ${ns} --for teammember/${name} --watch`,
  ].map((l) => `${l}\n`).join(''));
}

export async function runStatus(name: string | undefined, f: Flags, io: Io): Promise<void> {
  if (name && f.allNamespaces) throw new CliError('a TeamMember cannot be named across all namespaces: use -n', 2);
  const { api, namespace } = connect(f);
  const list = name ? [await withProgress('reading the TeamMember', () => api.getMember(namespace ?? 'default', name))] : await readMembers(api, namespace, io);
  if (list.length === 0) {
    io.err(`No TeamMembers found ${where(namespace)}.\n`);
    return;
  }
  const key = (m: TeamMember) => `${m.metadata.namespace ?? ''}/${m.metadata.name}`;
  const byName = list.toSorted((a, b) => (key(a) < key(b) ? -1 : 1));
  io.out(byName.map(summary).join('\n'));
}

/** Returns the exit code: 1 when a check found a problem. */
export async function runDoctor(f: DoctorFlags, io: Io, env: NodeJS.ProcessEnv, now: number): Promise<number> {
  const s = doctorSettings(f, env);
  const { facts, secret } = await withProgress('checking the OpenRouter account', () => gather(s, env, now));
  const rows = doctorRows(facts, { now, graceMs: parseDuration(s.orphanGrace), grace: s.orphanGrace });
  const text = doctorTable(rows);
  // no row is built from the key string; this makes sure of it whatever OpenRouter or a Secret put in a message
  io.out(secret && secret.length >= 8 ? text.replaceAll(secret, '[management key]') : text);
  return exitCode(rows);
}
