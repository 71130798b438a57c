//! The review database (SQLite): users, sessions, caseworkers' decisions and the access log.
//!
//! The access log and the decisions are hash chains: each line stores the SHA-256 of the
//! line before's hash and its own fields, so a line changed or removed anywhere but at the end
//! breaks every hash after it ([`verify_logs`], `hedui verify --access-log`); the end is
//! anchored by the head hashes recorded elsewhere.
//!
//! Decisions and the access log are appended, never updated; the decision in force for a
//! finding is the newest one recorded for the same household, rule and evidence fingerprint, in
//! whichever batch it was recorded. The database runs in WAL mode with full syncs, so a
//! recorded decision survives a crash the moment the caseworker sees it listed.
//!
//! Passwords are stored as argon2id PHC strings; session tokens only as their SHA-256, so the
//! database alone does not let anyone log in.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Role {
    /// Reviews and decides on the households of their regions.
    Caseworker,
    /// Reads everything, decides nothing.
    Auditor,
    /// Manages users; reads the access log.
    Admin,
}

impl Role {
    /// `caseworker`, `auditor` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Caseworker => "caseworker",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }

    /// Parses a role name.
    pub fn parse(s: &str) -> Result<Role> {
        match s {
            "caseworker" => Ok(Role::Caseworker),
            "auditor" => Ok(Role::Auditor),
            "admin" => Ok(Role::Admin),
            other => Err(Error::Refused(format!(
                "unknown role {other:?} (caseworker, auditor or admin)"
            ))),
        }
    }
}

/// A user as the app sees them after login.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    /// Login name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Region codes a caseworker may see (empty for other roles).
    pub regions: BTreeSet<i32>,
    /// Disabled users cannot log in.
    pub disabled: bool,
}

/// A live session.
#[derive(Debug, Clone)]
pub struct Session {
    /// Its user.
    pub user: User,
    /// The token every form of the session must carry.
    pub csrf: String,
}

/// A caseworker's decision on a finding.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    /// The household.
    pub household_id: String,
    /// The finding's rule.
    pub rule: String,
    /// The evidence fingerprint it was made on.
    pub fingerprint: String,
    /// `confirmed`, `dismissed` or `home_visit`.
    pub decision: String,
    /// Why.
    pub reason: String,
    /// Who.
    pub user: String,
    /// The batch it was recorded in.
    pub batch_id: String,
    /// When (UTC).
    pub at: String,
}

/// The decisions a caseworker can record.
pub const DECISIONS: [&str; 3] = ["confirmed", "dismissed", "home_visit"];

/// One line of the access log.
#[derive(Debug, Clone, Serialize)]
pub struct Access {
    /// When (UTC).
    pub at: String,
    /// Who.
    pub user: String,
    /// Which batch.
    pub batch_id: String,
    /// Which household.
    pub household_id: String,
    /// `view` (the household's page), `list` (shown in a list of households) or
    /// `decide:<decision>`.
    pub action: String,
}

/// An append-only table of the review database kept as a hash chain: the table, the name
/// messages give it, and the columns each line's hash covers, in order.
struct ChainedTable {
    table: &'static str,
    label: &'static str,
    columns: &'static [&'static str],
}

/// The access log: who saw or listed which household, when.
const ACCESS_LOG: ChainedTable = ChainedTable {
    table: "access_log",
    label: "access log",
    columns: &["at", "user", "batch_id", "household_id", "action"],
};

/// The caseworkers' decisions.
const DECISION_LOG: ChainedTable = ChainedTable {
    table: "decisions",
    label: "decisions",
    columns: &[
        "household_id",
        "rule",
        "fingerprint",
        "decision",
        "reason",
        "user",
        "batch_id",
        "at",
    ],
};

/// The review queue's assignments: who was given which household, by whom, when (the newest
/// line of a household is in force).
const ASSIGNMENT_LOG: ChainedTable = ChainedTable {
    table: "assignment_log",
    label: "assignments",
    columns: &["household_id", "user", "assigned_by", "batch_id", "at"],
};

