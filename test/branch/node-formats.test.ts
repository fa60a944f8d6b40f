/**
 * Issue 30 with issue 29: the Node migrators across branch switches, with no down SQL at all. Each tool
 * (the real drizzle-orm and drizzle-kit, the real node-pg-migrate, Prisma's stand-in) applies a
 * migration on a branch; the checkout back switches the database, so main's is exactly main's (the
 * tool's own migrate finds nothing to run), and the checkout forth brings the branch's back, rows and all.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createDatabase, query, urlFor } from '../helpers/db.js';
import { GitRepo } from '../helpers/git.js';
import { commitDrizzle, commitPrisma, drizzleAppMigrate, drizzleKitMigrate, nodePgMigrate, prismaDeploy } from '../helpers/tools.js';

const repos: GitRepo[] = [];
afterEach(() => repos.splice(0).forEach((r) => r.cleanup()));

interface Tool {
  /** Commits the migrations of main (1) or of the branch (1 and 2), as the tool writes them. */
  commit(r: GitRepo, which: 'main' | 'branch'): void;
  /** The tool applies what is pending, as the app or its CLI does. */
  apply(r: GitRepo, db: string, url: string): Promise<void>;
  /** The names the tool's table holds as applied. */
  applied(db: string): Promise<string[]>;
  readonly mainApplied: readonly string[];
  readonly branchApplied: readonly string[];
}

const USERS_SQL = 'CREATE TABLE users (id serial PRIMARY KEY, name text);';
const POSTS_SQL = 'CREATE TABLE posts (id serial PRIMARY KEY, title text);';

const TOOLS: Record<string, Tool> = {
  drizzle: {
    commit: (r, which) => commitDrizzle(r, [['0000_users', 1_700_000_000_000, USERS_SQL], ...(which === 'branch' ? [['0001_posts', 1_700_000_100_000, POSTS_SQL] as const] : [])], which),
    async apply(r, _db, url) {
      const app = drizzleAppMigrate(r.root, url);
      expect(app.status, app.stderr).toBe(0);
    },
    applied: async (db) => (await query<{ created_at: string }>(db, 'SELECT created_at::text AS created_at FROM drizzle.__drizzle_migrations ORDER BY id')).map((row) => row.created_at),
    mainApplied: ['1700000000000'],
    branchApplied: ['1700000000000', '1700000100000'],
  },
  prisma: {
    commit: (r, which) => commitPrisma(r, [['20240101000000_users', USERS_SQL], ...(which === 'branch' ? [['20240201000000_posts', POSTS_SQL] as const] : [])], which),
    apply: async (r, db) => prismaDeploy(db, r.root),
    applied: async (db) => (await query<{ migration_name: string }>(db, 'SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL ORDER BY migration_name')).map((row) => row.migration_name),
    mainApplied: ['20240101000000_users'],
    branchApplied: ['20240101000000_users', '20240201000000_posts'],
  },
  'node-pg-migrate': {
    // Their down sections are empty: a rollback would have no way back; a switch needs none.
    commit: (r, which) => r.commitMigrations({
      '1700000000000_users.sql': `-- Up Migration\n${USERS_SQL}\n\n-- Down Migration\n`,
      ...(which === 'branch' ? { '1700000000001_posts.sql': `-- Up Migration\n${POSTS_SQL}\n\n-- Down Migration\n` } : {}),
    }, which),
    async apply(r, _db, url) {
      const up = nodePgMigrate(r.root, url, 'up');
      expect(up.status, up.stderr).toBe(0);
    },
    applied: async (db) => (await query<{ name: string }>(db, 'SELECT name FROM pgmigrations ORDER BY run_on, id')).map((row) => row.name),
    mainApplied: ['1700000000000_users'],
    branchApplied: ['1700000000000_users', '1700000000001_posts'],
  },
};

const names = async (db: string, table: string) => (await query<{ name: string }>(db, `SELECT name FROM ${table} ORDER BY id`)).map((row) => row.name);
const hasPosts = async (db: string) => (await query<{ p: string | null }>(db, "SELECT to_regclass('posts')::text AS p"))[0]?.p === 'posts';

describe.each(Object.entries(TOOLS))('%s with "branchDatabases": true', (format, tool) => {
  it('the branch\'s migration and rows go with its database: main gets main\'s back, exactly, and the branch its own', async () => {
    const db = await createDatabase();
    const url = urlFor(db);
    const r = GitRepo.create({ nodeModules: false });
    repos.push(r);
    if (format !== 'node-pg-migrate') rmSync(join(r.root, 'migrations'), { recursive: true, force: true });
    r.write('.gitignore', 'node_modules/\n.dbguard/\ndrizzle.config.js\n');
    r.write('dbguard.config.json', JSON.stringify({ database: { url }, format, branchDatabases: true }));
    tool.commit(r, 'main');
    expect(r.dbguard(['hooks', 'install']).status).toBe(0);
    await tool.apply(r, db, url);
    await query(db, "INSERT INTO users (name) VALUES ('main user')");

    r.git('checkout', '-q', '-b', 'feat');
    tool.commit(r, 'branch');
    await tool.apply(r, db, url);
    await query(db, "INSERT INTO users (name) VALUES ('feat user')");
    await query(db, "INSERT INTO posts (title) VALUES ('feat post')");
    expect(await tool.applied(db)).toEqual(tool.branchApplied);

    const toMain = r.git('checkout', 'main');
    expect(toMain.status).toBe(0);
    expect(toMain.stderr).toContain(`"${db}" is now main's database, as main left it`);
    expect(toMain.stderr).not.toContain('lacks');
    expect(await tool.applied(db)).toEqual(tool.mainApplied);
    expect(await names(db, 'users')).toEqual(['main user']);
    expect(await hasPosts(db)).toBe(false);
    const status = r.dbguard(['status']);
    expect(status.status, status.stdout + status.stderr).toBe(0);
    // The tool itself agrees: nothing to run on main.
    await tool.apply(r, db, url);
    expect(await tool.applied(db)).toEqual(tool.mainApplied);
    if (format === 'drizzle') {
      const kit = drizzleKitMigrate(r.root, url);
      expect(kit.status, kit.stderr).toBe(0);
      expect(await tool.applied(db)).toEqual(tool.mainApplied);
    }

    const toFeat = r.git('checkout', 'feat');
    expect(toFeat.stderr).toContain(`"${db}" is now feat's database, as feat left it`);
    expect(await tool.applied(db)).toEqual(tool.branchApplied);
    expect(await names(db, 'users')).toEqual(['main user', 'feat user']);
    expect((await query<{ title: string }>(db, 'SELECT title FROM posts')).map((row) => row.title)).toEqual(['feat post']);
    expect(r.dbguard(['status']).status).toBe(0);
  });
});
