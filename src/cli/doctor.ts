/**
 * Pure: what `teamkeys doctor` concludes from the facts it gathered (doctor-gather.ts): one row per check and the
 * exit code. A *problem* is something that stops teamkeys from working against this account as it should (exit 1);
 * a *warning* is something that works but deserves a look (exit 0); *skipped* says why a check could not run.
 */
import { clusterPrefix, parseKeyName } from '../controller/keyname.ts';
import { guardrailPrefix } from '../controller/policy/rules.ts';
import { findOrphans, type OwnerView } from '../controller/sweep.ts';
import type { Key } from '../domain/key.ts';
import type { UsageAnswer } from '../domain/usage.ts';
import type { OpenRouterErrorKind, RateHeaders } from '../openrouter/errors.ts';
import { printable } from './cells.ts';
import { plainTable } from './render.ts';

export type CheckResult = 'ok' | 'warning' | 'problem' | 'skipped';

export interface Row {
  check: string;
  result: CheckResult;
  detail: string;
}

export interface Failure {
  ok: false;
  message: string;
  /** set when OpenRouter answered (or could not be reached): the advice depends on it */
  kind?: OpenRouterErrorKind | undefined;
}

export type Got<T> = ({ ok: true } & T) | Failure;

export interface Guardrail {
  name: string;
  /** keys assigned to it; undefined: not counted (too many guardrails to ask about each) */
  keys: number | undefined;
}

/** Everything after the first check, gathered only once the key is known to be a management key. */
export interface Gathered {
  keys: { keys: Key[]; pages: number; failure: Failure | undefined };
  /** undefined: no --cluster-id and no cluster to derive the operator id from */
  id: Got<{ id: string; from: string }> | undefined;
  /** by "namespace/name"; undefined: no cluster to read TeamMembers from */
  owners: Got<{ byName: ReadonlyMap<string, OwnerView> }> | undefined;
  analytics: Got<{ answer: UsageAnswer; throttled: number }>;
  rates: { keys: RateHeaders | undefined; analytics: RateHeaders | undefined };
  /** undefined when the operator id is not known */
  guardrails: Got<{ list: Guardrail[] }> | undefined;
}

export interface Facts {
  url: string;
  /** where the management key came from, as the user named it: a Secret or an environment variable */
  source: string;
  key: Got<{ label: string; management: boolean }>;
  rest: Gathered | undefined;
}

export interface Judging {
  now: number;
  graceMs: number;
  /** --orphan-grace as given, for the detail */
  grace: string;
}

const MANAGEMENT_KEYS = 'https://openrouter.ai/settings/management-keys';

export function doctorRows(f: Facts, j: Judging): Row[] {
  const first = keyRow(f);
  if (first.result !== 'ok' || !f.rest) return [first];
  const r = f.rest;
  return [first, listRow(r), teamkeysRow(r, j), analyticsRow(r.analytics), ratesRow(r.rates), guardrailsRow(r)];
}

/** 1 when any check found a problem; warnings and skipped checks alone pass. */
export function exitCode(rows: readonly Row[]): number {
  return rows.some((r) => r.result === 'problem') ? 1 : 0;
}

export function doctorTable(rows: readonly Row[]): string {
  const lines = plainTable(['CHECK', 'RESULT', 'DETAIL'], ['left', 'left', 'left'], rows.map((r) => [r.check, r.result, printable(r.detail)]));
  return [...lines, '', verdict(rows)].map((l) => `${l}\n`).join('');
}

function verdict(rows: readonly Row[]): string {
  const n = (result: CheckResult) => rows.filter((r) => r.result === result).length;
  const plural = (k: number, what: string) => `${k} ${what}${k === 1 ? '' : 's'}`;
  const problems = n('problem');
  const warnings = n('warning');
  if (problems > 0) return `${plural(problems, 'problem')}${warnings ? `, ${plural(warnings, 'warning')}` : ''}: teamkeys will not work as it should against this account until ${problems === 1 ? 'it is' : 'they are'} fixed.`;
  const skipped = n('skipped');
  const also = skipped ? ` (${skipped} skipped)` : '';
  return warnings > 0 ? `No problems; ${plural(warnings, 'warning')}${also}.` : `All checks passed${also}.`;
}

