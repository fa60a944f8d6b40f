/**
 * Issue 27: each command's --help and its reference page agree. docs/commands.md has a section per
 * command that starts with the line --help prints and names every option --help lists; the README and
 * the docs link only to pages in this repository.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, run } from '../helpers/git.js';

const ROOT = resolve(import.meta.dirname, '../..');
const GLOBAL_OPTIONS = new Set(['--json', '--cwd <dir>', '-h, --help', '-v, --version']);

interface HelpCommand {
  name: string;
  description: string;
  options: Array<{ name: string; description: string }>;
}

function helpDocument(): HelpCommand[] {
  const result = run(process.execPath, [BIN, '--help', '--json'], ROOT);
  expect(result.status, result.stderr).toBe(0);
  return JSON.parse(result.stdout).commands as HelpCommand[];
}

/** docs/commands.md cut at its "## <command>" headings. */
function sections(): Map<string, string> {
  const text = readFileSync(join(ROOT, 'docs/commands.md'), 'utf8');
  const found = new Map<string, string>();
  for (const part of text.split(/^## /m).slice(1)) {
    const [heading = '', ...body] = part.split('\n');
    found.set(heading.trim(), body.join('\n'));
  }
  return found;
}

describe('docs/commands.md and --help', () => {
  it('has one section per command, opening with the line --help prints, naming every option', () => {
    const commands = helpDocument();
    const pages = sections();
    expect(commands.length).toBeGreaterThan(10);
    expect([...pages.keys()].sort()).toEqual(commands.map((c) => c.name.split(' ')[0]).sort());
    for (const command of commands) {
      const section = pages.get(command.name.split(' ')[0] as string) as string;
      expect(section, command.name).toContain(`> ${command.description}\n`);
      for (const option of command.options.filter((o) => !GLOBAL_OPTIONS.has(o.name))) {
        expect(section, `${command.name} ${option.name}`).toContain(`\`${option.name}\``);
      }
    }
  });
});

describe('links', () => {
  it('the README and the docs link only to files that exist in this repository', () => {
    const pages = ['README.md', ...readdirSync(join(ROOT, 'docs')).map((f) => `docs/${f}`)];
    for (const page of pages) {
      const text = readFileSync(join(ROOT, page), 'utf8');
      expect(text, page).not.toMatch(/DESIGN\.md|shared folder|DESIGN §/);
      for (const [, target] of text.matchAll(/\]\(([^)#]+)(#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target as string)) continue;
        expect(existsSync(join(ROOT, dirname(page), target as string)), `${page} → ${target}`).toBe(true);
      }
    }
  });
});
