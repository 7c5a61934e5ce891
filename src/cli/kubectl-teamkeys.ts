#!/usr/bin/env node
/** The kubectl plugin: on PATH as kubectl-teamkeys, it runs as `kubectl teamkeys report|rotate|status|doctor`. */
import { runCli } from './program.ts';

process.exitCode = await runCli('kubectl teamkeys', process.argv.slice(2));
