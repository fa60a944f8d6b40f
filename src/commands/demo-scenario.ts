/**
 * The demo's story as data: a project whose main branch has users and posts, a feature branch A that
 * adds comments and post tags (and is migrated), and a feature branch B that adds a bio to users.
 */
import { golangMigrate as format } from '../formats/golang-migrate.js';

export type Files = Readonly<Record<string, string>>;

const pair = (name: string, up: string, down: string): Files => format.filesFor(name, up, down);

export const MAIN_MIGRATIONS: Files = {
  ...pair('20260101090000_create_users', 'CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL UNIQUE);\n', 'DROP TABLE users;\n'),
  ...pair('20260102090000_create_posts', 'CREATE TABLE posts (id serial PRIMARY KEY, user_id int NOT NULL REFERENCES users, title text NOT NULL);\n', 'DROP TABLE posts;\n'),
};

export const BRANCH_A: Files = {
  ...MAIN_MIGRATIONS,
  ...pair('20260110090000_create_comments', 'CREATE TABLE comments (id serial PRIMARY KEY, post_id int NOT NULL REFERENCES posts, body text NOT NULL);\n', 'DROP TABLE comments;\n'),
  ...pair('20260111090000_add_post_tags', 'ALTER TABLE posts ADD COLUMN tags text[] NOT NULL DEFAULT \'{}\';\n', 'ALTER TABLE posts DROP COLUMN tags;\n'),
  ...pair('20260112090000_index_comments', 'CREATE INDEX comments_post_id ON comments (post_id);\n', 'DROP INDEX comments_post_id;\n'),
};

export const BRANCH_B: Files = {
  ...MAIN_MIGRATIONS,
  ...pair('20260115090000_add_user_bio', 'ALTER TABLE users ADD COLUMN bio text;\n', 'ALTER TABLE users DROP COLUMN bio;\n'),
};

/** Test data "built up over weeks": rows in the shared tables, and some in branch A's own table. */
export const SEED_SQL = [
  "INSERT INTO users (email) VALUES ('ada@example.com'), ('grace@example.com'), ('linus@example.com')",
  "INSERT INTO posts (user_id, title, tags) VALUES (1, 'Hello', '{intro}'), (2, 'Compilers', '{cs}')",
  "INSERT INTO comments (post_id, body) VALUES (1, 'Welcome!')",
];

export const SHARED_TABLES = ['users', 'posts'] as const;
