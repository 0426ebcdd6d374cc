#!/usr/bin/env node
// A `solc` command-line front for solc-js, enough for forge and foundry-compilers:
// `--version` and `--standard-json` (input on stdin, output on stdout).
'use strict';
const solc = require('solc');

function main() {
  const args = process.argv.slice(2);
  if (args.includes('--version') || args.includes('-v')) {
    process.stdout.write('solc, the solidity compiler commandline interface\n');
    process.stdout.write(`Version: ${solc.version()}\n`);
    return;
  }
  if (!args.includes('--standard-json')) {
    process.stderr.write('this wrapper supports only --version and --standard-json\n');
    process.exitCode = 1;
    return;
  }
  const fs = require('fs');
  const path = require('path');
  // --base-path / --include-path / --allow-paths are honoured by resolving imports from disk.
  const roots = [process.cwd()];
  for (let i = 0; i < args.length; i++) {
    if ((args[i] === '--base-path' || args[i] === '--include-path') && args[i + 1]) {
      roots.push(path.resolve(args[i + 1]));
    }
  }
  const findImports = (p) => {
    for (const root of roots) {
      const full = path.isAbsolute(p) ? p : path.join(root, p);
      if (fs.existsSync(full)) return { contents: fs.readFileSync(full, 'utf8') };
    }
    return { error: `File not found: ${p}` };
  };
  const chunks = [];
  process.stdin.on('data', (c) => chunks.push(c));
  process.stdin.on('end', () => {
    const input = Buffer.concat(chunks).toString('utf8');
    const output = solc.compile(input, { import: findImports });
    // Let the stream drain before node exits on its own: never process.exit() here.
    process.stdout.write(output);
  });
}

main();
