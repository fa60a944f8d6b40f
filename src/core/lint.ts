/**
 * `dbguard lint --base <ref>` (DESIGN §10), for CI: what this branch does to migrations that would
 * hurt once merged. Pure: three trees' migration files (name → blob id) in, findings out.
 */
import { compareVersions, maxVersion } from './catalog.js';
import type { MigrationFormat } from './format.js';

export type LintFinding =
  /** Added below the highest version <ref> has: golang-migrate skips it wherever <ref> is applied. */
  | { readonly kind: 'below-base-top'; readonly file: string; readonly version: bigint; readonly baseTop: bigint }
  /** A file that existed at the merge-base, changed by this branch (databases already ran the old one). */
  | { readonly kind: 'edited'; readonly file: string; readonly version: bigint }
  | { readonly kind: 'deleted'; readonly file: string; readonly version: bigint }
  /** Added or edited here with markers the tool would misread (its format's parse refuses it). */
  | { readonly kind: 'invalid'; readonly file: string; readonly version: bigint; readonly reason: string };

export interface LintInput {
  /** Migration files at the merge-base of <ref> and HEAD. */
  readonly mergeBase: ReadonlyMap<string, string>;
  /** At <ref> (what it gained after the merge-base is not this branch's doing). */
  readonly ref: ReadonlyMap<string, string>;
  readonly head: ReadonlyMap<string, string>;
  /** The project's format: which files are up files, and their versions. */
  readonly format: MigrationFormat;
  /** The format as <ref> and the merge-base read it, when versions come from an index there (Drizzle's journal). */
  readonly formatAt?: { readonly ref: MigrationFormat; readonly mergeBase: MigrationFormat };
}

/** The migration files this branch adds or edits: the ones whose text the command reads and checks. */
export function touchedByBranch(input: LintInput): string[] {
  const { format } = input;
  return [...input.head].filter(([file, blob]) => format.isUpFile(file) && input.mergeBase.get(file) !== blob).map(([file]) => file);
}

export function lintMigrations(input: LintInput): LintFinding[] {
  const findings: LintFinding[] = [];
  const { format } = input;
  const versionOf = (file: string) => format.parseFileName(file)?.version;
  const refFormat = input.formatAt?.ref ?? format;
  const refUps = [...input.ref.keys()].filter((f) => refFormat.isUpFile(f)).map((f) => refFormat.parseFileName(f)?.version).filter((v): v is bigint => v !== undefined);
  const baseTop = maxVersion(refUps);
  for (const [file] of input.head) {
    const version = versionOf(file);
    if (version === undefined || input.mergeBase.has(file) || !format.isUpFile(file)) continue;
    if (baseTop !== null && version <= baseTop && !input.ref.has(file)) findings.push({ kind: 'below-base-top', file, version, baseTop });
  }
  for (const [file, blob] of input.mergeBase) {
    const version = (input.formatAt?.mergeBase ?? format).parseFileName(file)?.version;
    if (version === undefined) continue;
    const now = input.head.get(file);
    if (now === undefined) findings.push({ kind: 'deleted', file, version });
    else if (now !== blob) findings.push({ kind: 'edited', file, version });
  }
  return findings.sort((a, b) => compareVersions(a.version, b.version) || a.file.localeCompare(b.file));
}
