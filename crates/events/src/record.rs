//! The one CloudTrail record parser: a record's JSON text → one row of the event schema.
//!
//! Every source hands over the record's text exactly as AWS gave it; this module turns it into a
//! [`Row`] that borrows from that text wherever it can. Invariants:
//! - it never panics, whatever the input;
//! - a record is rejected (with a reason a user understands) only when it is not a JSON object or
//!   has no parsable `eventTime`, since without one it cannot be placed in a partition;
//! - fields of any eventVersion are filled where they exist, absent ones are NULL, unknown ones
//!   survive only in `eventJson`; a field of an unexpected JSON type is NULL (the record still
//!   lands, its text is in `eventJson`);
//! - keys match exactly first, then ASCII-case-insensitively (`ARN`/`arn`, Lake-style `principalid`);
//! - number text is kept exactly: map values are the raw JSON text, never a re-printed float.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::json::{
    Fields, Nested, bool_of, fields_and_maps_of, fields_and_maps_seed, fields_seed, json_kind,
    scalars_are_none, string_of, text_of, truncate,
};

use crate::schema::{
    ATTRIBUTES, CREATION_DATE, EVENT_TIME, FEDERATED_PROVIDER, IN_SCOPE_OF, IN_SCOPE_OF_FIELDS,
    MANAGEMENT_EVENT, MAP_COLUMNS, MFA_AUTHENTICATED, ON_BEHALF_OF, ON_BEHALF_OF_FIELDS, READ_ONLY,
    RESOURCE_FIELDS, RESOURCES, SCALAR_COLUMNS, SESSION_CONTEXT, SESSION_CONTEXT_STRINGS,
    SESSION_ISSUER, SESSION_ISSUER_FIELDS, TLS_DETAILS, TLS_DETAILS_FIELDS, USER_IDENTITY,
    USER_IDENTITY_STRINGS, WEB_ID_FEDERATION_DATA, concat,
};
use crate::time::parse_timestamp_micros;

pub use crate::json::{MapEntries, Text};

/// One record as typed values. Arrays are indexed like the matching lists in `schema`.
#[derive(Debug, Default)]
pub struct Row<'a> {
    pub event_time_micros: i64,
    pub scalars: [Option<Text<'a>>; SCALAR_COLUMNS.len()],
    pub read_only: Option<bool>,
    pub management_event: Option<bool>,
    pub maps: [Option<MapEntries<'a>>; MAP_COLUMNS.len()],
    pub user_identity: Option<UserIdentity<'a>>,
    pub resources: Option<Vec<StringFields<'a, 4>>>,
    pub tls_details: Option<StringFields<'a, 4>>,
}

impl Row<'_> {
    /// A top-level string column's value by its schema name (one of `SCALAR_COLUMNS`).
    pub fn scalar(&self, column: &str) -> Option<&str> {
        let i = SCALAR_COLUMNS.iter().position(|c| *c == column)?;
        self.scalars[i].as_deref()
    }

    /// One of `userIdentity`'s string fields by its schema name (`USER_IDENTITY_STRINGS`).
    pub fn identity(&self, field: &str) -> Option<&str> {
        let i = USER_IDENTITY_STRINGS.iter().position(|f| *f == field)?;
        self.user_identity.as_ref()?.strings[i].as_deref()
    }

    /// The `(type, ARN)` of each entry of `resources`.
    pub fn resource_types_and_arns(&self) -> impl Iterator<Item = (Option<&str>, Option<&str>)> {
        let type_i = RESOURCE_FIELDS.iter().position(|f| *f == "type");
        let arn_i = RESOURCE_FIELDS.iter().position(|f| *f == "arn");
        self.resources.iter().flatten().map(move |r| {
            (
                type_i.and_then(|i| r[i].as_deref()),
                arn_i.and_then(|i| r[i].as_deref()),
            )
        })
    }
}

/// A struct made only of string fields.
pub type StringFields<'a, const N: usize> = [Option<Text<'a>>; N];

