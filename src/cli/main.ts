#!/usr/bin/env node
/** The `vitas` command: parses flags, calls the library, prints. Nothing else lives here. */
import { Command } from 'commander';
import { runCli } from './commands.js';

runCli(new Command(), process.argv).catch(() => {
  /* already reported with its exit code */
});
