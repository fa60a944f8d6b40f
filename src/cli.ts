// Placeholder until the CLI issue lands: says honestly what is and is not built.
const command = process.argv[2];
if (command === 'demo') {
  console.log('dbguard demo: not yet built (the CLI and demo land with issue 5). The pure core is tested by `npm test`.');
  process.exit(0);
}
console.error('dbguard: the command-line interface is not yet built; only the pure core (src/core) exists so far.');
process.exit(2);