/// The hash of a chained line: SHA-256 over the previous line's hash and this line's fields,
/// as a JSON array (so no field can run into the next).
pub fn chain_hash(prev: &str, fields: &[&str]) -> String {
    let mut all = Vec::with_capacity(fields.len() + 1);
    all.push(prev);
    all.extend_from_slice(fields);
    let text = serde_json::Value::from(all).to_string();
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// What [`verify_logs`] found in one chained table.
#[derive(Debug, Default)]
pub struct Chain {
    /// `access log` or `decisions`.
    pub name: &'static str,
    /// Lines in it.
    pub lines: u64,
    /// The newest line's hash (to record elsewhere), if any.
    pub head: Option<String>,
    /// Every line's hash, oldest first (to look up a recorded head).
    pub hashes: Vec<String>,
    /// What does not hold, each naming the line.
    pub problems: Vec<String>,
}

/// Recomputes the hash chains of the review database at `path` (opened read-only): the
/// access log, then the decisions.
pub fn verify_logs(path: &Path) -> Result<Vec<Chain>> {
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|source| Error::Database {
            path: Some(path.display().to_string()),
            source,
        })?;
    [&ACCESS_LOG, &DECISION_LOG, &ASSIGNMENT_LOG]
        .into_iter()
        .map(|t| verify_table(&conn, t))
        .collect()
}

fn has_column(conn: &Connection, table: &str, column: &str) -> Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM pragma_table_info(?1) WHERE name = ?2",
        params![table, column],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
    .map_err(db)
}

fn verify_table(conn: &Connection, t: &ChainedTable) -> Result<Chain> {
    let label = t.label;
    let mut chain = Chain {
        name: label,
        ..Chain::default()
    };
    // A database from before the assignments has none: an empty chain.
    if t.table == ASSIGNMENT_LOG.table && !has_column(conn, t.table, "id")? {
        return Ok(chain);
    }
    if !has_column(conn, t.table, "hash")? {
        chain.problems.push(format!(
            "{label}: not chained (a database from before hedui chained it: opening it with `hedui serve` or `hedui user list` chains what is there)"
        ));
        return Ok(chain);
    }
    let n = t.columns.len();
    let sql = format!(
        "SELECT id, {}, hash FROM {} ORDER BY id",
        t.columns.join(", "),
        t.table
    );
    let at = t.columns.iter().position(|c| *c == "at").unwrap_or(0);
    let user = t.columns.iter().position(|c| *c == "user").unwrap_or(0);
    let mut st = conn.prepare(&sql).map_err(db)?;
    let mut rows = st.query([]).map_err(db)?;
    let mut prev = String::new();
    let mut last_id = 0i64;
    while let Some(r) = rows.next().map_err(db)? {
        let id: i64 = r.get(0).map_err(db)?;
        let fields: Vec<String> = (1..=n)
            .map(|i| r.get(i))
            .collect::<rusqlite::Result<_>>()
            .map_err(db)?;
        let hash: String = r.get(n + 1).map_err(db)?;
        if id != last_id + 1 {
            chain.problems.push(format!(
                "{label}: lines {} to {} were removed",
                last_id + 1,
                id - 1
            ));
        }
        let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
        if chain_hash(&prev, &refs) != hash {
            chain.problems.push(format!(
                "{label}: line {id} ({}, {}) does not hash to what is stored: it was changed, or the line before it",
                fields[at], fields[user]
            ));
        }
        chain.lines += 1;
        chain.hashes.push(hash.clone());
        prev = hash;
        last_id = id;
    }
    // AUTOINCREMENT keeps the highest id ever used: lines cut off the end leave it above
    // the last line.
    let seq: Option<i64> = conn
        .query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = ?1",
            params![t.table],
            |r| r.get(0),
        )
        .optional()
        .map_err(db)?;
    if let Some(seq) = seq.filter(|s| *s > last_id) {
        chain.problems.push(format!(
            "{label}: lines {} to {seq} were removed from its end",
            last_id + 1
        ));
    }
    chain.head = chain.hashes.last().cloned();
    Ok(chain)
}

/// How long a session lasts.
pub const SESSION_SECS: i64 = 8 * 3600;

/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 12;

/// Common passwords refused whatever else holds (`common_passwords.txt`, shipped in the
/// binary).
const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

