//! Rows of the record parser → Arrow `RecordBatch`es of the event schema.
//!
//! One typed builder per column ("custom builder" idiom of arrow-rs). Nested columns are built as
//! child arrays plus a validity buffer and assembled at `finish`, with their types taken from
//! `schema` so the two cannot drift apart (`RecordBatch::try_new` checks it, and a test does too).

use std::sync::Arc;

use arrow::array::{
    Array, ArrayBuilder, ArrayRef, BooleanBuilder, ListArray, MapArray, RecordBatch, StringArray,
    StringBuilder, StructArray, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Fields};
use arrow_buffer::{NullBufferBuilder, OffsetBuffer};

use crate::record::{MapEntries, Row, SessionContext, StringFields, Text, UserIdentity};
use crate::schema::{self, MAP_COLUMNS, SCALAR_COLUMNS};

/// Accumulates rows; `finish` yields a batch of the event schema and resets the builder.
pub struct EventBatchBuilder {
    event_time: TimestampMicrosecondBuilder,
    scalars: Vec<StringBuilder>,
    read_only: BooleanBuilder,
    management_event: BooleanBuilder,
    maps: Vec<MapColumn>,
    user_identity: UserIdentityColumn,
    resources: ResourcesColumn,
    tls_details: StringStructColumn,
    event_json: StringBuilder,
    /// Bytes of record text appended since the last finish: a cheap size estimate for callers.
    text_bytes: usize,
}

