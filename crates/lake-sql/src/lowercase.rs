//! The event schema as Lake's SQL sees it: every column and struct field name in lowercase.
//!
//! Lake (Trino) matches `userIdentity.sessionContext.sessionIssuer.arn` to its lowercase schema
//! whatever the casing. DataFusion lowercases unquoted identifiers (and the dialect shim quoted
//! ones), so a table whose names are all lowercase behaves the same. Only names change: the
//! arrays are the same buffers. Map keys are data and keep their case, as on Lake.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, ListArray, RecordBatch, RecordBatchOptions, StructArray,
};
use arrow::datatypes::{DataType, Field, FieldRef, Fields, Schema, SchemaRef};
use arrow::error::ArrowError;

/// `schema` with all column and struct field names lowercased.
pub fn lowercase_schema(schema: &Schema) -> SchemaRef {
    Arc::new(Schema::new_with_metadata(
        schema
            .fields()
            .iter()
            .map(lowercase_field)
            .collect::<Fields>(),
        schema.metadata().clone(),
    ))
}

/// `batch` under [`lowercase_schema`], sharing its buffers.
pub fn lowercase_batch(batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
    relabel_batch(batch, &lowercase_schema(batch.schema_ref()))
}

/// `batch` under `schema`, a schema that differs from the batch's only in names (of columns and
/// struct fields, at any depth), sharing its buffers.
pub fn relabel_batch(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, ArrowError> {
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(array, field)| relabel(array, field.data_type()))
        .collect::<Result<Vec<_>, _>>()?;
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    RecordBatch::try_new_with_options(Arc::clone(schema), columns, &options)
}

fn lowercase_field(field: &FieldRef) -> FieldRef {
    Arc::new(
        Field::new(
            field.name().to_lowercase(),
            lowercase_type(field.data_type()),
            field.is_nullable(),
        )
        .with_metadata(field.metadata().clone()),
    )
}

/// `data_type` with its struct field names lowercased (at any depth).
pub fn lowercase_type(data_type: &DataType) -> DataType {
    match data_type {
        DataType::Struct(fields) => DataType::Struct(fields.iter().map(lowercase_field).collect()),
        DataType::List(item) => DataType::List(lowercase_field(item)),
        // Map entries are named `entries`/`key`/`value` already; their values are strings.
        other => other.clone(),
    }
}

/// `array` with the (lowercased) type `to`; only struct and list types differ.
fn relabel(array: &ArrayRef, to: &DataType) -> Result<ArrayRef, ArrowError> {
    match (array.data_type(), to) {
        (DataType::Struct(_), DataType::Struct(fields)) => {
            let s = array.as_struct();
            let columns = s
                .columns()
                .iter()
                .zip(fields.iter())
                .map(|(c, f)| relabel(c, f.data_type()))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Arc::new(StructArray::try_new(
                fields.clone(),
                columns,
                s.nulls().cloned(),
            )?))
        }
        (DataType::List(_), DataType::List(item)) => {
            let l = array.as_list::<i32>();
            let values = relabel(l.values(), item.data_type())?;
            Ok(Arc::new(ListArray::try_new(
                item.clone(),
                l.offsets().clone(),
                values,
                l.nulls().cloned(),
            )?))
        }
        _ => Ok(Arc::clone(array)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailq_events::batch::EventBatchBuilder;
    use trailq_events::record::parse_record;

    #[test]
    fn names_are_lowercase_and_values_unchanged() {
        let text = r#"{"eventTime":"2024-05-01T10:00:00Z","eventID":"e1","userIdentity":{"type":"AssumedRole","sessionContext":{"sessionIssuer":{"userName":"Admin"}}},"resources":[{"ARN":"arn:x","type":"T"}],"requestParameters":{"maxResults":5}}"#;
        let mut builder = EventBatchBuilder::new();
        builder.append(&parse_record(text).unwrap(), text);
        let batch = builder.finish();
        let lower = lowercase_batch(&batch).unwrap();
        let names: Vec<_> = lower
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert!(names.contains(&"eventid".to_owned()));
        assert!(names.contains(&"useridentity".to_owned()));
        let ui = lower.column_by_name("useridentity").unwrap().as_struct();
        let issuer = ui
            .column_by_name("sessioncontext")
            .unwrap()
            .as_struct()
            .column_by_name("sessionissuer")
            .unwrap()
            .as_struct();
        assert_eq!(
            issuer
                .column_by_name("username")
                .unwrap()
                .as_string::<i32>()
                .value(0),
            "Admin"
        );
        let resources = lower.column_by_name("resources").unwrap().as_list::<i32>();
        let item = resources.value(0);
        assert_eq!(
            item.as_struct()
                .column_by_name("arn")
                .unwrap()
                .as_string::<i32>()
                .value(0),
            "arn:x"
        );
        assert_eq!(lower.num_rows(), 1);
    }
}