/// Whether `password` may be set for user `name`: at least [`MIN_PASSWORD`] characters, not
/// a common password, not trivial (blank, all one character, fewer than five different
/// characters, a short pattern repeated, a run like `abcdefghijkl` or `987654321098`), and
/// not the user's name with a little added. The reason is the error's text.
pub fn check_password(name: &str, password: &str) -> Result<()> {
    let refuse = |why: &str| Err(Error::Refused(format!("password: {why}")));
    let chars: Vec<char> = password.chars().collect();
    if chars.len() < MIN_PASSWORD {
        return refuse(&format!("at least {MIN_PASSWORD} characters"));
    }
    let lower = password.to_lowercase();
    if password.trim().is_empty() {
        return refuse("only spaces");
    }
    let distinct: BTreeSet<char> = lower.chars().collect();
    if distinct.len() < 5 {
        return refuse("too few different characters");
    }
    if (1..=chars.len() / 2)
        .any(|p| chars.len().is_multiple_of(p) && chars.chunks(p).all(|c| c == &chars[..p]))
    {
        return refuse("a short pattern repeated");
    }
    // A run: each character the one after (or before) the last, digits wrapping round
    // (`890123456789`).
    let steps: BTreeSet<i64> = chars
        .windows(2)
        .map(|w| {
            let d = w[1] as i64 - w[0] as i64;
            if w[0].is_ascii_digit() && w[1].is_ascii_digit() {
                d.rem_euclid(10)
            } else {
                d
            }
        })
        .collect();
    if steps.len() == 1 && steps.iter().all(|s| matches!(s, 1 | -1 | 9)) {
        return refuse("a run of consecutive characters");
    }
    let name = name.to_lowercase();
    if name.chars().count() >= 3 && lower.contains(&name) && lower.len() - name.len() < 8 {
        return refuse("the user name with a little added");
    }
    if COMMON_PASSWORDS
        .lines()
        .filter(|l| !l.starts_with('#'))
        .any(|l| l == lower)
    {
        return refuse("a common password");
    }
    Ok(())
}

/// The open database.
pub struct Store {
    conn: Connection,
}

fn db(source: rusqlite::Error) -> Error {
    Error::Database { path: None, source }
}

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

fn stamp() -> String {
    now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// 32 random bytes as hex, from the operating system's generator.
pub fn random_token() -> Result<String> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| Error::Secret {
        what: "random source",
        detail: e.to_string(),
    })?;
    Ok(hex::encode(b))
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn parse_regions(s: &str) -> Result<BTreeSet<i32>> {
    s.split([',', ' ', ';'])
        .filter(|x| !x.is_empty())
        .map(|x| {
            x.parse::<i32>()
                .ok()
                .filter(|c| (100_000..1_000_000).contains(c))
                .ok_or_else(|| Error::Refused(format!("region {x:?} is not a 6-digit code")))
        })
        .collect()
}

fn regions_text(r: &BTreeSet<i32>) -> String {
    r.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

/// A user name: 1-64 of `A-Z a-z 0-9 _ . -`.
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::Refused(format!(
            "user name {name:?}: use 1-64 letters, digits, '_', '.', '-'"
        )))
    }
}

/// An argon2id hash of `password` with a fresh salt.
pub fn hash_password(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| Error::Secret {
        what: "random source",
        detail: e.to_string(),
    })?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Secret {
        what: "salt",
        detail: e.to_string(),
    })?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Secret {
            what: "hashing password",
            detail: e.to_string(),
        })
}

fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash checked when the user does not exist, so a wrong name costs as long as a wrong
/// password (no telling which names exist by timing).
fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| hash_password("not a password of anyone").unwrap_or_default())
}

