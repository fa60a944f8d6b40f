import { describe, expect, it } from 'vitest';
import { formatTable, listVersions } from '../../src/core/text.js';

describe('listVersions', () => {
  it('lists short lists in full', () => {
    expect(listVersions([447n, 446n])).toBe('447, 446');
    expect(listVersions([])).toBe('');
  });

  it('shortens long lists to the first few, the last, and the count', () => {
    const versions = Array.from({ length: 300 }, (_, i) => BigInt(300 - i));
    expect(listVersions(versions)).toBe('300, 299, 298, 297, 296, 295, 294, … 1 (300 in all)');
    expect(listVersions(versions.slice(0, 8))).toBe('300, 299, 298, 297, 296, 295, 294, 293');
  });
});

describe('formatTable', () => {
  it('aligns as psql does, NULL empty, one line per row whatever the values hold', () => {
    expect(formatTable(['id', 'note'], [['1', 'a\nb'], ['22', null]])).toEqual([' id | note', '----+------', ' 1  | a\\nb', ' 22 |']);
  });
});
