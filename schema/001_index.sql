-- The query index: derived from git, rebuilt whenever in doubt.
-- Stable query surface (SPEC §4): atoms, trail_atoms, influences, paths.

CREATE TABLE atoms (
    rowid         INTEGER PRIMARY KEY,
    commit_id     TEXT NOT NULL UNIQUE,
    atom_id       TEXT NOT NULL,
    type          TEXT NOT NULL,
    operation     TEXT NOT NULL,
    agent         TEXT NOT NULL,
    timestamp     TEXT NOT NULL,
    project       TEXT,
    summary       TEXT NOT NULL,
    token_cost    INTEGER,
    digest        TEXT NOT NULL,
    previous_atom TEXT,
    metadata      TEXT NOT NULL,
    -- internal columns
    day           TEXT NOT NULL,      -- YYYYMMDD of the id
    seq           INTEGER NOT NULL,   -- NNN of the id
    generation    INTEGER NOT NULL,   -- 1 + the highest generation of the parents
    record        TEXT NOT NULL       -- the whole record as stored
);
CREATE INDEX atoms_atom_id ON atoms(atom_id);
CREATE INDEX atoms_agent ON atoms(agent, timestamp);
CREATE INDEX atoms_type ON atoms(type, timestamp);
CREATE INDEX atoms_timestamp ON atoms(timestamp);
CREATE INDEX atoms_project ON atoms(project);
CREATE INDEX atoms_day_seq ON atoms(day, seq);

CREATE TABLE trail_atoms (
    trail     TEXT NOT NULL,
    commit_id TEXT NOT NULL,
    PRIMARY KEY (trail, commit_id)
) WITHOUT ROWID;
CREATE INDEX trail_atoms_commit ON trail_atoms(commit_id);

CREATE TABLE influences (
    atom_id       TEXT NOT NULL,
    influenced_by TEXT NOT NULL,
    commit_id     TEXT NOT NULL
);
CREATE INDEX influences_atom ON influences(atom_id);
CREATE INDEX influences_by ON influences(influenced_by);
CREATE INDEX influences_commit ON influences(commit_id);

CREATE TABLE paths (
    atom_id   TEXT NOT NULL,
    path      TEXT NOT NULL,
    commit_id TEXT NOT NULL
);
CREATE INDEX paths_path ON paths(path);
CREATE INDEX paths_commit ON paths(commit_id);

CREATE TABLE parents (
    commit_id TEXT NOT NULL,
    parent_id TEXT NOT NULL,
    position  INTEGER NOT NULL,
    PRIMARY KEY (commit_id, position)
) WITHOUT ROWID;

-- Which ref tips the index reflects.
CREATE TABLE refs_seen (
    name      TEXT PRIMARY KEY,
    commit_id TEXT NOT NULL
) WITHOUT ROWID;

CREATE VIRTUAL TABLE atoms_fts USING fts5(summary, metadata, tokenize = 'unicode61');
