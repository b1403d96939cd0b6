//! The saved query library: `queries/<name>.sql` files, built into the binary, plus users' own
//! from a folder.
//!
//! A saved query is a Lake-dialect statement under a header of `--` comment lines, so the file
//! stays valid SQL that can be pasted into the Lake console once its parameters are filled:
//!
//! ```sql
//! -- title: Suppression filters that hide findings
//! -- description: CreateFilter and UpdateFilter calls whose action is SUPPRESS …
//! --   (a line indented under a key continues it)
//! -- why: a suppression filter closes matching findings as they arrive …
//! -- sources: inspector2.amazonaws.com
//! -- attack: T1562.001 Impair Defenses: Disable or Modify Tools (v18); T1685 Disable or Modify Tools (v19)
//! -- kind: detection                  (or `context`, the default: a table to read, not an alarm)
//! -- severity: high                   (detections: the highest severity a row can have)
//! -- actor: principal                 (detections: the column that names who did it)
//! -- events: eventID                  (detections: the column of the event IDs behind a row)
//! -- param start: timestamp = -90d; first event time included
//! -- param end: timestamp = now; events before this time
//! SELECT … FROM {{eds}} WHERE eventTime >= {{start}} AND eventTime < {{end}} …
//! ```
//!
//! `{{eds}}` is the event data store on Lake and the exported dataset locally; every other
//! placeholder must be declared with a kind from [`params::Kind`], and every declared parameter
//! used. A parameter without a default must be given.
//!
//! A detection is a query each of whose rows is something to look at (`trailq detect`). Besides
//! its actor and events columns it returns `eventTime`, `recipientAccountId` and `awsRegion`, and
//! it may return a `severity` column that rates each row (one of [`Severity`]'s names, never above
//! the header's): content decides, e.g. a key in an account outside the organization is
//! critical, one of the organization's own is low. ATT&CK tags name the technique; one that v19
//! renumbered (T1562.001 became T1685) is given twice, each with its version.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::params::{self, Kind, ParamError, Value};

macro_rules! builtin {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/queries/",
                $name,
                ".sql"
            )),
        )
    };
}
/// The built-in queries: `queries/*.sql`, compiled in so the binary needs no files beside it.
/// A test checks that this list and the folder agree.
pub const BUILT_IN: &[(&str, &str)] = &[
    builtin!("inspector-disabled"),
    builtin!("org-auto-enable-changes"),
    builtin!("scan-configuration-changes"),
    builtin!("deep-inspection-changes"),
    builtin!("suppression-filters"),
    builtin!("filter-deletions"),
    builtin!("delegated-admin-changes"),
    builtin!("member-changes"),
    builtin!("report-and-sbom-destinations"),
    builtin!("encryption-key-changes"),
    builtin!("cis-scan-configuration-changes"),
    builtin!("code-security-integrations"),
    builtin!("scan-sbom-by-principal"),
    builtin!("errors-by-principal"),
    builtin!("top-callers"),
    builtin!("first-seen-principals"),
    builtin!("source-ips"),
    builtin!("user-agents"),
    builtin!("console-api-service"),
    builtin!("activity-by-account-region"),
    builtin!("principal-write-timeline"),
    builtin!("classic-inspector-activity"),
    builtin!("denied-reconnaissance"),
    builtin!("classic-inspector-weakening"),
    builtin!("sbom-scans-by-people"),
];

/// The parameter every saved query reads from: the event data store, or the exported dataset.
pub const EDS: &str = "eds";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    BuiltIn,
    File(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    pub kind: Kind,
    pub default: Option<String>,
    pub description: String,
}

#[derive(Debug, Clone)]
pub struct SavedQuery {
    pub name: String,
    pub title: String,
    pub description: String,
    pub why: String,
    pub sources: Vec<String>,
    /// The `attack:` header as written.
    pub attack: Option<String>,
    /// The techniques it names.
    pub techniques: Vec<Technique>,
    /// `Some` for a detection.
    pub detection: Option<Detection>,
    pub params: Vec<Param>,
    /// The header as written, for `queries show`.
    pub header: String,
    /// The statement after the header, placeholders unfilled.
    pub sql: String,
    pub origin: Origin,
}

