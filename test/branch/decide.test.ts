/** Which checkouts switch the branch database, and which saved ones `keep` lets go (DESIGN §17): pure. */
import { describe, expect, it } from 'vitest';
import { branchCheckout, savedBeyondKeep } from '../../src/core/branch-switch.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const entry = (from: string, to: string, prev = A, next = B) => `${prev} ${next} Dev <dev@example.com> 1700000000 +0000\tcheckout: moving from ${from} to ${to}`;

describe('branchCheckout', () => {
  it('a checkout from one branch to another switches, told by the reflog or by the branch the database belongs to', () => {
    expect(branchCheckout([A, B, '1'], 'ref: refs/heads/feat\n', entry('main', 'feat'), null)).toEqual({ from: 'main', to: 'feat' });
    expect(branchCheckout([A, A, '1'], 'ref: refs/heads/feat\n', entry('main', 'feat', A, A), null)).toEqual({ from: 'main', to: 'feat' });
    // A branch name holding " to " is cut at the checked-out branch, not at the first " to ".
    expect(branchCheckout([A, B, '1'], 'ref: refs/heads/x to y\n', entry('a to b', 'x to y'), null)).toEqual({ from: 'a to b', to: 'x to y' });
    // From a detached HEAD: the owner remembered says whose the database is.
    expect(branchCheckout([A, B, '1'], 'ref: refs/heads/main\n', entry(A, 'main'), 'feat')).toEqual({ from: 'feat', to: 'main' });
  });

  it('file checkouts, git worktree add, a detached HEAD, another hook\'s reflog entry and the same branch never switch', () => {
    expect(branchCheckout([A, B, '0'], 'ref: refs/heads/feat\n', entry('main', 'feat'), null)).toBeNull();
    expect(branchCheckout(['0'.repeat(40), B, '1'], 'ref: refs/heads/feat\n', entry('main', 'feat'), null)).toBeNull();
    expect(branchCheckout([A, B, '1'], `${B}\n`, entry('main', B), 'main')).toBeNull();
    expect(branchCheckout([A, B, '1'], 'ref: refs/heads/feat\n', entry(A, 'feat'), null)).toBeNull();
    expect(branchCheckout([A, B, '1'], 'ref: refs/heads/feat\n', `${A} ${B} Dev <d@e> 1 +0000\trebase (start): checkout feat`, null)).toBeNull();
    expect(branchCheckout([A, B, '1'], 'ref: refs/heads/feat\n', entry('main', 'feat', B, A), null)).toBeNull();
    expect(branchCheckout([A, B, '1'], 'ref: refs/heads/feat\n', entry('main', 'feat'), 'feat')).toBeNull();
  });
});

describe('savedBeyondKeep', () => {
  const saved = [
    { name: 'c', savedAt: '2026-01-03T00:00:00Z', sessions: 0 },
    { name: 'a', savedAt: '2026-01-01T00:00:00Z', sessions: 1 },
    { name: 'b', savedAt: '2026-01-02T00:00:00Z', sessions: 0 },
  ];
  it('drops the least recently used beyond N, never one with a session', () => {
    expect(savedBeyondKeep(saved, null)).toEqual([]);
    expect(savedBeyondKeep(saved, 3)).toEqual([]);
    expect(savedBeyondKeep(saved, 1)).toEqual(['b']);
    expect(savedBeyondKeep(saved, 2)).toEqual([]);
  });
});
