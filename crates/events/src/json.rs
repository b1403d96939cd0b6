//! JSON helpers shared by the record parser and the file reader.
//!
//! Everything works on `serde_json::RawValue` slices of the input so that a record's text is
//! scanned without building a DOM, strings stay borrowed unless they had escapes, and the text of
//! numbers is never re-printed.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

/// Text borrowed from the input where it needs no unescaping.
pub type Text<'a> = Cow<'a, str>;
/// A JSON object's entries as column text, in input order.
pub type MapEntries<'a> = Vec<(Text<'a>, Option<Text<'a>>)>;

/// For a visitor that looks for one kind of JSON value (`Value = Option<…>`): strings, numbers,
/// booleans and null are `None`.
macro_rules! scalars_are_none {
    () => {
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    };
}
pub(crate) use scalars_are_none;

/// The named fields of an object: the `M` from `first_map` on read as map entries ([`MapSeed`])
/// in the same pass, those `X` takes read by it ([`Nested`]), the others as raw JSON.
pub struct Fields<'a, const N: usize, const M: usize, X = ()> {
    /// `None` where the field is absent, and for the map fields and those `nested` took.
    pub raw: [Option<&'a RawValue>; N],
    /// `None` where the field is absent or not an object.
    pub maps: [Option<MapEntries<'a>>; M],
    pub nested: X,
}

/// Fields of an object that are objects themselves, read in the pass that reads their parent
/// instead of captured as raw text and scanned again: a record's `userIdentity` holds its
/// `sessionContext`, which holds `sessionIssuer`, and each level read from its parent's raw text
/// scanned the innermost bytes up to four times (BENCHMARKS.md, issue 15 session 25).
pub(crate) trait Nested<'de>: Default {
    /// Reads the value of field `slot` (an index into the names) from `map` and returns `true`,
    /// or returns `false` without reading it: that field is captured raw.
    fn read<A: MapAccess<'de>>(&mut self, slot: usize, map: &mut A) -> Result<bool, A::Error>;
}

/// No field is read nested.
impl<'de> Nested<'de> for () {
    fn read<A: MapAccess<'de>>(&mut self, _: usize, _: &mut A) -> Result<bool, A::Error> {
        Ok(false)
    }
}

/// An object's named fields as raw JSON, with the fields `first_map..first_map + M` read as map
/// entries while the object is read, not captured raw and parsed again (a record's
/// `requestParameters` and `responseElements` are often most of its text), and those `X` takes
/// read by it. `Ok(None)`: not an object.
pub(crate) fn fields_and_maps_of<'a, const N: usize, const M: usize, X: Nested<'a>>(
    text: &'a str,
    names: &[&str; N],
    first_map: usize,
) -> serde_json::Result<Option<Fields<'a, N, M, X>>> {
    let mut de = serde_json::Deserializer::from_str(text);
    let out = fields_and_maps_seed(names, first_map).deserialize(&mut de)?;
    de.end()?;
    Ok(out)
}

/// What [`fields_and_maps_of`] reads, with the fields `X` takes read by it, for a deserializer
/// that is at the object.
pub(crate) fn fields_and_maps_seed<'n, const N: usize, const M: usize, X>(
    names: &'n [&'n str; N],
    first_map: usize,
) -> FieldsSeed<'n, N, M, X> {
    FieldsSeed {
        names,
        first_map,
        nested: PhantomData,
    }
}

/// [`fields_and_maps_seed`] with no field read as map entries: an object's named fields, raw or
/// read by `X`.
pub(crate) fn fields_seed<'n, const N: usize, X>(
    names: &'n [&'n str; N],
) -> FieldsSeed<'n, N, 0, X> {
    fields_and_maps_seed(names, N)
}

pub(crate) struct FieldsSeed<'n, const N: usize, const M: usize, X> {
    names: &'n [&'n str; N],
    first_map: usize,
    /// `fn() -> X`: the seed makes an `X`, it holds none (no lifetime bound on `X`).
    nested: PhantomData<fn() -> X>,
}

impl<'de, const N: usize, const M: usize, X: Nested<'de>> DeserializeSeed<'de>
    for FieldsSeed<'_, N, M, X>
{
    type Value = Option<Fields<'de, N, M, X>>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de, const N: usize, const M: usize, X: Nested<'de>> Visitor<'de> for FieldsSeed<'_, N, M, X> {
    type Value = Option<Fields<'de, N, M, X>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Fields {
            raw: [None; N],
            maps: std::array::from_fn(|_| None),
            nested: X::default(),
        };
        let mut exact = [false; N];
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let key = key.0;
            let found = match self.names.iter().position(|n| *n == key) {
                Some(i) => Some((i, true)),
                None => self
                    .names
                    .iter()
                    .position(|n| n.eq_ignore_ascii_case(&key))
                    .map(|i| (i, false)),
            };
            match found {
                // An exactly spelled key wins over a differently cased one, whatever the order.
                Some((i, is_exact)) if is_exact || !exact[i] => {
                    if let Some(slot) = i
                        .checked_sub(self.first_map)
                        .and_then(|m| out.maps.get_mut(m))
                    {
                        *slot = map.next_value_seed(MapSeed)?;
                    } else if !out.nested.read(i, &mut map)? {
                        out.raw[i] = Some(map.next_value::<&'de RawValue>()?);
                    }
                    exact[i] = is_exact;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Some(out))
    }

    // Anything but an object: consume it and report "not an object".
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    scalars_are_none!();
}

/// A JSON string that stays borrowed from the input unless it had escapes.
pub struct Key<'a>(pub Text<'a>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        de.deserialize_str(V)
    }
}

