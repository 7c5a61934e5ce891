/**
 * The table of refused input in docs/security.md, from the cases the tests run (test/refusals/): one row per case,
 * where it is refused and what the refusal names.
 */
import { APPLY_CASES } from '../../test/refusals/apply.ts';
import { ANSWER_CASES } from '../../test/refusals/openrouter.ts';
import { CREDENTIAL_CASES, OPERATOR_CASES } from '../../test/refusals/operator.ts';
import { TENANT_CASES } from '../../test/refusals/tenant.ts';

const code = (s: string) => `\`${s}\``;
const cell = (s: string) => s.replaceAll('|', '\\|');

export function refusalRows(): [input: string, refusedBy: string, names: string][] {
  return [
    ...APPLY_CASES.map((c) => [c.what, c.by === 'kubectl' ? 'kubectl apply' : c.by === 'API server' ? 'API server' : `CRD ${c.by}`, code(c.field)] as [string, string, string]),
    ...TENANT_CASES.map((c) => [`a namespace editor tries to ${c.what}`, 'RBAC', code(c.resource)] as [string, string, string]),
    ...OPERATOR_CASES.map((c) => [c.what, `operator: Ready=False ${code(c.reason)}`, code(c.field)] as [string, string, string]),
    ...CREDENTIAL_CASES.map((c) => [c.what, `operator: not ready, ${code(c.reason)}; no key touched`, 'the Secret'] as [string, string, string]),
    ...ANSWER_CASES.map((c) => [`OpenRouter sends ${c.what}`, `OpenRouter client: typed error ${code('invalidResponse')}`, code(c.route.replace('/api/v1', ''))] as [string, string, string]),
  ];
}

export function refusalsTable(): string {
  const rows = refusalRows();
  return [
    `${rows.length} cases, each run by \`make test\` (test/refusals/ lists them).`,
    '',
    '| # | Input | Refused by | Names |',
    '|---|---|---|---|',
    ...rows.map(([input, by, names], i) => `| ${i + 1} | ${cell(input)} | ${by} | ${cell(names)} |`),
  ].join('\n');
}
