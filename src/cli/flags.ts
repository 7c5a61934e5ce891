/** The flags commander hands each command's action (src/cli/program.ts declares them; src/cli/commands.ts reads them). */
import type { OUTPUTS } from './render.ts';
import type { SORT_KEYS } from './rows.ts';

/** The flags every command shares, as kubectl spells them. */
export interface Flags {
  namespace?: string;
  allNamespaces?: boolean;
  kubeconfig?: string;
  context?: string;
  as?: string;
}

export interface ReportFlags extends Flags {
  policy?: string;
  since: string;
  sort: (typeof SORT_KEYS)[number];
  output: (typeof OUTPUTS)[number];
}

export interface RotateFlags extends Flags {
  reason?: string;
}