/// How urgent a detection's finding is: OCSF's severity scale (`severity_id` 1–5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Informational,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Severity::Informational => "informational",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn from_name(name: &str) -> Option<Severity> {
        Severity::ALL
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(name.trim()))
    }

    /// OCSF's `severity_id`.
    pub fn ocsf_id(self) -> u8 {
        self as u8 + 1
    }

    /// OCSF's `severity` caption.
    pub fn caption(self) -> &'static str {
        match self {
            Severity::Informational => "Informational",
            Severity::Low => "Low",
            Severity::Medium => "Medium",
            Severity::High => "High",
            Severity::Critical => "Critical",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Severity, String> {
        Severity::from_name(s).ok_or_else(|| {
            format!(
                "`{s}` is not a severity: use {}",
                Severity::ALL.map(Severity::name).join(", ")
            )
        })
    }
}

/// What makes a saved query a detection: how bad its rows can be and where a finding's actor and
/// events are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    /// The highest severity a row can have; every row's, when there is no `severity` column.
    pub severity: Severity,
    /// The column that names the actor.
    pub actor: String,
    /// The column of the event IDs behind a row (several separated by commas).
    pub events: String,
}

/// The columns every detection returns besides its actor and events (and what they hold).
pub const FINDING_COLUMNS: [&str; 3] = ["eventTime", "recipientAccountId", "awsRegion"];
/// The optional column that rates each row of a detection.
pub const SEVERITY_COLUMN: &str = "severity";

/// One ATT&CK technique a query is tagged with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Technique {
    /// `T1562.001`.
    pub id: String,
    /// `Impair Defenses: Disable or Modify Tools`.
    pub name: String,
    /// `v18`/`v19` when the ID belongs to one version only; `None` when both use it.
    pub version: Option<String>,
}

/// `T1562.001 Impair Defenses: Disable or Modify Tools (v18); T1685 Disable or Modify Tools (v19)`.
fn parse_attack(text: &str) -> Result<Vec<Technique>, String> {
    text.split(';')
        .map(|part| {
            let part = part.trim();
            let (rest, version) = match part.rsplit_once(" (v") {
                Some((rest, v)) if v.ends_with(')') && v[..v.len() - 1].bytes().all(|b| b.is_ascii_digit()) => {
                    (rest.trim(), Some(format!("v{}", &v[..v.len() - 1])))
                }
                _ => (part, None),
            };
            let (id, name) = rest.split_once(' ').unwrap_or((rest, ""));
            let digits = id.strip_prefix('T').unwrap_or("");
            let (main, sub) = digits.split_once('.').unwrap_or((digits, "000"));
            let valid = main.len() == 4
                && sub.len() == 3
                && main.bytes().chain(sub.bytes()).all(|b| b.is_ascii_digit());
            if !valid || name.trim().is_empty() {
                return Err(format!(
                    "`{part}` is not an ATT&CK technique like `T1562.001 Impair Defenses: Disable or Modify Tools (v18)`"
                ));
            }
            Ok(Technique {
                id: id.to_owned(),
                name: name.trim().to_owned(),
                version,
            })
        })
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    #[error("saved query `{name}` ({origin}), line {line}: {message}")]
    Format {
        name: String,
        origin: String,
        line: usize,
        message: String,
    },
    #[error("cannot read the queries folder `{}`: {source}", path.display())]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no saved query is named `{name}`; `trailq queries list` shows them ({known})")]
    Unknown { name: String, known: String },
    #[error("saved query `{query}` has no parameter `{name}`; its parameters: {known}")]
    UnknownParam {
        query: String,
        name: String,
        known: String,
    },
    #[error("saved query `{query}`: {source}")]
    Param { query: String, source: ParamError },
}

