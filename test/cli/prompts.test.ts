/**
 * Questions dbguard asks before destructive work. On a terminal (a real pty through util-linux
 * `script`) it asks; without one it refuses at once instead of hanging; reset needs a double opt-in.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { query, schemaVersion } from '../helpers/db.js';
import { branchedRepo, GitRepo, inTerminal } from '../helpers/git.js';

const repos: GitRepo[] = [];
afterEach(() => repos.splice(0).forEach((r) => r.cleanup()));

async function conflicted() {
  const made = await branchedRepo();
  repos.push(made.repo);
  made.repo.git('checkout', '-q', 'b');
  await query(made.db, "INSERT INTO chat (note) VALUES ('keep me')");
  return made;
}

/** nanospinner hides the cursor while it spins. */
const HIDE_CURSOR = '\u001b[?25l';


const tables = async (db: string) => (await query<{ t: string }>(db, "SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1")).map((r) => r.t);

describe('rollback confirmation', () => {
  it('without a terminal and without --yes, refuses at once (exit 2) and changes nothing', async () => {
    const { repo, db } = await conflicted();
    const result = repo.dbguard(['rollback'], {}, '');
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('error[NOT_A_TTY]');
    expect(result.stderr).toContain('next: dbguard rollback --yes');
    expect(await schemaVersion(db)).toEqual({ version: '447', dirty: false });
  });

  it('on a terminal, shows the plan and asks; "n" aborts (exit 3) with nothing changed', async () => {
    const { repo, db } = await conflicted();
    const result = inTerminal(repo, ['rollback'], 'n\n');
    expect(result.stdout).toContain('roll back 2 migrations, 447 → 445');
    expect(result.stdout).toContain('Roll back 2 migrations? [y/N]');
    expect(result.stdout).toContain('error[ABORTED]');
    expect(result.status).toBe(3);
    expect(await schemaVersion(db)).toEqual({ version: '447', dirty: false });
  });

  it('on a terminal, "y" applies the plan, showing each step', async () => {
    const { repo, db } = await conflicted();
    const result = inTerminal(repo, ['rollback'], 'y\n');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/✓ 447 {2}447_create_a_two\.up\.sql/);
    expect(result.stdout).toContain('rolled back 2 migrations');
    expect(result.stdout).not.toContain(HIDE_CURSOR); // NO_COLOR (set by the test runner): no spinner
    expect(await schemaVersion(db)).toEqual({ version: '445', dirty: false });
    expect(await query(db, 'SELECT note FROM chat')).toEqual([{ note: 'keep me' }]);
  });

  it('shows a spinner per step on a terminal without NO_COLOR', async () => {
    const { repo, db } = await conflicted();
    const result = inTerminal(repo, ['rollback'], 'y\n', { NO_COLOR: '' });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(HIDE_CURSOR);
    expect(result.stdout).toMatch(/447 {2}447_create_a_two\.up\.sql {2}\(1\/2\)/);
    expect(await schemaVersion(db)).toEqual({ version: '445', dirty: false });
  });

  it('colors on a terminal, none with NO_COLOR or when piped', async () => {
    const { repo } = await conflicted();
    // eslint-disable-next-line no-control-regex
    const ansi = /\u001b\[\d+m/;
    expect(inTerminal(repo, ['check'], '', { NO_COLOR: '' }).stdout).toMatch(ansi);
    expect(inTerminal(repo, ['check'], '', { NO_COLOR: '1' }).stdout).not.toMatch(ansi);
    expect(repo.dbguard(['check'], { NO_COLOR: '' }).stdout).not.toMatch(ansi);
  });
});

describe('reset confirmation (double opt-in)', () => {
  it('refuses without a terminal, with --yes alone, and with the wrong name; changes nothing', async () => {
    const { repo, db } = await conflicted();
    const before = await tables(db);
    const noTty = repo.dbguard(['reset'], {}, '');
    expect(noTty.status).toBe(2);
    expect(noTty.stderr).toContain('error[NOT_A_TTY]');
    const yesOnly = repo.dbguard(['reset', '--yes'], {}, '');
    expect(yesOnly.status).toBe(2);
    expect(yesOnly.stderr).toContain(`DBGUARD_CONFIRM_RESET=${db} dbguard reset --yes`);
    const wrong = repo.dbguard(['reset', '--yes'], { DBGUARD_CONFIRM_RESET: 'postgres' });
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toContain('error[CONFIRMATION_MISMATCH]');
    const typedWrong = inTerminal(repo, ['reset'], 'not-it\n');
    expect(typedWrong.status).toBe(2);
    expect(typedWrong.stdout).toContain('error[CONFIRMATION_MISMATCH]');
    expect(await tables(db)).toEqual(before);
    expect(await query(db, 'SELECT note FROM chat')).toEqual([{ note: 'keep me' }]);
  });

  it('resets with --yes and the matching DBGUARD_CONFIRM_RESET, or the name typed on a terminal', async () => {
    const { repo, db } = await conflicted();
    const scripted = repo.dbguard(['reset', '--yes'], { DBGUARD_CONFIRM_RESET: db });
    expect(scripted.status).toBe(0);
    expect(await tables(db)).toEqual([]);
    expect(repo.dbguard(['migrate']).status).toBe(0);
    expect(await tables(db)).toContain('b_only');
    const typed = inTerminal(repo, ['reset'], `${db}\n`);
    expect(typed.stdout).toContain(`Type the database name (${db}) to confirm`);
    expect(typed.status).toBe(0);
    expect(await tables(db)).toEqual([]);
  });
});