#[derive(Debug, Default)]
pub struct UserIdentity<'a> {
    pub strings: StringFields<'a, { USER_IDENTITY_STRINGS.len() }>,
    pub session_context: Option<SessionContext<'a>>,
    pub on_behalf_of: Option<StringFields<'a, { ON_BEHALF_OF_FIELDS.len() }>>,
    pub in_scope_of: Option<StringFields<'a, { IN_SCOPE_OF_FIELDS.len() }>>,
}

#[derive(Debug, Default)]
pub struct SessionContext<'a> {
    /// (creationDate as µs since the epoch, mfaAuthenticated)
    pub attributes: Option<(Option<i64>, Option<Text<'a>>)>,
    pub session_issuer: Option<StringFields<'a, { SESSION_ISSUER_FIELDS.len() }>>,
    /// (federatedProvider, attributes)
    pub web_id_federation_data: Option<(Option<Text<'a>>, Option<MapEntries<'a>>)>,
    pub strings: StringFields<'a, { SESSION_CONTEXT_STRINGS.len() }>,
}

/// Why a record cannot become a row. The message is shown to users as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordError {
    NotJson(String),
    NotAnObject(&'static str),
    NoEventTime,
    BadEventTime(String),
    /// A `\uD800`–`\uDFFF` escape without its other half, at this byte of the record.
    LoneSurrogate {
        escape: String,
        at: usize,
    },
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::NotJson(e) => write!(f, "record is not valid JSON: {e}"),
            RecordError::NotAnObject(kind) => {
                write!(f, "record is a JSON {kind}, not an object")
            }
            RecordError::NoEventTime => write!(
                f,
                "record has no `eventTime`, so it cannot be placed in a date partition \
                 (a CloudTrail record always has one; was it re-shaped by another tool?)"
            ),
            RecordError::BadEventTime(v) => {
                write!(f, "`eventTime` {v} is not a time like 2024-01-31T12:00:00Z")
            }
            RecordError::LoneSurrogate { escape, at } => write!(
                f,
                "record holds `{escape}` at byte {at}, half of a UTF-16 surrogate pair without \
                 its other half: that is not text, and no JSON reader could read the record back \
                 (was it cut or re-encoded by another tool?)"
            ),
        }
    }
}

impl std::error::Error for RecordError {}

/// The keys the parser looks for, in slot order: scalars, maps, then the rest.
const TOP_LEVEL: [&str; 32] = concat(
    concat::<19, 7, 26>(SCALAR_COLUMNS, MAP_COLUMNS),
    [
        EVENT_TIME,
        READ_ONLY,
        MANAGEMENT_EVENT,
        USER_IDENTITY,
        RESOURCES,
        TLS_DETAILS,
    ],
);
const N_SCALARS: usize = SCALAR_COLUMNS.len();
const FIRST_MAP: usize = N_SCALARS;
const EVENT_TIME_SLOT: usize = FIRST_MAP + MAP_COLUMNS.len();

/// Parses one record. `text` is the record's JSON exactly as received.
pub fn parse_record(text: &str) -> Result<Row<'_>, RecordError> {
    match fields_and_maps_of(text, &TOP_LEVEL, FIRST_MAP) {
        Ok(Some(fields)) => row_of(text, fields),
        Ok(None) => Err(RecordError::NotAnObject(json_kind(text))),
        Err(e) => Err(RecordError::NotJson(e.to_string())),
    }
}

/// Parses the JSON object at the start of `rest` (a record inside a file), and returns what
/// [`parse_record`] returns for its text with the text's length: the record's end is found by
/// the pass that parses it, so a file's records are scanned once, not once to split the file and
/// again to parse each (`files::each_trail_record`). `None` when `rest` does not start with a
/// whole, well-formed JSON object: the caller reads the file the general way, which says what is
/// wrong with it.
pub fn parse_record_prefix(rest: &str) -> Option<(Result<Row<'_>, RecordError>, usize)> {
    if !rest.starts_with('{') {
        return None;
    }
    let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<TopLevel<'_>>();
    let TopLevel(fields) = stream.next()?.ok()?;
    let len = stream.byte_offset();
    Some((row_of(&rest[..len], fields?), len))
}

