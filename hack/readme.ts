/** `make readme`: rewrites the README's generated tables (between their markers) from the data the tests use. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withTables } from './readme/tables.ts';

const path = join(import.meta.dirname, '../README.md');
writeFileSync(path, withTables(readFileSync(path, 'utf8')));
process.stdout.write('wrote README.md\n');