impl Store {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(crate::error::io(dir))?;
        }
        let conn = Connection::open(path).map_err(|source| Error::Database {
            path: Some(path.display().to_string()),
            source,
        })?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA foreign_keys = ON;
             PRAGMA busy_timeout = 5000;
             CREATE TABLE IF NOT EXISTS users (
                 name TEXT PRIMARY KEY,
                 hash TEXT NOT NULL,
                 role TEXT NOT NULL CHECK (role IN ('caseworker', 'auditor', 'admin')),
                 regions TEXT NOT NULL DEFAULT '',
                 created_at TEXT NOT NULL,
                 disabled INTEGER NOT NULL DEFAULT 0);
             CREATE TABLE IF NOT EXISTS sessions (
                 token_hash TEXT PRIMARY KEY,
                 user TEXT NOT NULL REFERENCES users(name),
                 csrf TEXT NOT NULL,
                 expires_at INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS decisions (
                 id INTEGER PRIMARY KEY AUTOINCREMENT,
                 household_id TEXT NOT NULL,
                 rule TEXT NOT NULL,
                 fingerprint TEXT NOT NULL,
                 decision TEXT NOT NULL CHECK (decision IN ('confirmed', 'dismissed', 'home_visit')),
                 reason TEXT NOT NULL,
                 user TEXT NOT NULL REFERENCES users(name),
                 batch_id TEXT NOT NULL,
                 at TEXT NOT NULL,
                 hash TEXT NOT NULL DEFAULT '');
             CREATE INDEX IF NOT EXISTS decisions_household ON decisions (household_id);
             CREATE TABLE IF NOT EXISTS assignment_log (
                 id INTEGER PRIMARY KEY AUTOINCREMENT,
                 household_id TEXT NOT NULL,
                 user TEXT NOT NULL REFERENCES users(name),
                 assigned_by TEXT NOT NULL,
                 batch_id TEXT NOT NULL,
                 at TEXT NOT NULL,
                 hash TEXT NOT NULL DEFAULT '');
             CREATE INDEX IF NOT EXISTS assignment_log_household ON assignment_log (household_id);
             CREATE TABLE IF NOT EXISTS due_dates (
                 household_id TEXT PRIMARY KEY,
                 applied TEXT NOT NULL,
                 due TEXT NOT NULL,
                 batch_id TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS access_log (
                 id INTEGER PRIMARY KEY AUTOINCREMENT,
                 at TEXT NOT NULL,
                 user TEXT NOT NULL,
                 batch_id TEXT NOT NULL,
                 household_id TEXT NOT NULL,
                 action TEXT NOT NULL,
                 hash TEXT NOT NULL DEFAULT '');",
        )
        .map_err(db)?;
        let store = Store { conn };
        store.chain_old(&ACCESS_LOG)?;
        store.chain_old(&DECISION_LOG)?;
        Ok(store)
    }

    /// A database made before a log was chained gets the column, and its lines their hashes,
    /// once.
    fn chain_old(&self, t: &ChainedTable) -> Result<()> {
        if has_column(&self.conn, t.table, "hash")? {
            return Ok(());
        }
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(db)?;
        let chained = (|| -> Result<()> {
            self.conn
                .execute_batch(&format!(
                    "ALTER TABLE {} ADD COLUMN hash TEXT NOT NULL DEFAULT ''",
                    t.table
                ))
                .map_err(db)?;
            let n = t.columns.len();
            let mut st = self
                .conn
                .prepare(&format!(
                    "SELECT id, {} FROM {} ORDER BY id",
                    t.columns.join(", "),
                    t.table
                ))
                .map_err(db)?;
            let rows: Vec<(i64, Vec<String>)> = st
                .query_map([], |r| {
                    Ok((
                        r.get(0)?,
                        (1..=n).map(|i| r.get(i)).collect::<rusqlite::Result<_>>()?,
                    ))
                })
                .map_err(db)?
                .collect::<rusqlite::Result<_>>()
                .map_err(db)?;
            let mut prev = String::new();
            for (id, fields) in rows {
                let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
                prev = chain_hash(&prev, &refs);
                self.conn
                    .execute(
                        &format!("UPDATE {} SET hash = ?1 WHERE id = ?2", t.table),
                        params![prev, id],
                    )
                    .map_err(db)?;
            }
            Ok(())
        })();
        self.finish(chained)
    }

    /// Appends `rows` (values in `t`'s column order) to chained table `t` in one transaction,
    /// each chained to the line before. The write lock is taken first (`BEGIN IMMEDIATE`), so
    /// two writers (two app processes on one database) cannot both extend the same line.
    fn append_chained(&self, t: &ChainedTable, rows: &[Vec<&str>]) -> Result<()> {
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(db)?;
        let written = (|| -> Result<()> {
            let mut prev: String = self
                .conn
                .query_row(
                    &format!("SELECT hash FROM {} ORDER BY id DESC LIMIT 1", t.table),
                    [],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db)?
                .unwrap_or_default();
            let placeholders: Vec<String> =
                (1..=t.columns.len() + 1).map(|i| format!("?{i}")).collect();
            let mut st = self
                .conn
                .prepare_cached(&format!(
                    "INSERT INTO {} ({}, hash) VALUES ({})",
                    t.table,
                    t.columns.join(", "),
                    placeholders.join(", ")
                ))
                .map_err(db)?;
            for row in rows {
                prev = chain_hash(&prev, row);
                let mut values: Vec<&str> = row.clone();
                values.push(&prev);
                st.execute(rusqlite::params_from_iter(values)).map_err(db)?;
            }
            Ok(())
        })();
        self.finish(written)
    }

    /// Commits the transaction begun before `result` if it is Ok, else rolls it back.
    fn finish<T>(&self, result: Result<T>) -> Result<T> {
        match result {
            Ok(v) => {
                self.conn.execute_batch("COMMIT").map_err(db)?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Adds a user (the password is hashed here). Fails if the name is taken.
    pub fn add_user(&self, name: &str, password: &str, role: Role, regions: &str) -> Result<()> {
        check_name(name)?;
        check_password(name, password)?;
        let regions = parse_regions(regions)?;
        match role {
            Role::Caseworker if regions.is_empty() => {
                return Err(Error::Refused(
                    "a caseworker needs at least one region".into(),
                ));
            }
            Role::Auditor | Role::Admin if !regions.is_empty() => {
                return Err(Error::Refused(format!(
                    "an {} sees every region; give regions to caseworkers only",
                    role.as_str()
                )));
            }
            _ => {}
        }
        let hash = hash_password(password)?;
        let n = self
            .conn
            .execute(
                "INSERT INTO users (name, hash, role, regions, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (name) DO NOTHING",
                params![name, hash, role.as_str(), regions_text(&regions), stamp()],
            )
            .map_err(db)?;
        if n == 0 {
            return Err(Error::Refused(format!("user {name} exists already")));
        }
        Ok(())
    }

    /// Disables a user and ends their sessions.
    pub fn disable_user(&self, name: &str) -> Result<()> {
        let n = self
            .conn
            .execute("UPDATE users SET disabled = 1 WHERE name = ?1", [name])
            .map_err(db)?;
        if n == 0 {
            return Err(Error::Refused(format!("no user {name}")));
        }
        self.conn
            .execute("DELETE FROM sessions WHERE user = ?1", [name])
            .map_err(db)?;
        Ok(())
    }

    fn user_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(User, String)> {
        let role: String = row.get(1)?;
        let regions: String = row.get(2)?;
        Ok((
            User {
                name: row.get(0)?,
                role: Role::parse(&role).unwrap_or(Role::Auditor),
                regions: parse_regions(&regions).unwrap_or_default(),
                disabled: row.get::<_, i64>(3)? != 0,
            },
            row.get(4)?,
        ))
    }

    /// Every user, by name.
    pub fn users(&self) -> Result<Vec<User>> {
        let mut st = self
            .conn
            .prepare("SELECT name, role, regions, disabled, hash FROM users ORDER BY name")
            .map_err(db)?;
        let rows = st
            .query_map([], Self::user_row)
            .map_err(db)?
            .map(|r| r.map(|(u, _)| u))
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(db)?;
        Ok(rows)
    }

    /// The user if `password` is theirs and they are enabled. Costs one argon2 verification
    /// whether or not the user exists.
    pub fn check_login(&self, name: &str, password: &str) -> Result<Option<User>> {
        let found = self
            .conn
            .query_row(
                "SELECT name, role, regions, disabled, hash FROM users WHERE name = ?1",
                [name],
                Self::user_row,
            )
            .optional()
            .map_err(db)?;
        Ok(match found {
            Some((user, hash)) => {
                (verify_password(password, &hash) && !user.disabled).then_some(user)
            }
            None => {
                verify_password(password, dummy_hash());
                None
            }
        })
    }

    /// Starts a session for `user`; returns the cookie token (only its hash is stored).
    pub fn start_session(&self, user: &str) -> Result<String> {
        let token = random_token()?;
        let csrf = random_token()?;
        let expires = now().timestamp() + SESSION_SECS;
        self.conn
            .execute(
                "DELETE FROM sessions WHERE expires_at < ?1",
                [now().timestamp()],
            )
            .map_err(db)?;
        self.conn
            .execute(
                "INSERT INTO sessions (token_hash, user, csrf, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![token_hash(&token), user, csrf, expires],
            )
            .map_err(db)?;
        Ok(token)
    }

    /// The live session of a cookie token, if any.
    pub fn session(&self, token: &str) -> Result<Option<Session>> {
        let found = self
            .conn
            .query_row(
                "SELECT u.name, u.role, u.regions, u.disabled, s.csrf
                 FROM sessions s JOIN users u ON u.name = s.user
                 WHERE s.token_hash = ?1 AND s.expires_at >= ?2",
                params![token_hash(token), now().timestamp()],
                Self::user_row,
            )
            .optional()
            .map_err(db)?;
        Ok(found
            .filter(|(u, _)| !u.disabled)
            .map(|(user, csrf)| Session { user, csrf }))
    }

    /// Ends a session.
    pub fn end_session(&self, token: &str) -> Result<()> {
        self.conn
            .execute(
                "DELETE FROM sessions WHERE token_hash = ?1",
                [token_hash(token)],
            )
            .map_err(db)?;
        Ok(())
    }

    /// Records a decision.
    pub fn decide(&self, d: &Decision) -> Result<()> {
        if !DECISIONS.contains(&d.decision.as_str()) {
            return Err(Error::Refused(format!("unknown decision {:?}", d.decision)));
        }
        let at = stamp();
        self.append_chained(
            &DECISION_LOG,
            &[vec![
                d.household_id.as_str(),
                &d.rule,
                &d.fingerprint,
                &d.decision,
                &d.reason,
                &d.user,
                &d.batch_id,
                &at,
            ]],
        )
    }

    fn decision_rows(&self, filter: &str, args: &[&dyn rusqlite::ToSql]) -> Result<Vec<Decision>> {
        let sql = format!(
            "SELECT household_id, rule, fingerprint, decision, reason, user, batch_id, at
             FROM decisions {filter} ORDER BY id DESC"
        );
        let mut st = self.conn.prepare(&sql).map_err(db)?;
        let rows = st
            .query_map(args, |r| {
                Ok(Decision {
                    household_id: r.get(0)?,
                    rule: r.get(1)?,
                    fingerprint: r.get(2)?,
                    decision: r.get(3)?,
                    reason: r.get(4)?,
                    user: r.get(5)?,
                    batch_id: r.get(6)?,
                    at: r.get(7)?,
                })
            })
            .map_err(db)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(db)?;
        Ok(rows)
    }

    /// The decisions in force for a household's findings `(rule, fingerprint)`, in order.
    pub fn decisions_for(
        &self,
        household_id: &str,
        findings: &[(String, String)],
    ) -> Result<Vec<Option<Decision>>> {
        let rows = self.decision_rows("WHERE household_id = ?1", &[&household_id])?;
        Ok(findings
            .iter()
            .map(|(rule, fp)| {
                rows.iter()
                    .find(|d| &d.rule == rule && &d.fingerprint == fp)
                    .cloned()
            })
            .collect())
    }

    /// Every decision in force, by `(household, rule, fingerprint)`.
    pub fn all_decisions(&self) -> Result<HashMap<(String, String, String), Decision>> {
        let mut out = HashMap::new();
        for d in self.decision_rows("", &[])? {
            out.entry((
                d.household_id.clone(),
                d.rule.clone(),
                d.fingerprint.clone(),
            ))
            .or_insert(d);
        }
        Ok(out)
    }

    /// Assigns `households` to caseworker `user` (replacing an earlier assignment), as
    /// `by` did in batch `batch_id`: one line per household appended to the assignment log,
    /// a hash chain like the decisions. An assignment is the household's, not the batch's: it
    /// holds in every later batch that lists the household. Refused for a user who is not
    /// an enabled caseworker. The number assigned.
    pub fn assign(
        &self,
        households: &[String],
        user: &str,
        by: &str,
        batch_id: &str,
    ) -> Result<usize> {
        let u = self
            .users()?
            .into_iter()
            .find(|u| u.name == user)
            .ok_or_else(|| Error::Refused(format!("no user {user:?}")))?;
        if u.role != Role::Caseworker || u.disabled {
            return Err(Error::Refused(format!(
                "{user} is not an enabled caseworker"
            )));
        }
        let at = stamp();
        let rows: Vec<Vec<&str>> = households
            .iter()
            .map(|h| vec![h.as_str(), user, by, batch_id, at.as_str()])
            .collect();
        self.append_chained(&ASSIGNMENT_LOG, &rows)?;
        Ok(households.len())
    }

    /// Every assignment in force (a household's newest line of the assignment log):
    /// household -> caseworker.
    pub fn assignments(&self) -> Result<HashMap<String, String>> {
        Ok(self
            .pairs("SELECT household_id, user FROM assignment_log ORDER BY id")?
            .into_iter()
            .collect())
    }

    /// The rows of a query of two text columns.
    fn pairs(&self, sql: &str) -> Result<Vec<(String, String)>> {
        let mut st = self.conn.prepare(sql).map_err(db)?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(db)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(db)?;
        Ok(rows)
    }

    /// The due dates of households, carried across batches: a household keeps the due date
    /// it was first given for an application (`applied`), and gets the one computed now
    /// (`due`) when it is new or applied again. `rows` are `(household, applied, due)` of
    /// batch `batch_id`; returns every household's due date.
    pub fn carry_due_dates(
        &self,
        rows: &[(String, chrono::NaiveDate, chrono::NaiveDate)],
        batch_id: &str,
    ) -> Result<HashMap<String, chrono::NaiveDate>> {
        let tx = self.conn.unchecked_transaction().map_err(db)?;
        {
            let mut st = tx
                .prepare(
                    "INSERT INTO due_dates (household_id, applied, due, batch_id)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(household_id) DO UPDATE SET applied = excluded.applied,
                         due = excluded.due, batch_id = excluded.batch_id
                     WHERE due_dates.applied <> excluded.applied",
                )
                .map_err(db)?;
            for (h, applied, due) in rows {
                st.execute(rusqlite::params![
                    h,
                    applied.to_string(),
                    due.to_string(),
                    batch_id
                ])
                .map_err(db)?;
            }
        }
        tx.commit().map_err(db)?;
        self.due_dates()
    }

    /// Every household's due date.
    pub fn due_dates(&self) -> Result<HashMap<String, chrono::NaiveDate>> {
        Ok(self
            .pairs("SELECT household_id, due FROM due_dates")?
            .into_iter()
            .filter_map(|(h, d)| Some((h, d.parse().ok()?)))
            .collect())
    }

    /// Writes one line of the access log.
    pub fn log_access(
        &self,
        user: &str,
        batch_id: &str,
        household_id: &str,
        action: &str,
    ) -> Result<()> {
        self.append_access(user, batch_id, &[household_id], action)
    }

    /// Writes one line per household of the access log, in one transaction, each chained to
    /// the one before.
    pub fn append_access(
        &self,
        user: &str,
        batch_id: &str,
        household_ids: &[&str],
        action: &str,
    ) -> Result<()> {
        let at = stamp();
        let rows: Vec<Vec<&str>> = household_ids
            .iter()
            .map(|hid| vec![at.as_str(), user, batch_id, hid, action])
            .collect();
        self.append_chained(&ACCESS_LOG, &rows)
    }

    /// The newest `limit` lines of the access log, optionally for one household.
    pub fn access_log(&self, household_id: Option<&str>, limit: u32) -> Result<Vec<Access>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT at, user, batch_id, household_id, action FROM access_log
                 WHERE ?1 IS NULL OR household_id = ?1 ORDER BY id DESC LIMIT ?2",
            )
            .map_err(db)?;
        let rows = st
            .query_map(params![household_id, limit], |r| {
                Ok(Access {
                    at: r.get(0)?,
                    user: r.get(1)?,
                    batch_id: r.get(2)?,
                    household_id: r.get(3)?,
                    action: r.get(4)?,
                })
            })
            .map_err(db)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(db)?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trivial_and_common_passwords_are_refused_with_the_reason() {
        for (pw, why) in [
            ("short pw", "at least 12"),
            ("aaaaaaaaaaaa", "too few different"),
            ("            ", "only spaces"),
            ("abababababab", "too few different"),
            ("abcdeabcdeabcde", "pattern repeated"),
            ("abcdefghijklm", "run of consecutive"),
            ("987654321098", "run of consecutive"),
            ("890123456789", "run of consecutive"),
            ("wangwei2024!", "user name"),
            ("Password1234", "common password"),
            ("1qaz2wsx3edc", "common password"),
            ("administrator", "common password"),
        ] {
            let err = check_password("wangwei", pw).unwrap_err().to_string();
            assert!(err.contains(why), "{pw:?}: {err}");
        }
        for pw in [
            "correct horse battery",
            "平安喜乐的核对中心2026",
            "Tz8#qLm4!vRw",
        ] {
            check_password("wangwei", pw).unwrap_or_else(|e| panic!("{pw:?}: {e}"));
        }
    }

    #[test]
    fn users_sessions_and_decisions_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("review.sqlite")).unwrap();
        s.add_user(
            "wang",
            "correct horse battery",
            Role::Caseworker,
            "440100,440300",
        )
        .unwrap();
        assert!(
            s.add_user("wang", "correct horse battery", Role::Caseworker, "440100")
                .is_err()
        );
        assert!(s.add_user("li", "short", Role::Auditor, "").is_err());
        assert!(
            s.add_user("li", "long enough password", Role::Caseworker, "")
                .is_err()
        );
        assert!(
            s.add_user("li", "long enough password", Role::Auditor, "440100")
                .is_err()
        );
        assert!(
            s.add_user("bad name", "long enough password", Role::Auditor, "")
                .is_err()
        );

        assert!(s.check_login("wang", "wrong password!!").unwrap().is_none());
        assert!(
            s.check_login("nobody", "correct horse battery")
                .unwrap()
                .is_none()
        );
        let u = s
            .check_login("wang", "correct horse battery")
            .unwrap()
            .unwrap();
        assert_eq!(u.regions, BTreeSet::from([440100, 440300]));
        // Assignments and due dates.
        s.add_user("sun", "another long passphrase 2026", Role::Auditor, "")
            .unwrap();
        let hs = vec!["H1".to_string(), "H2".to_string()];
        assert!(
            s.assign(&hs, "sun", "zhao", "b1").is_err(),
            "not a caseworker"
        );
        assert_eq!(s.assign(&hs, "wang", "zhao", "b1").unwrap(), 2);
        assert_eq!(s.assignments().unwrap()["H2"], "wang");
        let d = |t: &str| t.parse::<chrono::NaiveDate>().unwrap();
        let first = s
            .carry_due_dates(&[("H1".into(), d("2026-11-02"), d("2026-11-23"))], "b1")
            .unwrap();
        assert_eq!(first["H1"], d("2026-11-23"));
        // The next batch, the same application: the due date carries, whatever this batch's
        // policy would give; a new application gets a new one.
        let again = s
            .carry_due_dates(
                &[
                    ("H1".into(), d("2026-11-02"), d("2026-11-30")),
                    ("H2".into(), d("2026-11-20"), d("2026-12-11")),
                ],
                "b2",
            )
            .unwrap();
        assert_eq!(
            (again["H1"], again["H2"]),
            (d("2026-11-23"), d("2026-12-11"))
        );
        let new = s
            .carry_due_dates(&[("H1".into(), d("2026-12-01"), d("2026-12-22"))], "b3")
            .unwrap();
        assert_eq!(new["H1"], d("2026-12-22"));

        let token = s.start_session("wang").unwrap();
        let sess = s.session(&token).unwrap().unwrap();
        assert_eq!(sess.user.name, "wang");
        assert!(s.session("not a token").unwrap().is_none());
        s.end_session(&token).unwrap();
        assert!(s.session(&token).unwrap().is_none());

        let d = |decision: &str, fp: &str| Decision {
            household_id: "H1".into(),
            rule: "vehicle_owned".into(),
            fingerprint: fp.into(),
            decision: decision.into(),
            reason: "seen".into(),
            user: "wang".into(),
            batch_id: "20261115-001".into(),
            at: String::new(),
        };
        s.decide(&d("confirmed", "a")).unwrap();
        s.decide(&d("dismissed", "a")).unwrap();
        assert!(s.decide(&d("maybe", "a")).is_err());
        let found = s
            .decisions_for(
                "H1",
                &[
                    ("vehicle_owned".into(), "a".into()),
                    ("vehicle_owned".into(), "b".into()),
                ],
            )
            .unwrap();
        assert_eq!(
            found[0].as_ref().unwrap().decision,
            "dismissed",
            "the newest wins"
        );
        assert!(found[1].is_none(), "another fingerprint has no decision");

        let token = s.start_session("wang").unwrap();
        s.disable_user("wang").unwrap();
        assert!(s.session(&token).unwrap().is_none());
        assert!(
            s.check_login("wang", "correct horse battery")
                .unwrap()
                .is_none()
        );
    }
}
