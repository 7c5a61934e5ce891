import { readFile, rename, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { isErrno } from '../util/errors.ts';
import type { EmulatorState } from './state.ts';

/** Checked loosely: the file is the emulator's own, so only its top-level shape is verified. */
const StateFile = z.looseObject({
  userId: z.string(),
  workspaces: z.array(z.looseObject({ id: z.string() })).min(1),
  keys: z.array(z.looseObject({ hash: z.string(), digest: z.string() })),
  guardrails: z.array(z.unknown()),
  keyAssignments: z.array(z.unknown()),
  memberAssignments: z.array(z.unknown()),
  activity: z.array(z.unknown()),
});

export async function loadState(path: string): Promise<EmulatorState | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return undefined;
    throw e;
  }
  const parsed = StateFile.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`state file ${path} is not an emulator state: ${parsed.error.issues[0]?.message ?? ''}`);
  // the emulator wrote this file itself; the check above guards against pointing it at something else
  // oxlint-disable-next-line typescript/no-unsafe-type-assertion
  return parsed.data as unknown as EmulatorState;
}

/** Atomic: a crash mid-write leaves the previous file intact. */
export async function saveState(path: string, state: EmulatorState): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, JSON.stringify(state), { mode: 0o600 });
  await rename(tmp, path);
}