/// A record's top-level fields as [`parse_record`] reads them.
type TopFields<'a> = Fields<'a, { TOP_LEVEL.len() }, { MAP_COLUMNS.len() }, TopNested<'a>>;

/// [`TopFields`] for a stream deserializer.
struct TopLevel<'a>(Option<TopFields<'a>>);

impl<'de> serde::Deserialize<'de> for TopLevel<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        fields_and_maps_seed(&TOP_LEVEL, FIRST_MAP)
            .deserialize(de)
            .map(TopLevel)
    }
}

/// The row of a record whose top-level fields were read from its `text`.
fn row_of<'a>(text: &'a str, fields: TopFields<'a>) -> Result<Row<'a>, RecordError> {
    let Fields {
        raw: slots,
        maps,
        nested,
    } = fields;
    // The scan above skips strings without decoding their escapes, so a lone surrogate would
    // pass and then be stored in `eventJson` as JSON that no reader accepts.
    if let Some((at, escape)) = lone_surrogate(text) {
        return Err(RecordError::LoneSurrogate {
            escape: escape.to_owned(),
            at,
        });
    }
    let time_raw = slots[EVENT_TIME_SLOT].ok_or(RecordError::NoEventTime)?;
    let event_time_micros = match string_of(time_raw) {
        Some(s) => parse_timestamp_micros(&s)
            .ok_or_else(|| RecordError::BadEventTime(format!("`{}`", truncate(&s, 60))))?,
        None if time_raw.get() == "null" => return Err(RecordError::NoEventTime),
        None => {
            return Err(RecordError::BadEventTime(format!(
                "{} (a JSON {})",
                truncate(time_raw.get(), 60),
                json_kind(time_raw.get())
            )));
        }
    };
    let mut row = Row {
        event_time_micros,
        maps,
        ..Row::default()
    };
    for (i, slot) in slots[..N_SCALARS].iter().enumerate() {
        row.scalars[i] = slot.and_then(text_of);
    }
    let rest = &slots[EVENT_TIME_SLOT + 1..];
    row.read_only = rest[0].and_then(bool_of);
    row.management_event = rest[1].and_then(bool_of);
    row.user_identity = nested.user_identity;
    row.resources = nested.resources;
    row.tls_details = nested.tls_details;
    Ok(row)
}

const USER_IDENTITY_SLOT: usize = EVENT_TIME_SLOT + 3;
const RESOURCES_SLOT: usize = EVENT_TIME_SLOT + 4;
const TLS_DETAILS_SLOT: usize = EVENT_TIME_SLOT + 5;

/// The top-level fields that are objects or arrays of objects, read where they stand.
#[derive(Default)]
struct TopNested<'a> {
    user_identity: Option<UserIdentity<'a>>,
    resources: Option<Vec<StringFields<'a, 4>>>,
    tls_details: Option<StringFields<'a, 4>>,
}