/// The value of a JSON string, or `None` for any other JSON value.
pub fn string_of(raw: &RawValue) -> Option<Text<'_>> {
    let text = raw.get();
    if !text.starts_with('"') {
        return None;
    }
    // serde_json already validated the literal: without a backslash its value is its inside.
    if !text.contains('\\') {
        return text.get(1..text.len() - 1).map(Cow::Borrowed);
    }
    serde_json::from_str::<Key>(text).ok().map(|k| k.0)
}

/// A value as column text: a string's value, `null` as NULL, anything else as compact JSON text.
/// Numbers and booleans keep the exact text of the record.
pub fn text_of(raw: &RawValue) -> Option<Text<'_>> {
    match raw.get().as_bytes().first() {
        Some(b'"') => string_of(raw),
        Some(b'n') | None => None,
        Some(b'{') | Some(b'[') => Some(compact_json(raw.get())),
        Some(_) => Some(Cow::Borrowed(raw.get())),
    }
}

pub fn bool_of(raw: &RawValue) -> Option<bool> {
    // Some producers write booleans as strings ("true"); both mean the same.
    match raw.get() {
        "true" | "\"true\"" => Some(true),
        "false" | "\"false\"" => Some(false),
        _ => None,
    }
}

/// A JSON object's top-level entries as map entries, from the deserializer that reaches it;
/// `None` when the value is not an object.
struct MapSeed;

impl<'de> DeserializeSeed<'de> for MapSeed {
    type Value = Option<MapEntries<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for MapSeed {
    type Value = Option<MapEntries<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some((k, v)) = map.next_entry::<Key<'de>, &'de RawValue>()? {
            out.push((k.0, text_of(v)));
        }
        Ok(Some(out))
    }

    // Anything but an object is no map: consume it.
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    scalars_are_none!();
}

/// JSON text without insignificant whitespace; the text of strings and numbers is untouched.
pub fn compact_json(text: &str) -> Text<'_> {
    let bytes = text.as_bytes();
    let needs_work = {
        let mut in_string = false;
        let mut escaped = false;
        bytes.iter().any(|&b| {
            if in_string {
                match (escaped, b) {
                    (true, _) => escaped = false,
                    (false, b'\\') => escaped = true,
                    (false, b'"') => in_string = false,
                    _ => {}
                }
                false
            } else if b == b'"' {
                in_string = true;
                false
            } else {
                b.is_ascii_whitespace()
            }
        })
    };
    if !needs_work {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_ascii_whitespace() {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

pub fn json_kind(text: &str) -> &'static str {
    match text.trim_start().as_bytes().first() {
        Some(b'[') => "array",
        Some(b'"') => "string",
        Some(b't') | Some(b'f') => "boolean",
        Some(b'n') => "null",
        Some(b'{') => "object",
        _ => "number",
    }
}

/// At most `max` characters of `s`, with an ellipsis when cut.
pub fn truncate(s: &str, max: usize) -> Cow<'_, str> {
    match s.char_indices().nth(max) {
        None => Cow::Borrowed(s),
        Some((i, _)) => Cow::Owned(format!("{}…", &s[..i])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_borrowed_unless_escaped() {
        fn raw(t: &str) -> &RawValue {
            serde_json::from_str(t).unwrap()
        }
        assert!(matches!(
            string_of(raw(r#""a b""#)),
            Some(Cow::Borrowed("a b"))
        ));
        assert!(matches!(string_of(raw(r#""""#)), Some(Cow::Borrowed(""))));
        assert_eq!(string_of(raw(r#""a\"b\u00e9""#)).as_deref(), Some("a\"bé"));
        assert_eq!(string_of(raw("12")), None);
    }

    #[test]
    fn compact_json_only_removes_whitespace_outside_strings() {
        assert_eq!(
            compact_json(r#"{"a": "b c",  "d" : [ 1 , 2 ]}"#),
            r#"{"a":"b c","d":[1,2]}"#
        );
        assert!(matches!(compact_json(r#"{"a":"b"}"#), Cow::Borrowed(_)));
        assert_eq!(compact_json(r#"{"a\" ": 1}"#), r#"{"a\" ":1}"#);
    }
}
