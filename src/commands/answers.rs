//! Saved queries run one after another for `detect` and `report`: on CloudTrail Lake or on an
//! exported dataset, each answer gathered as Lake's rendered strings (what `queries run` types and
//! writes), so both engines hand the findings and the report the same values.

use std::collections::BTreeMap;

use arrow::record_batch::RecordBatch;
use aws_sdk_cloudtrail::Client;
use futures::StreamExt;

use crate::commands::query::eds_value;
use crate::error::{Error, Result};
use trailq::library::{self, SavedQuery};
use trailq::local_engine::{self, LOCAL_EDS, LocalError};
use trailq::params::{self, Value};
use trailq::source::lake;
use trailq_lake_sql::lake_values::{column_names, render_rows};

/// Where the saved queries run.
pub enum Engine {
    /// The exported dataset (a folder or s3://…), with the embedded engine.
    Local(crate::commands::DatasetArg),
    /// An event data store on CloudTrail Lake (`{{eds}}`'s value resolved once).
    Lake { client: Client, eds: Value },
}

/// One query's result: column names and rows of rendered values.
pub struct Answer {
    pub names: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

impl Engine {
    pub async fn lake(client: Client, eds: &str) -> Result<Engine> {
        let eds = eds_value(&client, eds).await?;
        Ok(Engine::Lake { client, eds })
    }

    /// A short name of where queries run, for messages and the report.
    pub fn describe(&self) -> String {
        match self {
            Engine::Local(data) => data.to_string(),
            Engine::Lake { eds, .. } => format!("CloudTrail Lake event data store {}", render(eds)),
        }
    }

    /// Runs `query` with `values` (its parameters, `{{eds}}` excluded); `now_micros` is `now()`.
    pub async fn run(
        &self,
        query: &SavedQuery,
        values: &BTreeMap<String, Value>,
        now_micros: i64,
    ) -> Result<Answer> {
        let mut values = values.clone();
        match self {
            Engine::Local(data) => {
                values.insert(
                    library::EDS.into(),
                    params::identifier(library::EDS, LOCAL_EDS).expect("a valid identifier"),
                );
                let sql = params::fill(&query.sql, &values)?;
                let dataset = data.open_for_queries().await?;
                let started = local_engine::execute(dataset, &sql, now_micros).await?;
                let schema = started.stream.schema();
                let mut stream = started.stream;
                let mut rows = Vec::new();
                while let Some(batch) = stream.next().await {
                    let batch = batch.map_err(LocalError::Engine)?;
                    rows.extend(render_rows(&batch).map_err(Error::Usage)?);
                }
                let names = column_names(
                    started.column_names.as_deref(),
                    &RecordBatch::new_empty(schema),
                );
                Ok(Answer { names, rows })
            }
            Engine::Lake { client, eds } => {
                values.insert(library::EDS.into(), eds.clone());
                let sql = params::fill(&query.sql, &values)?;
                let id = lake::start(client, &sql, |_| {}).await?;
                let described = lake::wait(client, &id, |_| {}).await?;
                if described.status != "FINISHED" {
                    return Err(Error::Api(format!(
                        "saved query `{}` (Lake query {id}) ended {}: {}",
                        query.name,
                        described.status,
                        described
                            .error_message
                            .as_deref()
                            .unwrap_or("(Lake gave no message)")
                    )));
                }
                let mut names = Vec::new();
                let mut rows = Vec::new();
                lake::pages(client, &id, |page| {
                    if names.is_empty() {
                        names = page
                            .names
                            .iter()
                            .enumerate()
                            .map(|(i, n)| n.clone().unwrap_or_else(|| format!("_col{i}")))
                            .collect();
                    }
                    rows.extend(page.rows);
                    Ok(())
                })
                .await?;
                Ok(Answer { names, rows })
            }
        }
    }
}

fn render(value: &Value) -> String {
    match value {
        Value::Identifier(id) => id.clone(),
        other => format!("{other:?}"),
    }
}