impl<'de> Nested<'de> for TopNested<'de> {
    fn read<A: MapAccess<'de>>(&mut self, slot: usize, map: &mut A) -> Result<bool, A::Error> {
        match slot {
            USER_IDENTITY_SLOT => self.user_identity = map.next_value_seed(UserIdentitySeed)?,
            RESOURCES_SLOT => self.resources = map.next_value_seed(ResourcesSeed)?,
            TLS_DETAILS_SLOT => {
                self.tls_details = map.next_value_seed(StringStructSeed(&TLS_DETAILS_FIELDS))?
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// The first `\uXXXX` escape that is half of a surrogate pair without its other half, with its
/// byte offset. `text` must be valid JSON apart from that: every backslash then starts an escape.
fn lone_surrogate(text: &str) -> Option<(usize, &str)> {
    let bytes = text.as_bytes();
    let hex = |at: usize| -> Option<u16> {
        let digits = text.get(at..at + 4)?;
        u16::from_str_radix(digits, 16).ok()
    };
    let mut from = 0;
    while let Some(found) = text[from..].find('\\') {
        let at = from + found;
        if bytes.get(at + 1) != Some(&b'u') {
            from = at + 2;
            continue;
        }
        let unit = hex(at + 2)?;
        let low_follows = || {
            text.get(at + 6..at + 8) == Some("\\u")
                && hex(at + 8).is_some_and(|low| (0xDC00..=0xDFFF).contains(&low))
        };
        match unit {
            0xD800..=0xDBFF if low_follows() => from = at + 12,
            0xD800..=0xDFFF => return Some((at, &text[at..at + 6])),
            _ => from = at + 6,
        }
    }
    None
}

/// `userIdentity`: `None` when it is not an object.
struct UserIdentitySeed;

const IDENTITY_NAMES: [&str; 12] = concat(
    USER_IDENTITY_STRINGS,
    [SESSION_CONTEXT, ON_BEHALF_OF, IN_SCOPE_OF],
);
const SESSION_CONTEXT_SLOT: usize = USER_IDENTITY_STRINGS.len();
const ON_BEHALF_OF_SLOT: usize = SESSION_CONTEXT_SLOT + 1;
const IN_SCOPE_OF_SLOT: usize = SESSION_CONTEXT_SLOT + 2;

impl<'de> DeserializeSeed<'de> for UserIdentitySeed {
    type Value = Option<UserIdentity<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        let fields = fields_seed::<_, IdentityNested<'de>>(&IDENTITY_NAMES).deserialize(de)?;
        Ok(fields.map(|Fields { raw, nested, .. }| {
            let mut ui = UserIdentity {
                session_context: nested.session_context,
                on_behalf_of: nested.on_behalf_of,
                in_scope_of: nested.in_scope_of,
                ..UserIdentity::default()
            };
            for (i, slot) in raw[..USER_IDENTITY_STRINGS.len()].iter().enumerate() {
                ui.strings[i] = slot.and_then(text_of);
            }
            ui
        }))
    }
}

/// `userIdentity`'s objects, read where they stand.
#[derive(Default)]
struct IdentityNested<'a> {
    session_context: Option<SessionContext<'a>>,
    on_behalf_of: Option<StringFields<'a, { ON_BEHALF_OF_FIELDS.len() }>>,
    in_scope_of: Option<StringFields<'a, { IN_SCOPE_OF_FIELDS.len() }>>,
}

impl<'de> Nested<'de> for IdentityNested<'de> {
    fn read<A: MapAccess<'de>>(&mut self, slot: usize, map: &mut A) -> Result<bool, A::Error> {
        match slot {
            SESSION_CONTEXT_SLOT => {
                self.session_context = map.next_value_seed(SessionContextSeed)?
            }
            ON_BEHALF_OF_SLOT => {
                self.on_behalf_of = map.next_value_seed(StringStructSeed(&ON_BEHALF_OF_FIELDS))?
            }
            IN_SCOPE_OF_SLOT => {
                self.in_scope_of = map.next_value_seed(StringStructSeed(&IN_SCOPE_OF_FIELDS))?
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// `sessionContext`: `None` when it is not an object.
struct SessionContextSeed;

const CONTEXT_NAMES: [&str; 7] = concat(
    [ATTRIBUTES, SESSION_ISSUER, WEB_ID_FEDERATION_DATA],
    SESSION_CONTEXT_STRINGS,
);
const ATTRIBUTES_SLOT: usize = 0;
const SESSION_ISSUER_SLOT: usize = 1;
const WEB_ID_FEDERATION_DATA_SLOT: usize = 2;
const CONTEXT_STRINGS_FROM: usize = 3;
const ATTRIBUTE_NAMES: [&str; 2] = [CREATION_DATE, MFA_AUTHENTICATED];
/// `webIdFederationData`: its provider, and its `attributes` read as map entries.
const WEB_ID_NAMES: [&str; 2] = [FEDERATED_PROVIDER, ATTRIBUTES];
const WEB_ID_ATTRIBUTES_SLOT: usize = 1;

impl<'de> DeserializeSeed<'de> for SessionContextSeed {
    type Value = Option<SessionContext<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        let fields = fields_seed::<_, ContextNested<'de>>(&CONTEXT_NAMES).deserialize(de)?;
        Ok(fields.map(|Fields { raw, nested, .. }| {
            let mut sc = SessionContext {
                attributes: nested.attributes.map(|Fields { raw: a, .. }| {
                    let created = a[0]
                        .and_then(string_of)
                        .and_then(|s| parse_timestamp_micros(&s));
                    (created, a[1].and_then(text_of))
                }),
                session_issuer: nested.session_issuer,
                web_id_federation_data: nested.web_id_federation_data.map(
                    |Fields { raw: w, maps, .. }| {
                        let [attributes] = maps;
                        (w[0].and_then(text_of), attributes)
                    },
                ),
                ..SessionContext::default()
            };
            for (i, slot) in raw[CONTEXT_STRINGS_FROM..].iter().enumerate() {
                sc.strings[i] = slot.and_then(text_of);
            }
            sc
        }))
    }
}

/// `sessionContext`'s objects, read where they stand.
#[derive(Default)]
struct ContextNested<'a> {
    attributes: Option<Fields<'a, { ATTRIBUTE_NAMES.len() }, 0>>,
    session_issuer: Option<StringFields<'a, { SESSION_ISSUER_FIELDS.len() }>>,
    web_id_federation_data: Option<Fields<'a, { WEB_ID_NAMES.len() }, 1>>,
}