function keyRow(f: Facts): Row {
  const check = 'management key';
  const k = f.key;
  if (!k.ok) return { check, result: 'problem', detail: keyFailure(f, k) };
  if (!k.management) {
    return { check, result: 'problem', detail: `${k.label} from ${f.source} is a standard API key, not a management key: teamkeys cannot create keys with it. Create a management key at ${MANAGEMENT_KEYS} and put it there` };
  }
  return { check, result: 'ok', detail: `${k.label} from ${f.source} is a management key` };
}

function keyFailure(f: Facts, e: Failure): string {
  switch (e.kind) {
    case undefined:
      return `${f.source}: ${e.message}`;
    case 'network':
      return `cannot reach ${f.url}: ${e.message}. Check --openrouter-url, and the network or proxy between here and it`;
    case 'unauthorized':
    case 'forbidden':
      return `OpenRouter refused the key from ${f.source} (${e.message}): it was deleted, disabled or mistyped. Create a management key at ${MANAGEMENT_KEYS} and put it there`;
    case 'notFound':
    case 'invalidResponse':
      return `${f.url} does not answer as OpenRouter's API (${e.message}): --openrouter-url must be the API base, ending in /api/v1`;
    case 'badRequest':
    case 'timeout':
    case 'rateLimited':
    case 'server':
      return `GET /key failed: ${e.message}`;
  }
}

function listRow(r: Gathered): Row {
  const check = 'key list';
  const { keys, pages, failure } = r.keys;
  if (failure) return { check, result: 'problem', detail: `page ${pages + 1} failed after ${count(keys.length, 'key')} in ${count(pages, 'page')}: ${failure.message}. The operator lists every key at each sync: it would stop there too` };
  return { check, result: 'ok', detail: `${count(keys.length, 'key')} in ${count(pages, 'page')} (the default workspace, disabled keys included)` };
}

function teamkeysRow(r: Gathered, j: Judging): Row {
  const check = 'teamkeys keys';
  if (r.keys.failure) return { check, result: 'skipped', detail: 'needs the whole key list' };
  const keys = r.keys.keys;
  if (!r.id || !r.id.ok) {
    const why = r.id ? `cannot derive the operator id (${r.id.message})` : 'no --cluster-id, and no cluster to derive the operator id from';
    return { check, result: 'skipped', detail: `${why}: pass --cluster-id. Keys named by any teamkeys operator: ${byOperator(keys)}` };
  }
  const { id, from } = r.id;
  const prefix = clusterPrefix(id);
  const ours = keys.filter((k) => k.name.startsWith(prefix));
  const named = `${count(ours.length, 'key')} named ${prefix}… (operator id from ${from})`;
  if (!r.owners) return { check, result: 'ok', detail: `${named}; without the cluster their TeamMembers cannot be read, so orphans cannot be judged` };
  if (!r.owners.ok) return { check, result: 'warning', detail: `${named}; orphans cannot be judged: ${r.owners.message}` };
  const byName = r.owners.byName;
  const orphans = findOrphans(ours, id, (ns, name) => byName.get(`${ns}/${name}`), j.now, j.graceMs);
  if (orphans.length === 0) return { check, result: 'ok', detail: `${named}; none orphaned` };
  const owners = orphans.slice(0, 3).map((k) => {
    const o = parseKeyName(k.name);
    return o ? `${o.namespace}/${o.member}` : k.label;
  });
  const more = orphans.length > owners.length ? ', …' : '';
  return { check, result: 'warning', detail: `${named}; ${orphans.length} look orphaned (no TeamMember holds them, older than ${j.grace}: ${owners.join(', ')}${more}): the operator revokes them at its next sweep` };
}

