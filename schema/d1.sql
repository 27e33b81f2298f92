-- Cloudflare D1 mirror of an atom store (SPEC §7), created by `atom mirror push`.
--
-- Enough to rebuild every trail byte for byte: each atom's raw git objects
-- (commit, trees, blobs), every ref, the trusted public keys and the
-- transparency log (its commits, and its checkpoints readable). Queryable
-- from Workers: one row per atom with its main fields and its record.
--
-- D1's limits shape it: a statement is at most 100,000 bytes with at most 100
-- bound parameters, a row or string at most 2 MB, and the REST API binds only
-- strings, numbers and null. So object content is base64 text cut into parts
-- of at most 45,000 bytes (60,000 base64 characters): one part per row of
-- `objects`, an attachment of 64 MiB is about 1,500 rows.
-- Statements are separated by `;` at the end of a line.

-- One row per atom (commit).
CREATE TABLE IF NOT EXISTS atoms (
  commit_sha TEXT PRIMARY KEY,            -- hex id of the atom's commit
  atom_id    TEXT NOT NULL,               -- ATOM-CFG-20241127-003
  type       TEXT NOT NULL,
  operation  TEXT NOT NULL,
  agent      TEXT NOT NULL,
  timestamp  TEXT NOT NULL,               -- RFC 3339 UTC, as in the record
  project    TEXT,
  digest     TEXT NOT NULL,               -- sha256:... of the record
  parents    TEXT NOT NULL,               -- parent commit shas, space-separated, first parent first
  record     TEXT,                        -- the record (atom.json); NULL when over 60,000 bytes
                                          -- (then read it from its blob in `objects`)
  objects    TEXT NOT NULL,               -- JSON array of the shas of the atom's git objects, commit first
  pushed_at  TEXT NOT NULL                -- when this row was written
);
CREATE INDEX IF NOT EXISTS atoms_atom_id ON atoms (atom_id);
CREATE INDEX IF NOT EXISTS atoms_agent_time ON atoms (agent, timestamp);
CREATE INDEX IF NOT EXISTS atoms_type_time ON atoms (type, timestamp);
CREATE INDEX IF NOT EXISTS atoms_time ON atoms (timestamp);

-- Raw git objects, content in base64 parts. An object is complete when it
-- has `parts` rows; its id is the SHA-1 of "<kind> <size>\0" + content.
CREATE TABLE IF NOT EXISTS objects (
  sha   TEXT NOT NULL,
  part  INTEGER NOT NULL,                 -- 0, 1, ... parts - 1
  parts INTEGER NOT NULL,
  kind  TEXT NOT NULL,                    -- commit, tree or blob
  size  INTEGER NOT NULL,                 -- size of the whole object's content in bytes
  data  TEXT NOT NULL,                    -- base64 of this part's bytes
  PRIMARY KEY (sha, part)
);

-- Trail membership: which refs (refs/heads/<trail>, refs/atom/archive/...)
-- reach which atoms.
CREATE TABLE IF NOT EXISTS ref_atoms (
  ref        TEXT NOT NULL,
  commit_sha TEXT NOT NULL,
  PRIMARY KEY (ref, commit_sha)
);
CREATE INDEX IF NOT EXISTS ref_atoms_commit ON ref_atoms (commit_sha);

-- Trail heads as of the last push: one row per ref, plus `HEAD` whose
-- target is the ref of the current trail, `refs/atom/signers` (the key list
-- chain's tip) and `refs/atom/log` (the transparency log's tip; its commits
-- are in `objects` like the atoms').
CREATE TABLE IF NOT EXISTS heads (
  name       TEXT PRIMARY KEY,            -- refs/heads/main, refs/atom/archive/main/1, HEAD, refs/atom/log
  target     TEXT NOT NULL,               -- a commit sha (HEAD: a ref name)
  updated_at TEXT NOT NULL
);

-- The transparency log's checkpoint as of each push (SPEC §10): a C2SP
-- signed note of the log's size and root, signed by the store's key. Restore
-- checks the store it rebuilds against the largest one.
CREATE TABLE IF NOT EXISTS checkpoints (
  size       INTEGER PRIMARY KEY,         -- leaves in the log
  origin     TEXT NOT NULL,               -- the log's name, atom/<16 hex digits>
  root       TEXT NOT NULL,               -- base64 of the RFC 6962 root hash
  log_commit TEXT NOT NULL,               -- the refs/atom/log commit holding it
  note       TEXT NOT NULL,               -- the signed checkpoint, verbatim
  pushed_at  TEXT NOT NULL
);

-- Trusted public keys (keys/allowed_signers), one row per key.
CREATE TABLE IF NOT EXISTS signers (
  fingerprint TEXT PRIMARY KEY,           -- SHA256:...
  principal   TEXT NOT NULL,
  key         TEXT NOT NULL,              -- ssh-ed25519 AAAA...
  updated_at  TEXT NOT NULL
);