impl<'de> Nested<'de> for ContextNested<'de> {
    fn read<A: MapAccess<'de>>(&mut self, slot: usize, map: &mut A) -> Result<bool, A::Error> {
        match slot {
            ATTRIBUTES_SLOT => {
                self.attributes = map.next_value_seed(fields_seed::<_, ()>(&ATTRIBUTE_NAMES))?
            }
            SESSION_ISSUER_SLOT => {
                self.session_issuer =
                    map.next_value_seed(StringStructSeed(&SESSION_ISSUER_FIELDS))?
            }
            WEB_ID_FEDERATION_DATA_SLOT => {
                self.web_id_federation_data = map.next_value_seed(
                    fields_and_maps_seed::<_, 1, ()>(&WEB_ID_NAMES, WEB_ID_ATTRIBUTES_SLOT),
                )?
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// `resources`: `None` when it is not an array; an element that is not an object becomes an
/// all-NULL struct so positions stay meaningful.
struct ResourcesSeed;

impl<'de> DeserializeSeed<'de> for ResourcesSeed {
    type Value = Option<Vec<StringFields<'de, 4>>>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ResourcesSeed {
    type Value = Option<Vec<StringFields<'de, 4>>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(2));
        while let Some(item) = seq.next_element_seed(StringStructSeed(&RESOURCE_FIELDS))? {
            out.push(item.unwrap_or_default());
        }
        Ok(Some(out))
    }

    // Anything but an array is no list of resources: consume it.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    scalars_are_none!();
}

/// An object of string fields (`tlsDetails`, `sessionIssuer`, a resource), read where it
/// stands: `None` when it is not an object.
struct StringStructSeed<'n, const N: usize>(&'n [&'n str; N]);

impl<'de, const N: usize> DeserializeSeed<'de> for StringStructSeed<'_, N> {
    type Value = Option<StringFields<'de, N>>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        let fields = fields_seed::<N, ()>(self.0).deserialize(de)?;
        Ok(fields.map(|f| f.raw.map(|slot| slot.and_then(text_of))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar<'a>(row: &'a Row<'_>, name: &str) -> Option<&'a str> {
        let i = SCALAR_COLUMNS.iter().position(|c| *c == name).unwrap();
        row.scalars[i].as_deref()
    }

    fn map<'a>(row: &'a Row<'_>, name: &str) -> &'a MapEntries<'a> {
        let i = MAP_COLUMNS.iter().position(|c| *c == name).unwrap();
        row.maps[i].as_ref().unwrap()
    }

    #[test]
    fn big_numbers_keep_their_text() {
        let rec = r#"{"eventTime":"2024-05-01T10:00:00Z","eventID":"e1",
            "requestParameters":{"maxResults":12345678901234567890,"f":1.50,"nested":{"a": [1, 2.0]},"s":"x\"y"}}"#;
        let row = parse_record(rec).unwrap();
        let rp = map(&row, "requestParameters");
        assert_eq!(
            rp[0],
            ("maxResults".into(), Some("12345678901234567890".into()))
        );
        assert_eq!(rp[1], ("f".into(), Some("1.50".into())));
        assert_eq!(rp[2], ("nested".into(), Some(r#"{"a":[1,2.0]}"#.into())));
        assert_eq!(rp[3], ("s".into(), Some("x\"y".into())));
    }

    #[test]
    fn keys_match_case_insensitively_but_exact_spelling_wins() {
        let rec = r#"{"eventTime":"2024-05-01T10:00:00Z","eventId":"lower","eventID":"exact",
            "resources":[{"ARN":"arn:a","accountId":"1","type":"T","ARNPrefix":"p"}],
            "userIdentity":{"principalid":"P","sessioncontext":{"attributes":{"creationdate":"2024-05-01T09:00:00Z","mfaauthenticated":"true"}}}}"#;
        let row = parse_record(rec).unwrap();
        assert_eq!(scalar(&row, "eventID"), Some("exact"));
        let r = &row.resources.as_ref().unwrap()[0];
        assert_eq!(r[2].as_deref(), Some("arn:a"));
        assert_eq!(r[3].as_deref(), Some("p"));
        let ui = row.user_identity.unwrap();
        assert_eq!(ui.strings[1].as_deref(), Some("P"));
        let (created, mfa) = ui.session_context.unwrap().attributes.unwrap();
        assert_eq!(created, Some(1_714_554_000_000_000));
        assert_eq!(mfa.as_deref(), Some("true"));
    }

    #[test]
    fn every_object_inside_user_identity_is_read() {
        let rec = r#"{"eventTime":"2024-05-01T10:00:00Z","userIdentity":{"type":"AssumedRole",
            "sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::1:role/r"},
              "webIdFederationData":{"federatedProvider":"arn:aws:iam::1:oidc-provider/x",
                "attributes":{"aud":"sts", "sub":{"n":1}}},
              "attributes":{"creationDate":"2024-05-01T09:00:00Z","mfaAuthenticated":false},
              "sourceIdentity":"alice"},
            "onBehalfOf":{"userId":"u-1","identityStoreArn":"arn:aws:identitystore::1:identitystore/d"},
            "inScopeOf":{"issuerType":"AWS::Lambda::Function","sourceAccount":"1"}}}"#;
        let ui = parse_record(rec).unwrap().user_identity.unwrap();
        assert_eq!(ui.strings[0].as_deref(), Some("AssumedRole"));
        let sc = ui.session_context.unwrap();
        let issuer = sc.session_issuer.unwrap();
        assert_eq!(issuer[0].as_deref(), Some("Role"));
        assert_eq!(issuer[2].as_deref(), Some("arn:aws:iam::1:role/r"));
        let (provider, attributes) = sc.web_id_federation_data.unwrap();
        assert_eq!(provider.as_deref(), Some("arn:aws:iam::1:oidc-provider/x"));
        assert_eq!(
            attributes.unwrap(),
            vec![
                ("aud".into(), Some("sts".into())),
                ("sub".into(), Some(r#"{"n":1}"#.into()))
            ]
        );
        let (created, mfa) = sc.attributes.unwrap();
        assert_eq!(created, Some(1_714_554_000_000_000));
        assert_eq!(mfa.as_deref(), Some("false"));
        let source_identity = SESSION_CONTEXT_STRINGS
            .iter()
            .position(|f| *f == "sourceIdentity")
            .unwrap();
        assert_eq!(sc.strings[source_identity].as_deref(), Some("alice"));
        let on_behalf_of = ui.on_behalf_of.unwrap();
        assert_eq!(on_behalf_of[0].as_deref(), Some("u-1"));
        assert_eq!(
            on_behalf_of[1].as_deref(),
            Some("arn:aws:identitystore::1:identitystore/d")
        );
        let in_scope_of = ui.in_scope_of.unwrap();
        assert_eq!(in_scope_of[0], None);
        assert_eq!(in_scope_of[1].as_deref(), Some("1"));
        assert_eq!(in_scope_of[2].as_deref(), Some("AWS::Lambda::Function"));

        // Values that are not objects are no struct, and the record still parses.
        let rec = r#"{"eventTime":"2024-05-01T10:00:00Z","userIdentity":{"onBehalfOf":"u-1",
            "inScopeOf":[1],"sessionContext":{"attributes":7,"sessionIssuer":"x",
            "webIdFederationData":{"federatedProvider":"p","attributes":"not a map"}}}}"#;
        let ui = parse_record(rec).unwrap().user_identity.unwrap();
        assert!(ui.on_behalf_of.is_none() && ui.in_scope_of.is_none());
        let sc = ui.session_context.unwrap();
        assert!(sc.attributes.is_none() && sc.session_issuer.is_none());
        assert_eq!(sc.web_id_federation_data, Some((Some("p".into()), None)));
    }

    #[test]
    fn unexpected_types_become_null_or_text_never_errors() {
        let rec = r#"{"eventTime":"2024-05-01T10:00:00Z","readOnly":"true","managementEvent":7,
            "sessionCredentialFromConsole":true,"serviceEventDetails":"not an object",
            "userIdentity":null,"resources":null,"tlsDetails":[1],"eventVersion":1.05}"#;
        let row = parse_record(rec).unwrap();
        assert_eq!(row.read_only, Some(true));
        assert_eq!(row.management_event, None);
        assert_eq!(scalar(&row, "sessionCredentialFromConsole"), Some("true"));
        assert_eq!(scalar(&row, "eventVersion"), Some("1.05"));
        assert!(row.maps[3].is_none());
        assert!(row.user_identity.is_none() && row.resources.is_none());
        assert!(row.tls_details.is_none());
    }

    #[test]
    fn lone_surrogates_are_rejected_and_pairs_kept() {
        let rec = |s: &str| {
            format!(r#"{{"eventTime":"2024-01-01T00:00:00Z","eventID":"e","userAgent":"{s}"}}"#)
        };
        for bad in [
            r"\ud800x",
            r"x\udc00",
            r"\ud800\u0041",
            r"\uDBFF",
            r"\ud800\ud800",
        ] {
            let err = parse_record(&rec(bad)).unwrap_err();
            assert!(
                matches!(err, RecordError::LoneSurrogate { at: 63.., .. }),
                "{bad}: {err}"
            );
            assert!(err.to_string().contains("surrogate"), "{err}");
        }
        for good in [
            r"\ud83d\ude00 ok",
            r"\\ud800",
            r"\u0041\\",
            r"\\\ud83d\ude00",
            "é",
        ] {
            let text = rec(good);
            let row = parse_record(&text).unwrap_or_else(|e| panic!("{good}: {e}"));
            let decoded: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(
                row.scalar("userAgent"),
                decoded["userAgent"].as_str(),
                "{good}"
            );
        }
        // In a key or a field the schema does not know, too: the record's text is stored whole.
        assert!(parse_record(r#"{"eventTime":"2024-01-01T00:00:00Z","x\udc00":1}"#).is_err());
    }

    #[test]
    fn rejects_say_why() {
        assert_eq!(
            parse_record(r#"{"eventName":"X"}"#).unwrap_err(),
            RecordError::NoEventTime
        );
        assert_eq!(
            parse_record(r#"{"eventTime":null}"#).unwrap_err(),
            RecordError::NoEventTime
        );
        assert!(matches!(
            parse_record(r#"{"eventTime":"redacted"}"#).unwrap_err(),
            RecordError::BadEventTime(v) if v == "`redacted`"
        ));
        assert_eq!(
            parse_record("[1,2]").unwrap_err(),
            RecordError::NotAnObject("array")
        );
        assert!(matches!(
            parse_record(r#"{"eventTime":"2024-05-01T10:00:00Z""#).unwrap_err(),
            RecordError::NotJson(_)
        ));
        let msg = parse_record(r#"{"eventTime":12}"#).unwrap_err().to_string();
        assert!(msg.contains("a JSON number"), "{msg}");
    }
}
