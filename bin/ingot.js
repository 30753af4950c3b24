#!/usr/bin/env node
// The `ingot` command: dist/src/cli/launch.js picks the code to run (the repo group's bundle
// when it is fresh, else dist/src/cli/main.js) and runs it.
import { launch } from '../dist/src/cli/launch.js';

launch(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`error[INTERNAL]: ${e?.message ?? e}\n`);
    process.exitCode = 70;
  },
);
