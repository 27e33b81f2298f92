-- The query index: derived from git, rebuilt whenever in doubt.
-- `PRAGMA user_version` names the derivation that built it (see
-- src/index/mod.rs): an index of another derivation is rebuilt from git, an
-- index of a newer one is refused, never deleted.
--
-- Stable query surface (SPEC §4), as views: atoms, trail_atoms, influences,
-- paths. Everything else is internal.
--
-- One copy of each field: the columns of `atom` hold id, type, operation,
-- agent, project and token cost; `atom.record` holds the record's other
-- fields as JSON, and summary, metadata, digest and links are read out of it. Rows are numbered
-- (`n`) in the order this store accepted them; parents always come before
-- their children.
--
-- Trail membership is stored by segments, not atom by atom: a segment is a
-- run of atoms each of which is the first child of the one before it; an atom
-- is (seg, pos). A ref reaches a prefix of some segments (`trail_range`), so
-- a fork, an archive or a rollback adds a few rows, never a copy of history.

CREATE TABLE atom (
    n          INTEGER PRIMARY KEY,
    commit_id  BLOB NOT NULL UNIQUE,   -- 20 bytes
    atom_id    TEXT NOT NULL,
    type       TEXT NOT NULL,
    operation  TEXT NOT NULL,
    agent      TEXT NOT NULL,
    ts         INTEGER NOT NULL,       -- the record's timestamp, Unix seconds
    project    TEXT,
    token_cost INTEGER,
    day        INTEGER NOT NULL,       -- YYYYMMDD of the id
    seq        INTEGER NOT NULL,       -- NNN of the id
    seg        INTEGER NOT NULL,
    pos        INTEGER NOT NULL,
    sig        INTEGER NOT NULL,       -- 0 unsigned, 1 valid by key, 2 bad
    key        INTEGER,                -- signer_key.id of the key the signature names
    record     TEXT NOT NULL           -- the record's other fields, as JSON
);
CREATE INDEX atom_atom_id ON atom(atom_id);
CREATE INDEX atom_ts ON atom(ts, day, seq);
-- Each of these ends in n (the rowid): a trail's log walks them newest first.
CREATE INDEX atom_agent ON atom(agent);
CREATE INDEX atom_type ON atom(type);
CREATE INDEX atom_operation ON atom(operation);
CREATE INDEX atom_project ON atom(project);
CREATE INDEX atom_day_seq ON atom(day, seq);
CREATE UNIQUE INDEX atom_seg_pos ON atom(seg, pos);
-- Where an imported atom came from (`metadata.source` = {tool, table, id}):
-- re-importing a source finds what it already brought in, one lookup a row.
CREATE INDEX atom_source ON atom(
    json_extract(record, '$.metadata.source.tool'),
    json_extract(record, '$.metadata.source.table'),
    json_extract(record, '$.metadata.source.id')
) WHERE json_extract(record, '$.metadata.source') IS NOT NULL;

-- A segment starts at an atom whose first parent (`parent`, an atom.n) had
-- a first child already, or at a root (`parent` NULL).
CREATE TABLE segment (
    seg    INTEGER PRIMARY KEY,
    parent INTEGER
);

-- The second and further parents of MERGE atoms.
CREATE TABLE merge_parent (
    seg    INTEGER NOT NULL,
    pos    INTEGER NOT NULL,
    idx    INTEGER NOT NULL,   -- 1 for the second parent
    parent INTEGER NOT NULL,   -- atom.n
    PRIMARY KEY (seg, pos, idx)
) WITHOUT ROWID;

-- The keys signatures name, once each (OpenSSH public key text).
CREATE TABLE signer_key (
    id  INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE
);

CREATE TABLE influence (
    n  INTEGER NOT NULL,
    by TEXT NOT NULL,
    PRIMARY KEY (n, by)
) WITHOUT ROWID;
CREATE INDEX influence_by ON influence(by);

CREATE TABLE path (
    path TEXT NOT NULL,
    n    INTEGER NOT NULL,
    PRIMARY KEY (path, n)
) WITHOUT ROWID;
CREATE INDEX path_n ON path(n);