impl Default for EventBatchBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBatchBuilder {
    pub fn new() -> Self {
        EventBatchBuilder {
            event_time: TimestampMicrosecondBuilder::new(),
            scalars: SCALAR_COLUMNS
                .iter()
                .map(|_| StringBuilder::new())
                .collect(),
            read_only: BooleanBuilder::new(),
            management_event: BooleanBuilder::new(),
            maps: MAP_COLUMNS.iter().map(|_| MapColumn::default()).collect(),
            user_identity: UserIdentityColumn::new(),
            resources: ResourcesColumn::new(),
            tls_details: StringStructColumn::new(&schema::TLS_DETAILS_FIELDS),
            event_json: StringBuilder::new(),
            text_bytes: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.event_time.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of record text held so far.
    pub fn text_bytes(&self) -> usize {
        self.text_bytes
    }

    /// Appends one parsed row; `text` is the record exactly as received (→ `eventJson`).
    pub fn append(&mut self, row: &Row<'_>, text: &str) {
        self.event_time.append_value(row.event_time_micros);
        for (builder, value) in self.scalars.iter_mut().zip(&row.scalars) {
            builder.append_option(value.as_deref());
        }
        self.read_only.append_option(row.read_only);
        self.management_event.append_option(row.management_event);
        for (column, value) in self.maps.iter_mut().zip(&row.maps) {
            column.append(value.as_ref());
        }
        self.user_identity.append(row.user_identity.as_ref());
        self.resources.append(row.resources.as_deref());
        self.tls_details.append(row.tls_details.as_ref());
        self.event_json.append_value(text);
        self.text_bytes += text.len();
    }

    pub fn finish(&mut self) -> RecordBatch {
        let schema = schema::event_schema();
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
        let mut scalars = self.scalars.iter_mut();
        let mut maps = self.maps.iter_mut();
        for field in schema.fields() {
            let name = field.name().as_str();
            let array: ArrayRef = match name {
                schema::EVENT_TIME => Arc::new(self.event_time.finish().with_timezone("UTC")),
                schema::READ_ONLY => Arc::new(self.read_only.finish()),
                schema::MANAGEMENT_EVENT => Arc::new(self.management_event.finish()),
                schema::USER_IDENTITY => Arc::new(self.user_identity.finish()),
                schema::RESOURCES => Arc::new(self.resources.finish()),
                schema::TLS_DETAILS => Arc::new(self.tls_details.finish()),
                schema::EVENT_JSON => Arc::new(finish_strings(&mut self.event_json)),
                _ if SCALAR_COLUMNS.contains(&name) => Arc::new(finish_strings(
                    scalars.next().expect("one builder per scalar"),
                )),
                _ if MAP_COLUMNS.contains(&name) => {
                    Arc::new(maps.next().expect("one builder per map").finish())
                }
                _ => unreachable!("column `{name}` has no builder"),
            };
            columns.push(array);
        }
        self.text_bytes = 0;
        RecordBatch::try_new(schema, columns).expect("builders follow the event schema")
    }
}

/// Finishes a string column and leaves its builder with the room the column took and a quarter
/// more: a parser's batches are alike, and a builder regrown from empty for each one copied its
/// values at every doubling (~1% of a convert's CPU, most of it `eventJson`'s). Alike is not the
/// same: with exactly the last batch's room, every batch a byte bigger than the one before
/// doubled its `eventJson` (1.5 MiB, `pipeline::BATCH_TEXT_BYTES`) past glibc's 2 MiB mapping
/// threshold, copying it into a fresh mapping faulted in page by page (~1% of a real-shaped
/// convert's CPU samples). A quarter more holds a batch's overshoot of one ordinary record and
/// stays under the threshold. The room is allocated, not touched, until the next batch fills it.
fn finish_strings(builder: &mut StringBuilder) -> StringArray {
    let array = builder.finish();
    let (rows, bytes) = (array.len(), array.values().len());
    *builder = StringBuilder::with_capacity(rows + rows / 4, bytes + bytes / 4);
    array
}

/// A struct of nullable strings, e.g. `tlsDetails` or `sessionIssuer`.
struct StringStructColumn {
    fields: Fields,
    children: Vec<StringBuilder>,
    validity: NullBufferBuilder,
}

impl StringStructColumn {
    fn new(names: &[&str]) -> Self {
        StringStructColumn {
            fields: schema::string_struct_fields(names),
            children: names.iter().map(|_| StringBuilder::new()).collect(),
            validity: NullBufferBuilder::new(0),
        }
    }

    fn append<const N: usize>(&mut self, value: Option<&StringFields<'_, N>>) {
        debug_assert_eq!(N, self.children.len());
        match value {
            Some(values) => {
                for (child, v) in self.children.iter_mut().zip(values) {
                    child.append_option(v.as_deref());
                }
                self.validity.append_non_null();
            }
            None => {
                for child in &mut self.children {
                    child.append_null();
                }
                self.validity.append_null();
            }
        }
    }

    fn finish(&mut self) -> StructArray {
        let children = self
            .children
            .iter_mut()
            .map(|c| Arc::new(finish_strings(c)) as ArrayRef)
            .collect();
        StructArray::new(self.fields.clone(), children, self.validity.finish())
    }
}

/// A `Map<Utf8,Utf8>` column.
struct MapColumn {
    offsets: Vec<i32>,
    keys: StringBuilder,
    values: StringBuilder,
    validity: NullBufferBuilder,
}

impl Default for MapColumn {
    fn default() -> Self {
        MapColumn {
            offsets: vec![0],
            keys: StringBuilder::new(),
            values: StringBuilder::new(),
            validity: NullBufferBuilder::new(0),
        }
    }
}

impl MapColumn {
    fn append(&mut self, entries: Option<&MapEntries<'_>>) {
        if let Some(entries) = entries {
            for (k, v) in entries {
                self.keys.append_value(k);
                self.values.append_option(v.as_deref());
            }
            self.validity.append_non_null();
        } else {
            self.validity.append_null();
        }
        self.offsets.push(self.keys.len() as i32);
    }

    fn finish(&mut self) -> MapArray {
        let entries_field = schema::map_entries_field();
        let DataType::Struct(entry_fields) = entries_field.data_type() else {
            unreachable!("map entries are a struct")
        };
        let entries = StructArray::new(
            entry_fields.clone(),
            vec![
                Arc::new(finish_strings(&mut self.keys)),
                Arc::new(finish_strings(&mut self.values)),
            ],
            None,
        );
        let offsets = OffsetBuffer::new(std::mem::replace(&mut self.offsets, vec![0]).into());
        MapArray::new(
            entries_field,
            offsets,
            entries,
            self.validity.finish(),
            false,
        )
    }
}

/// `resources`: a list of `{accountId, type, arn, arnPrefix}`.
struct ResourcesColumn {
    offsets: Vec<i32>,
    items: StringStructColumn,
    validity: NullBufferBuilder,
}

impl ResourcesColumn {
    fn new() -> Self {
        ResourcesColumn {
            offsets: vec![0],
            items: StringStructColumn::new(&schema::RESOURCE_FIELDS),
            validity: NullBufferBuilder::new(0),
        }
    }

    fn append(&mut self, resources: Option<&[StringFields<'_, 4>]>) {
        match resources {
            Some(items) => {
                for item in items {
                    self.items.append(Some(item));
                }
                self.validity.append_non_null();
            }
            None => self.validity.append_null(),
        }
        let len = *self.offsets.last().expect("offsets start at 0")
            + resources.map_or(0, |r| r.len() as i32);
        self.offsets.push(len);
    }

    fn finish(&mut self) -> ListArray {
        let offsets = OffsetBuffer::new(std::mem::replace(&mut self.offsets, vec![0]).into());
        ListArray::new(
            schema::resource_item_field(),
            offsets,
            Arc::new(self.items.finish()),
            self.validity.finish(),
        )
    }
}

struct UserIdentityColumn {
    strings: Vec<StringBuilder>,
    session_context: SessionContextColumn,
    on_behalf_of: StringStructColumn,
    in_scope_of: StringStructColumn,
    validity: NullBufferBuilder,
}

impl UserIdentityColumn {
    fn new() -> Self {
        UserIdentityColumn {
            strings: schema::USER_IDENTITY_STRINGS
                .iter()
                .map(|_| StringBuilder::new())
                .collect(),
            session_context: SessionContextColumn::new(),
            on_behalf_of: StringStructColumn::new(&schema::ON_BEHALF_OF_FIELDS),
            in_scope_of: StringStructColumn::new(&schema::IN_SCOPE_OF_FIELDS),
            validity: NullBufferBuilder::new(0),
        }
    }

    fn append(&mut self, ui: Option<&UserIdentity<'_>>) {
        let none = UserIdentity::default();
        let v = ui.unwrap_or(&none);
        for (b, s) in self.strings.iter_mut().zip(&v.strings) {
            b.append_option(s.as_deref());
        }
        self.session_context.append(v.session_context.as_ref());
        self.on_behalf_of.append(v.on_behalf_of.as_ref());
        self.in_scope_of.append(v.in_scope_of.as_ref());
        self.validity.append(ui.is_some());
    }

    fn finish(&mut self) -> StructArray {
        let mut children: Vec<ArrayRef> = self
            .strings
            .iter_mut()
            .map(|b| Arc::new(finish_strings(b)) as ArrayRef)
            .collect();
        children.push(Arc::new(self.session_context.finish()));
        children.push(Arc::new(self.on_behalf_of.finish()));
        children.push(Arc::new(self.in_scope_of.finish()));
        StructArray::new(
            schema::user_identity_fields(),
            children,
            self.validity.finish(),
        )
    }
}

struct SessionContextColumn {
    creation_date: TimestampMicrosecondBuilder,
    mfa_authenticated: StringBuilder,
    attributes_validity: NullBufferBuilder,
    session_issuer: StringStructColumn,
    federated_provider: StringBuilder,
    web_id_attributes: MapColumn,
    web_id_validity: NullBufferBuilder,
    strings: Vec<StringBuilder>,
    validity: NullBufferBuilder,
}

impl SessionContextColumn {
    fn new() -> Self {
        SessionContextColumn {
            creation_date: TimestampMicrosecondBuilder::new(),
            mfa_authenticated: StringBuilder::new(),
            attributes_validity: NullBufferBuilder::new(0),
            session_issuer: StringStructColumn::new(&schema::SESSION_ISSUER_FIELDS),
            federated_provider: StringBuilder::new(),
            web_id_attributes: MapColumn::default(),
            web_id_validity: NullBufferBuilder::new(0),
            strings: schema::SESSION_CONTEXT_STRINGS
                .iter()
                .map(|_| StringBuilder::new())
                .collect(),
            validity: NullBufferBuilder::new(0),
        }
    }

    fn append(&mut self, sc: Option<&SessionContext<'_>>) {
        let none = SessionContext::default();
        let v = sc.unwrap_or(&none);
        let (created, mfa): (Option<i64>, Option<&Text<'_>>) = match &v.attributes {
            Some((c, m)) => (*c, m.as_ref()),
            None => (None, None),
        };
        self.creation_date.append_option(created);
        self.mfa_authenticated
            .append_option(mfa.map(|m| m.as_ref()));
        self.attributes_validity.append(v.attributes.is_some());
        self.session_issuer.append(v.session_issuer.as_ref());
        let (provider, attributes) = match &v.web_id_federation_data {
            Some((p, a)) => (p.as_deref(), a.as_ref()),
            None => (None, None),
        };
        self.federated_provider.append_option(provider);
        self.web_id_attributes.append(attributes);
        self.web_id_validity
            .append(v.web_id_federation_data.is_some());
        for (b, s) in self.strings.iter_mut().zip(&v.strings) {
            b.append_option(s.as_deref());
        }
        self.validity.append(sc.is_some());
    }

    fn finish(&mut self) -> StructArray {
        let attributes = StructArray::new(
            schema::session_context_attributes_fields(),
            vec![
                Arc::new(self.creation_date.finish().with_timezone("UTC")),
                Arc::new(self.mfa_authenticated.finish()),
            ],
            self.attributes_validity.finish(),
        );
        let web_id = StructArray::new(
            schema::web_id_federation_data_fields(),
            vec![
                Arc::new(self.federated_provider.finish()),
                Arc::new(self.web_id_attributes.finish()),
            ],
            self.web_id_validity.finish(),
        );
        let mut children: Vec<ArrayRef> = vec![
            Arc::new(attributes),
            Arc::new(self.session_issuer.finish()),
            Arc::new(web_id),
        ];
        children.extend(
            self.strings
                .iter_mut()
                .map(|b| Arc::new(b.finish()) as ArrayRef),
        );
        StructArray::new(
            schema::session_context_fields(),
            children,
            self.validity.finish(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::parse_record;
    use arrow::array::{Array, AsArray};

    #[test]
    fn a_batch_matches_the_schema_and_keeps_nulls_apart() {
        let records = [
            r#"{"eventTime":"2024-05-01T10:00:00Z","eventID":"a","userIdentity":{"type":"AssumedRole","sessionContext":{"sessionIssuer":{"arn":"arn:r"}}},"requestParameters":{"k":"v","n":null},"resources":[{"ARN":"x"},{"ARN":"y"}]}"#,
            r#"{"eventTime":"2024-05-02T10:00:00Z","requestParameters":null}"#,
        ];
        let mut b = EventBatchBuilder::new();
        for r in records {
            b.append(&parse_record(r).unwrap(), r);
        }
        let batch = b.finish();
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(batch.schema(), schema::event_schema());
        let ui = batch
            .column_by_name(schema::USER_IDENTITY)
            .unwrap()
            .as_struct();
        assert!(ui.is_valid(0) && ui.is_null(1));
        let sc = ui
            .column_by_name(schema::SESSION_CONTEXT)
            .unwrap()
            .as_struct();
        let issuer = sc
            .column_by_name(schema::SESSION_ISSUER)
            .unwrap()
            .as_struct();
        assert_eq!(
            issuer
                .column_by_name("arn")
                .unwrap()
                .as_string::<i32>()
                .value(0),
            "arn:r"
        );
        assert!(sc.column_by_name(schema::ATTRIBUTES).unwrap().is_null(0));
        let rp = batch
            .column_by_name(schema::REQUEST_PARAMETERS)
            .unwrap()
            .as_map();
        assert_eq!(rp.value(0).len(), 2);
        assert!(
            rp.value(0).column(1).is_null(1),
            "JSON null stays NULL, not the text null"
        );
        assert!(rp.is_null(1));
        let res = batch
            .column_by_name(schema::RESOURCES)
            .unwrap()
            .as_list::<i32>();
        assert_eq!(res.value(0).len(), 2);
        assert!(res.is_null(1));
        let json = batch
            .column_by_name(schema::EVENT_JSON)
            .unwrap()
            .as_string::<i32>();
        assert_eq!(json.value(1), records[1]);
        // The builder is reusable after finish.
        assert_eq!(b.len(), 0);
        b.append(&parse_record(records[1]).unwrap(), records[1]);
        assert_eq!(b.finish().num_rows(), 1);
    }
}