/** "none", or the key count per operator id found in the names. */
function byOperator(keys: readonly Key[]): string {
  const ids = new Map<string, number>();
  for (const k of keys) {
    const id = parseKeyName(k.name)?.cluster;
    if (id !== undefined) ids.set(id, (ids.get(id) ?? 0) + 1);
  }
  if (ids.size === 0) return 'none';
  const top = [...ids].toSorted((a, b) => b[1] - a[1]);
  const shown = top.slice(0, 3).map(([id, n]) => `${id}: ${n}`);
  return `${shown.join(', ')}${top.length > 3 ? `, and ${top.length - 3} more ids` : ''}`;
}

function analyticsRow(a: Gathered['analytics']): Row {
  const check = 'usage analytics';
  if (!a.ok) {
    return { check, result: 'problem', detail: `${a.message}${analyticsAdvice(a.kind)}. Usage in status, reports and forecasts stay empty; budgets, limits and offboarding do not depend on analytics and still work` };
  }
  const { answer, throttled } = a;
  const notes: string[] = [];
  let result: CheckResult = 'ok';
  if (answer.skipped > 0) {
    result = 'warning';
    notes.push(`${answer.skipped} skipped as unreadable (${answer.skippedWhy ?? 'invalid'}): per-model usage will miss them`);
  }
  if (answer.truncated) {
    result = 'warning';
    notes.push('the answer was cut even for single keys: usage may be incomplete');
  } else if (answer.calls > 2) {
    notes.push('the whole-account answer was cut, so it was read 100 keys at a time, as the operator does');
  }
  if (throttled > 0) {
    result = 'warning';
    notes.push(`rate limited ${count(throttled, 'time')} (429) before it answered: something else uses the account's analytics quota`);
  }
  const read = `${count(answer.rows.length, 'row')} for the last day in ${count(answer.calls, 'call')}`;
  return { check, result, detail: [read, ...notes].join('; ') };
}

function analyticsAdvice(kind: OpenRouterErrorKind | undefined): string {
  if (kind === 'forbidden') return ': this management key may not read analytics';
  if (kind === 'notFound') return ': this OpenRouter has no analytics API at --openrouter-url';
  if (kind === 'invalidResponse') return ': the answer is not what teamkeys reads (has the analytics API changed?)';
  return '';
}

function ratesRow(r: Gathered['rates']): Row {
  const seen = (h: RateHeaders | undefined) => {
    if (!h) return 'none sent';
    const left = h.limit === undefined ? `${h.remaining ?? '?'} left` : `${h.remaining ?? '?'} of ${h.limit} left`;
    return h.resetInMs === undefined ? left : `${left}, resets in ${Math.ceil(h.resetInMs / 1000)}s`;
  };
  const empty = [r.keys, r.analytics].some((h) => h?.remaining === 0);
  const detail = `key list: ${seen(r.keys)}; analytics: ${seen(r.analytics)}`;
  return { check: 'rate limits', result: empty ? 'warning' : 'ok', detail: empty ? `${detail} (used up in this window: something else is calling with this account)` : detail };
}

function guardrailsRow(r: Gathered): Row {
  const check = 'guardrails';
  if (!r.id?.ok || !r.guardrails) return { check, result: 'skipped', detail: 'needs the operator id (--cluster-id)' };
  const prefix = guardrailPrefix(r.id.id);
  const g = r.guardrails;
  if (!g.ok) return { check, result: 'warning', detail: `cannot list guardrails: ${g.message}. Policies that restrict models or providers need theirs` };
  if (g.list.length === 0) return { check, result: 'ok', detail: `none named ${prefix}… (each policy that restricts models or providers gets one)` };
  const each = g.list.map((x) => (x.keys === undefined ? x.name.slice(prefix.length) : `${x.name.slice(prefix.length)} (${count(x.keys, 'key')})`));
  const shown = each.slice(0, 5).join(', ') + (each.length > 5 ? `, and ${each.length - 5} more` : '');
  return { check, result: 'ok', detail: `${count(g.list.length, 'guardrail')} named ${prefix}…: ${shown}` };
}

function count(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}
