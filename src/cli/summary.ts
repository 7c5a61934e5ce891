/** Pure: `status`, a short human summary of one TeamMember from its status. */
import { ANNOTATION_REACTIVATE, ANNOTATION_ROTATE, type TeamMember } from '../api/schema.ts';
import * as cell from './cells.ts';
import { condition, usedPercent } from './rows.ts';

/** Conditions that get their own line, or none: the rest are listed under "Also" when True. */
const OWN_LINE = new Set(['Ready', 'Rotating', 'Inactive', 'BudgetExhausted', 'BudgetForecast']);

export function summary(m: TeamMember): string {
  const s = m.status ?? {};
  const who = [m.spec.displayName, m.spec.email ? `<${m.spec.email}>` : undefined].filter(Boolean).join(' ');
  const lines: [string, string][] = [
    ['Ready', ready(m)],
    ['Key', key(m)],
    ['Budget', budget(m)],
    ['Forecast', forecast(m)],
    ['Rotation', rotation(m)],
    ['Activity', activity(m)],
  ];
  const also = (s.conditions ?? []).filter((c) => !OWN_LINE.has(c.type) && c.status === 'True').map((c) => `${c.type} (${c.reason}): ${c.message}`);
  if (also.length) lines.push(['Also', also.join('; ')]);
  const head = `${m.metadata.namespace ?? ''}/${m.metadata.name}   policy ${m.spec.policy}${who ? `   ${who}` : ''}`;
  return [head, ...lines.map(([k, v]) => `  ${k.padEnd(10)}${v}`)].map((l) => `${cell.printable(l)}\n`).join('');
}

function ready(m: TeamMember): string {
  const c = condition(m.status?.conditions, 'Ready');
  if (!c) return 'Unknown: the operator has not reported on this member yet';
  return `${c.status} ${c.reason}${c.message ? `: ${c.message}` : ''}`;
}

function key(m: TeamMember): string {
  const k = m.status?.key;
  if (!k) return m.status?.pendingKey ? `being issued (since ${cell.minute(m.status.pendingKey.since)})` : 'none';
  const parts = [k.label, `issued ${cell.minute(k.createdAt)}`];
  if (k.expiresAt) parts.push(`expires ${cell.minute(k.expiresAt)}`);
  if (k.disabled) parts.push('disabled at OpenRouter');
  if (m.status?.secretName) parts.push(`in Secret ${m.status.secretName}`);
  return parts.join(', ');
}

function budget(m: TeamMember): string {
  const b = m.status?.budget;
  const u = m.status?.usage;
  if (!b) return 'not reported yet';
  const spent = u ? `${cell.usd(u.windowUSD)} USD spent` : 'spend not read yet';
  const window = b.reset === 'never' ? 'in total (no reset)' : `this ${b.reset} window`;
  const exhausted = condition(m.status?.conditions, 'BudgetExhausted');
  const level = exhausted && exhausted.reason !== 'WithinBudget' ? ` [${exhausted.reason}]` : '';
  if (b.limitUSD === undefined) return `${spent} ${window}, no limit${level}`;
  const pct = cell.percent(usedPercent(u?.windowUSD, b.limitUSD));
  return `${spent} of ${cell.usd(b.limitUSD)} ${window} (${pct}), ${cell.usd(b.remainingUSD ?? null)} remaining${level}`;
}

function forecast(m: TeamMember): string {
  const f = m.status?.usage?.forecast;
  if (!f) return 'none yet';
  const projected = f.projectedUSD === undefined ? '' : `, ${cell.usd(f.projectedUSD)} USD by the reset`;
  const verdict = f.exhaustsAt ? `runs out ${cell.minute(f.exhaustsAt)} UTC, before the reset` : 'lasts the window';
  return `${cell.usd(f.burnUSDPerDay)} USD/day${projected}: ${verdict}`;
}

function rotation(m: TeamMember): string {
  const r = m.status?.rotation;
  const parts: string[] = [];
  const rotating = condition(m.status?.conditions, 'Rotating');
  if (rotating?.status === 'True') parts.push(`in progress (${rotating.reason}): ${rotating.message}`);
  if (r) {
    parts.push(r.count === 0 ? 'never rotated' : `${r.count} rotation${r.count === 1 ? '' : 's'}, last ${r.lastRotatedAt ? cell.minute(r.lastRotatedAt) : '?'} (${r.lastTrigger ?? '?'})`);
    if (r.nextRotationAt) parts.push(`next due ${cell.minute(r.nextRotationAt)}`);
  } else if (!parts.length) parts.push('never rotated');
  const pending = m.metadata.annotations?.[ANNOTATION_ROTATE];
  if (pending !== undefined && pending !== r?.lastRequest && rotating?.status !== 'True') parts.push(`requested (${pending}), not acted on yet`);
  return parts.join('; ');
}

function activity(m: TeamMember): string {
  const i = m.status?.inactive;
  if (i) return `inactive since ${cell.minute(i.since)}: key ${i.keyDeleted ? 'deleted' : 'disabled'} (kubectl annotate tm ${m.metadata.name} -n ${m.metadata.namespace ?? ''} --overwrite ${ANNOTATION_REACTIVATE}=$(date +%s))`;
  const a = m.status?.activity;
  return a ? `active, last spend ${cell.minute(a.lastSpendAt)}` : 'active';
}