impl SavedQuery {
    /// Parses a query file; `origin` names it in errors.
    pub fn parse(name: &str, text: &str, origin: Origin) -> Result<SavedQuery, LibraryError> {
        let err = |line: usize, message: String| LibraryError::Format {
            name: name.to_owned(),
            origin: match &origin {
                Origin::BuiltIn => "built in".to_owned(),
                Origin::File(p) => p.display().to_string(),
            },
            line,
            message,
        };
        let mut fields: Vec<(String, String, usize)> = Vec::new();
        let mut header_end = 0;
        let mut header_lines = 0;
        for (i, line) in text.lines().enumerate() {
            let Some(comment) = line.trim_start().strip_prefix("--") else {
                if line.trim().is_empty() && fields.is_empty() {
                    header_end += line.len() + 1;
                    header_lines += 1;
                    continue;
                }
                break;
            };
            header_end += line.len() + 1;
            header_lines += 1;
            if comment.starts_with("  ") || comment.trim().is_empty() {
                // A continuation of the field above (or a blank comment line).
                match fields.last_mut() {
                    Some((_, value, _)) if !comment.trim().is_empty() => {
                        value.push(' ');
                        value.push_str(comment.trim());
                    }
                    Some(_) => {}
                    None => return Err(err(i + 1, "the header starts with `-- title: …`".into())),
                }
                continue;
            }
            let Some((key, value)) = comment.split_once(':') else {
                return Err(err(
                    i + 1,
                    format!("`{}` is not `-- key: value`", line.trim()),
                ));
            };
            fields.push((key.trim().to_owned(), value.trim().to_owned(), i + 1));
        }
        let header = text[..header_end.min(text.len())].trim_end().to_owned();
        let sql = text[header_end.min(text.len())..].trim().to_owned();
        let mut query = SavedQuery {
            name: name.to_owned(),
            title: String::new(),
            description: String::new(),
            why: String::new(),
            sources: Vec::new(),
            attack: None,
            techniques: Vec::new(),
            detection: None,
            params: Vec::new(),
            header,
            sql,
            origin: origin.clone(),
        };
        let (mut kind, mut severity, mut actor, mut events) = (None, None, None, None);
        for (key, value, line) in fields {
            match key.as_str() {
                "kind" => match value.as_str() {
                    "detection" | "context" => kind = Some((value == "detection", line)),
                    _ => {
                        return Err(err(
                            line,
                            format!("kind `{value}`: a query is a `detection` or `context`"),
                        ));
                    }
                },
                "severity" => severity = Some(value.parse::<Severity>().map_err(|m| err(line, m))?),
                "actor" => actor = Some(value),
                "events" => events = Some(value),
                "title" => query.title = value,
                "description" => query.description = value,
                "why" => query.why = value,
                "sources" => {
                    query.sources = value
                        .split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect()
                }
                "attack" => {
                    query.techniques = parse_attack(&value).map_err(|m| err(line, m))?;
                    query.attack = Some(value);
                }
                _ if key.starts_with("param ") => query.params.push(
                    parse_param(key["param ".len()..].trim(), &value).map_err(|m| err(line, m))?,
                ),
                _ => {
                    return Err(err(
                        line,
                        format!(
                            "unknown header key `{key}` (keys: title, description, why, sources, attack, kind, severity, actor, events, param NAME)"
                        ),
                    ));
                }
            }
        }
        let last = header_lines.max(1);
        for (field, value) in [
            ("title", &query.title),
            ("description", &query.description),
            ("why", &query.why),
        ] {
            if value.is_empty() {
                return Err(err(last, format!("the header has no `-- {field}: …`")));
            }
        }
        if query.sources.is_empty() {
            return Err(err(
                last,
                "the header has no `-- sources: …` (the event sources the query covers)".into(),
            ));
        }
        match (kind, severity, actor, events) {
            (Some((true, _)), Some(severity), Some(actor), Some(events)) => {
                query.detection = Some(Detection {
                    severity,
                    actor,
                    events,
                });
            }
            (Some((true, line)), ..) => {
                return Err(err(
                    line,
                    "a detection's header also gives `-- severity: …` (its highest), `-- actor: COLUMN` and `-- events: COLUMN`".into(),
                ));
            }
            (_, None, None, None) => {}
            _ => {
                return Err(err(
                    last,
                    "`severity`, `actor` and `events` belong to a detection: add `-- kind: detection`".into(),
                ));
            }
        }
        if query.sql.is_empty() {
            return Err(err(last, "there is no SQL after the header".into()));
        }
        let used = params::names(&query.sql).map_err(|e| err(last + 1, e.to_string()))?;
        if !used.iter().any(|n| n == EDS) {
            return Err(err(
                last + 1,
                "the SQL does not read `FROM {{eds}}` (the event data store, or the exported dataset)".into(),
            ));
        }
        for name in &used {
            if name != EDS && !query.params.iter().any(|p| &p.name == name) {
                return Err(err(
                    last,
                    format!(
                        "the SQL uses {{{{{name}}}}} but the header declares no `-- param {name}: KIND …`"
                    ),
                ));
            }
        }
        for p in &query.params {
            if !used.contains(&p.name) {
                return Err(err(
                    last,
                    format!(
                        "parameter `{}` is declared but the SQL does not use it",
                        p.name
                    ),
                ));
            }
            // A relative default (`-90d`) is checked against the latest time a user may name, so
            // that only its form is checked, not today's date.
            let latest = trailq_events::time::USER_TIMES.end - 1;
            if let Some(default) = &p.default
                && let Err(e) = p.kind.value(&p.name, default, latest)
            {
                return Err(err(last, format!("the default of `{}`: {e}", p.name)));
            }
        }
        Ok(query)
    }

