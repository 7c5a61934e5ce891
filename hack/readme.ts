/**
 * `make readme`: rewrites the docs' generated tables (between their markers) from the data the tests use: refused
 * input in docs/security.md, the fault suite's figures in docs/faults.md (hack/readme/tables.ts says which is where).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TABLE_FILES, withTables } from './readme/tables.ts';

for (const file of TABLE_FILES) {
  const path = join(import.meta.dirname, '..', file);
  writeFileSync(path, withTables(file, readFileSync(path, 'utf8')));
  process.stdout.write(`wrote ${file}\n`);
}