-- Which ref tips the index reflects, and which atoms each ref reaches: the
-- prefix pos <= max_pos of each listed segment.
CREATE TABLE ref_tip (
    name      TEXT PRIMARY KEY,
    commit_id BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE trail_range (
    trail   TEXT NOT NULL,
    seg     INTEGER NOT NULL,
    max_pos INTEGER NOT NULL,
    PRIMARY KEY (trail, seg)
) WITHOUT ROWID;
CREATE INDEX trail_range_seg ON trail_range(seg, max_pos);

-- The transparency log (SPEC §10), derived from the log commits under
-- refs/atom/log: leaves in the order the store accepted them, and the Merkle
-- hashes a log stores, numbered as Go's tlog numbers them. `day` and `seq` are
-- those of the atom's id when known: ids the log holds are never issued again.
CREATE TABLE log_leaf (
    leaf      INTEGER PRIMARY KEY,  -- 0-based
    commit_id BLOB NOT NULL UNIQUE,
    digest    TEXT NOT NULL,
    day       INTEGER,
    seq       INTEGER
);
CREATE INDEX log_leaf_day_seq ON log_leaf(day, seq);
CREATE TABLE log_hash (
    id   INTEGER PRIMARY KEY,
    hash BLOB NOT NULL
);
-- `tip`: the log commit these rows reflect; `checkpoint`: its signed checkpoint.
CREATE TABLE log_state (
    k TEXT PRIMARY KEY,
    v TEXT NOT NULL
) WITHOUT ROWID;
-- Indexed atoms the log does not hold yet; the next append logs them.
CREATE TABLE log_pending (
    n INTEGER PRIMARY KEY
);
CREATE TRIGGER atom_queued AFTER INSERT ON atom BEGIN
    INSERT INTO log_pending (n) VALUES (new.n);
END;
CREATE TRIGGER atom_unqueued AFTER DELETE ON atom BEGIN
    DELETE FROM log_pending WHERE n = old.n;
END;

-- Counts and token cost per agent, type, day and project, kept by triggers
-- so `atom stats` reads a few rows. A NULL project is the key x'00'.
CREATE TABLE stat (
    dim    TEXT NOT NULL,
    key    ANY NOT NULL,
    atoms  INTEGER NOT NULL,
    tokens INTEGER NOT NULL,
    PRIMARY KEY (dim, key)
) WITHOUT ROWID;

-- Full-text search over summary, metadata, agent and project, reading its
-- text from the records and columns (external content: no second copy).
CREATE VIEW atom_text AS
    SELECT n, record ->> '$.summary' AS summary, record -> '$.metadata' AS metadata,
        agent, project FROM atom;
CREATE VIRTUAL TABLE atoms_fts USING fts5(
    summary, metadata, agent, project, content = 'atom_text', content_rowid = 'n',
    tokenize = 'unicode61'
);

CREATE TRIGGER atom_added AFTER INSERT ON atom BEGIN
    INSERT INTO atoms_fts(rowid, summary, metadata, agent, project)
        VALUES (new.n, new.record ->> '$.summary', new.record -> '$.metadata', new.agent,
            new.project);
    INSERT INTO stat(dim, key, atoms, tokens) VALUES
        ('agent', new.agent, 1, coalesce(new.token_cost, 0)),
        ('type', new.type, 1, coalesce(new.token_cost, 0)),
        ('day', date(new.ts, 'unixepoch'), 1, coalesce(new.token_cost, 0)),
        ('project', coalesce(new.project, x'00'), 1, coalesce(new.token_cost, 0))
        ON CONFLICT(dim, key) DO UPDATE SET atoms = atoms + 1, tokens = tokens + excluded.tokens;
END;
CREATE TRIGGER atom_removed AFTER DELETE ON atom BEGIN
    INSERT INTO atoms_fts(atoms_fts, rowid, summary, metadata, agent, project)
        VALUES ('delete', old.n, old.record ->> '$.summary', old.record -> '$.metadata',
            old.agent, old.project);
    UPDATE stat SET atoms = atoms - 1, tokens = tokens - coalesce(old.token_cost, 0)
        WHERE (dim, key) IN (VALUES ('agent', old.agent), ('type', old.type),
            ('day', date(old.ts, 'unixepoch')), ('project', coalesce(old.project, x'00')));
    DELETE FROM stat WHERE atoms <= 0;
    DELETE FROM influence WHERE n = old.n;
    DELETE FROM path WHERE n = old.n;
    DELETE FROM merge_parent WHERE seg = old.seg AND pos = old.pos;
END;

-- The stable surface.
CREATE VIEW atoms AS
    SELECT lower(hex(commit_id)) AS commit_id, atom_id, type, operation, agent,
           record ->> '$.timestamp' AS timestamp, project, record ->> '$.summary' AS summary,
           token_cost, record ->> '$.digest' AS digest,
           record ->> '$.previous_atom' AS previous_atom, record -> '$.metadata' AS metadata
    FROM atom;
CREATE VIEW trail_atoms AS
    SELECT r.trail AS trail, lower(hex(a.commit_id)) AS commit_id
    FROM trail_range r JOIN atom a ON a.seg = r.seg AND a.pos <= r.max_pos;
CREATE VIEW influences AS
    SELECT a.atom_id AS atom_id, i.by AS influenced_by, lower(hex(a.commit_id)) AS commit_id
    FROM influence i JOIN atom a ON a.n = i.n;
CREATE VIEW paths AS
    SELECT a.atom_id AS atom_id, p.path AS path, lower(hex(a.commit_id)) AS commit_id
    FROM path p JOIN atom a ON a.n = p.n;