    /// Every parameter's value: `given` (NAME=VALUE pairs) over the defaults; relative times
    /// count back from `now_micros`. `{{eds}}` is the engine's and is not among them.
    pub fn values(
        &self,
        given: &[(String, String)],
        now_micros: i64,
    ) -> Result<BTreeMap<String, Value>, LibraryError> {
        let mut values = BTreeMap::new();
        for (name, text) in given {
            let Some(p) = self.params.iter().find(|p| &p.name == name) else {
                return Err(LibraryError::UnknownParam {
                    query: self.name.clone(),
                    name: name.clone(),
                    known: self.param_list(),
                });
            };
            values.insert(name.clone(), self.value(p, text, now_micros)?);
        }
        for p in &self.params {
            if values.contains_key(&p.name) {
                continue;
            }
            match &p.default {
                Some(d) => {
                    values.insert(p.name.clone(), self.value(p, d, now_micros)?);
                }
                None => {
                    return Err(LibraryError::Param {
                        query: self.name.clone(),
                        source: ParamError::Missing {
                            name: p.name.clone(),
                            hint: "",
                        },
                    });
                }
            }
        }
        Ok(values)
    }

    fn value(&self, p: &Param, text: &str, now_micros: i64) -> Result<Value, LibraryError> {
        p.kind
            .value(&p.name, text, now_micros)
            .map_err(|source| LibraryError::Param {
                query: self.name.clone(),
                source,
            })
    }

