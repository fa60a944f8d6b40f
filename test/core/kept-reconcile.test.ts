/** Issue 28: what git lists decides what is gone, and a listing that cannot be whole decides nothing. */
import { describe, expect, it } from 'vitest';
import { savedBranchDatabaseName, worktreeDatabaseName, type KeptDatabaseMeta } from '../../src/core/kept-database.js';
import { judgeGitView, keptByProject, keptStatus, parseWorktreeList, type GitView } from '../../src/core/kept-reconcile.js';

const PORCELAIN = [
  'worktree /repo', 'HEAD 1111111111111111111111111111111111111111', 'branch refs/heads/main', '',
  'worktree /wt/a b ü', 'HEAD 2222222222222222222222222222222222222222', 'branch refs/heads/feat/x', 'locked', '',
  'worktree "/wt/new\\nline \\"q\\" \\303\\274"', 'HEAD 3333333333333333333333333333333333333333', 'detached', '',
  'worktree /wt/gone', 'HEAD 4444444444444444444444444444444444444444', 'branch refs/heads/old', 'prunable gitdir file points to non-existent location', '',
  'worktree /wt/broken', 'HEAD 0000000000000000000000000000000000000000', '', '',
].join('\n');

const meta = (over: Partial<KeptDatabaseMeta>): KeptDatabaseMeta => ({ kind: 'worktree', worktree: '/wt/a b ü', branch: 'feat/x', source: 'app', createdAt: '2026-01-01T00:00:00Z', ...over });

describe('git worktree list --porcelain', () => {
  it('reads paths with spaces, unicode and git\'s C quoting, branches, detached, prunable and the null HEAD', () => {
    const entries = parseWorktreeList(PORCELAIN);
    expect(entries.map((e) => e.path)).toEqual(['/repo', '/wt/a b ü', '/wt/new\nline "q" ü', '/wt/gone', '/wt/broken']);
    expect(entries.map((e) => e.branch)).toEqual(['main', 'feat/x', null, 'old', null]);
    expect(entries.map((e) => e.prunable)).toEqual([false, false, false, true, false]);
    expect(entries[4]?.head).toBeNull();
  });
});

describe('a listing is trusted only when it can be whole', () => {
  const entries = parseWorktreeList(PORCELAIN);
  it('an empty listing, or one without the worktree we run in, says nothing is gone', () => {
    expect(judgeGitView([], ['main'], '/repo')).toMatchObject({ listed: false, reason: 'git listed no worktree at all, not even the main one' });
    expect(judgeGitView(entries.slice(0, 1), ['main'], '/wt/a b ü')).toMatchObject({ listed: false });
    expect(judgeGitView(entries, ['main', 'feat/x', 'old'], '/wt/gone')).toMatchObject({ listed: false });
    expect(judgeGitView([{ ...entries[0]!, prunable: true }], ['main'], null)).toMatchObject({ listed: false });
  });
  it('an empty or cut branch list, while a worktree has a branch checked out, is not "all branches deleted"', () => {
    expect(judgeGitView(entries, [], '/repo')).toMatchObject({ listed: true, branches: null, branchesUnknown: 'git lists branch "main" as checked out in /repo but not among the branches' });
    expect(judgeGitView(entries, null, '/repo', 'git for-each-ref failed: x')).toMatchObject({ listed: true, branches: null, branchesUnknown: 'git for-each-ref failed: x' });
    const view = judgeGitView(entries, ['main', 'feat/x', 'old'], '/wt/a b ü');
    expect(view.listed && [...(view.branches ?? [])]).toEqual(['main', 'feat/x', 'old']);
  });
});

describe('keptStatus', () => {
  const view = judgeGitView(parseWorktreeList(PORCELAIN), ['main', 'feat/x', 'old'], '/repo');
  const unknown: GitView = { listed: false, reason: 'git was not found on PATH' };
  it('a worktree database is gone only when git does not list its worktree and its folder is no worktree', () => {
    expect(keptStatus(meta({}), view, '/wt/a b ü', true).gone).toBeNull();
    expect(keptStatus(meta({ worktree: '/wt/gone' }), view, '/wt/gone', false)).toEqual({ worktreeExists: false, unlisted: false, branchExists: null, gone: 'worktree-removed' });
    expect(keptStatus(meta({ worktree: '/wt/elsewhere' }), view, '/wt/elsewhere', false).gone).toBe('worktree-removed');
    expect(keptStatus(meta({ worktree: '/wt/elsewhere' }), view, '/wt/elsewhere', true)).toEqual({ worktreeExists: true, unlisted: true, branchExists: null, gone: null });
    expect(keptStatus(meta({ worktree: '/wt/elsewhere' }), unknown, '/wt/elsewhere', false)).toEqual({ worktreeExists: null, unlisted: false, branchExists: null, gone: null });
  });
  it('a saved branch database is gone when its branch was deleted or its worktree removed, and never while the branches are unknown', () => {
    expect(keptStatus(meta({ kind: 'branch', worktree: '/repo', branch: 'feat/x' }), view, '/repo', true).gone).toBeNull();
    expect(keptStatus(meta({ kind: 'branch', worktree: '/repo', branch: 'deleted' }), view, '/repo', true)).toMatchObject({ branchExists: false, gone: 'branch-deleted' });
    expect(keptStatus(meta({ kind: 'branch', worktree: '/wt/gone', branch: 'old' }), view, '/wt/gone', false).gone).toBe('worktree-removed');
    const noBranches = judgeGitView(parseWorktreeList(PORCELAIN), [], '/repo');
    expect(keptStatus(meta({ kind: 'branch', worktree: '/repo', branch: 'deleted' }), noBranches, '/repo', true)).toMatchObject({ branchExists: null, gone: null });
  });
});

describe('keptByProject', () => {
  it('is true only for the names the project\'s main database and the comment give', () => {
    const wt = worktreeDatabaseName('app', '/wt/a b ü');
    expect(keptByProject('app', wt, meta({}))).toBe(true);
    expect(keptByProject('app_test', wt, meta({}))).toBe(false);
    expect(keptByProject('app', worktreeDatabaseName('app', '/other'), meta({}))).toBe(false);
    expect(keptByProject('app', savedBranchDatabaseName('app', 'b'), meta({ kind: 'branch', worktree: '/repo', branch: 'b' }))).toBe(true);
    expect(keptByProject('app', savedBranchDatabaseName(wt, 'b'), meta({ kind: 'branch', branch: 'b' }))).toBe(true);
    expect(keptByProject('app', savedBranchDatabaseName('app', 'b'), meta({ kind: 'branch', branch: null }))).toBe(false);
  });
});