    /// `name (kind = default), …` for lists and messages.
    pub fn param_list(&self) -> String {
        if self.params.is_empty() {
            return "none".to_owned();
        }
        self.params
            .iter()
            .map(|p| match &p.default {
                Some(d) => format!("{} ({} = {d})", p.name, p.kind.name()),
                None => format!("{} ({}, required)", p.name, p.kind.name()),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `start: timestamp = -90d; first event time included` (after `param`).
fn parse_param(name: &str, spec: &str) -> Result<Param, String> {
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid || name == EDS {
        return Err(format!(
            "`{name}` cannot be a parameter name (letters, digits, `_`; `eds` is the event data store)"
        ));
    }
    let (kind_default, description) = spec.split_once(';').unwrap_or((spec, ""));
    let (kind, default) = match kind_default.split_once('=') {
        Some((k, d)) => (k.trim(), Some(d.trim().to_owned())),
        None => (kind_default.trim(), None),
    };
    let kind = Kind::from_name(kind).ok_or_else(|| {
        format!(
            "parameter `{name}` has kind `{kind}`; kinds: {}",
            Kind::ALL.map(|(n, _)| n).join(", ")
        )
    })?;
    Ok(Param {
        name: name.to_owned(),
        kind,
        default,
        description: description.trim().to_owned(),
    })
}

/// The built-in queries and the user's, by name; a user's query replaces a built-in one of the
/// same name.
#[derive(Debug)]
pub struct Library {
    queries: Vec<SavedQuery>,
}

impl Library {
    /// The built-ins plus every `*.sql` in `folders` (missing folders are an error only when
    /// `required`: the default config folder need not exist).
    pub fn load(folders: &[(PathBuf, bool)]) -> Result<Library, LibraryError> {
        let mut queries: Vec<SavedQuery> = BUILT_IN
            .iter()
            .map(|(name, text)| SavedQuery::parse(name, text, Origin::BuiltIn))
            .collect::<Result<_, _>>()?;
        for (folder, required) in folders {
            let entries = match std::fs::read_dir(folder) {
                Ok(e) => e,
                Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => {
                    return Err(LibraryError::Folder {
                        path: folder.clone(),
                        source,
                    });
                }
            };
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "sql"))
                .collect();
            files.sort();
            for path in files {
                let name = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let text =
                    std::fs::read_to_string(&path).map_err(|source| LibraryError::Folder {
                        path: path.clone(),
                        source,
                    })?;
                let query = SavedQuery::parse(&name, &text, Origin::File(path))?;
                queries.retain(|q| q.name != query.name);
                queries.push(query);
            }
        }
        queries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Library { queries })
    }

    pub fn queries(&self) -> &[SavedQuery] {
        &self.queries
    }

    pub fn get(&self, name: &str) -> Result<&SavedQuery, LibraryError> {
        self.queries
            .iter()
            .find(|q| q.name == name)
            .ok_or_else(|| LibraryError::Unknown {
                name: name.to_owned(),
                known: self
                    .queries
                    .iter()
                    .map(|q| q.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

/// The folder users keep their own queries in when `--queries-dir` is not given:
/// `$XDG_CONFIG_HOME/trailq/queries`, else `~/.config/trailq/queries`.
pub fn config_folder() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".config")))?;
    Some(base.join("trailq").join("queries"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_list_is_the_queries_folder() {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("queries");
        let mut on_disk: Vec<String> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "sql"))
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let mut built_in: Vec<String> = BUILT_IN.iter().map(|(n, _)| n.to_string()).collect();
        built_in.sort();
        assert_eq!(on_disk, built_in);
        let library = Library::load(&[]).unwrap();
        assert!(library.queries().len() >= 15);
        for q in library.queries() {
            assert!(q.title.len() > 10, "{}", q.name);
            assert!(
                q.sql.to_uppercase().starts_with("SELECT")
                    || q.sql.to_uppercase().starts_with("WITH"),
                "{}",
                q.name
            );
        }
    }

    const GOOD: &str = "-- title: Filters\n-- description: what it lists,\n--   on two lines\n-- why: it matters\n-- sources: inspector2.amazonaws.com\n-- param start: timestamp = -7d; from\n-- param names: string_list; operations\nSELECT eventName FROM {{eds}} WHERE eventTime >= {{start}} AND eventName IN {{names}}\n";

    #[test]
    fn a_query_file_and_its_parameters() {
        let q = SavedQuery::parse("f", GOOD, Origin::BuiltIn).unwrap();
        assert_eq!(q.description, "what it lists, on two lines");
        assert_eq!(q.params.len(), 2);
        assert_eq!(
            q.param_list(),
            "start (timestamp = -7d), names (string_list, required)"
        );
        let now = 1_714_557_600_000_000; // 2024-05-01T10:00:00Z
        let err = q.values(&[], now).unwrap_err().to_string();
        assert_eq!(
            err,
            "saved query `f`: parameter `names` has no value: pass --param names=…"
        );
        let given = [("names".to_owned(), "CreateFilter, UpdateFilter".to_owned())];
        let values = q.values(&given, now).unwrap();
        let mut all = values.clone();
        all.insert(EDS.into(), params::identifier(EDS, "abc-1").unwrap());
        assert_eq!(
            params::fill(&q.sql, &all).unwrap(),
            "SELECT eventName FROM abc-1 WHERE eventTime >= '2024-04-24 10:00:00' AND eventName IN ('CreateFilter', 'UpdateFilter')"
        );
        assert_eq!(
            params::fill_known(&q.sql, &values).unwrap(),
            "SELECT eventName FROM {{eds}} WHERE eventTime >= '2024-04-24 10:00:00' AND eventName IN ('CreateFilter', 'UpdateFilter')"
        );
        let unknown = q.values(&[("x".into(), "1".into())], now).unwrap_err();
        assert!(unknown.to_string().contains("has no parameter `x`"));
    }

    #[test]
    fn mistakes_in_query_files_name_the_line() {
        let err = |text: &str| {
            SavedQuery::parse("q", text, Origin::File("/q.sql".into()))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err(&GOOD.replace("string_list", "strings")),
            "saved query `q` (/q.sql), line 7: parameter `names` has kind `strings`; kinds: timestamp, duration, integer, account_id, region, string, string_list"
        );
        assert!(err(&GOOD.replace("-- why: it matters\n", "")).contains("no `-- why: …`"));
        assert!(err(&GOOD.replace("{{eds}}", "x")).contains("does not read `FROM {{eds}}`"));
        assert!(
            err(&GOOD.replace("AND eventName IN {{names}}", ""))
                .contains("`names` is declared but the SQL does not use it")
        );
        assert!(
            err(&GOOD.replace("{{start}}", "{{begin}}"))
                .contains("uses {{begin}} but the header declares")
        );
        assert!(err(&GOOD.replace("-7d", "yesterday")).contains("the default of `start`"));
        assert!(
            err(&GOOD.replace("-- sources", "-- source")).contains("unknown header key `source`")
        );
    }
}
