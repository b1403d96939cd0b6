//! The local engine: Lake-dialect SQL over an exported dataset (`<data>/event_date=YYYY-MM-DD/
//! *.parquet`), on DataFusion.
//!
//! The dataset is presented as the same lowercase table the emulator's Lake queries, so one
//! statement runs unchanged on both. [`Dataset`] is that table: for each scan it reads the
//! statement's `eventTime` bounds from the pushed-down filters, keeps only the day partitions
//! inside them (what Lake's own time partitioning does), and hands the chosen files to
//! DataFusion's Parquet reader with the camelCase file schema. The reader's batches are
//! relabelled to lowercase by [`Lowercased`], sharing their buffers; DataFusion's optimizer moves
//! the statement's projections (struct fields: only the leaves used are decoded) and filters
//! (row groups skipped by statistics and bloom filters; rows filtered while decoding when the
//! filters are selective, see [`selective`]) through it into the scan, renamed to the file's
//! spelling. The `event_date` partition column is not part of the table: Lake has no such
//! column.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, DataFusionError, Result as DfResult, ScalarValue};
use datafusion::config::{ConfigOptions, TableParquetOptions};
use datafusion::datasource::TableType;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::utils::split_conjunction;
use datafusion::logical_expr::{
    Between, BinaryExpr, Cast, Expr, Operator, TableProviderFilterPushDown, TryCast,
};
use datafusion::physical_expr::expressions::{Column as ColumnExpr, Literal};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr, ScalarFunctionExpr};
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::filter_pushdown::{
    ChildFilterDescription, ChildPushdownResult, FilterDescription, FilterPushdownPhase,
    FilterPushdownPropagation,
};
use datafusion::physical_plan::projection::{ProjectionExec, ProjectionExpr};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
    ReplaceChildrenOptions,
};
use futures::StreamExt;

use object_store::ObjectStore;
use object_store::path::Path as ObjectPath;

use crate::dataset::layout;
use crate::s3::{self, Failure, S3Url};
use trailq_events::schema::{EVENT_SOURCE, EVENT_TIME, event_schema};
use trailq_events::time::{day_of_micros, format_day, parse_time_or_day};
use trailq_lake_sql::dialect::{self, DialectError};
use trailq_lake_sql::lowercase::{lowercase_schema, lowercase_type, relabel_batch};

/// What `{{eds}}` is filled with for a local run; the dialect maps it to the dataset.
pub const LOCAL_EDS: &str = "local-dataset";
const TABLE: &str = "events";

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("{0}")]
    Dataset(String),
    #[error(transparent)]
    Statement(#[from] DialectError),
    #[error("the statement cannot run on the local engine: {0}")]
    Engine(#[from] DataFusionError),
}

/// How much of the dataset the scans of one statement read. A statement that scans the dataset
/// twice (a join with itself) counts each day once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanStats {
    pub partitions_total: usize,
    pub partitions_read: usize,
    pub files_read: usize,
    days_read: std::collections::BTreeSet<i32>,
}

#[derive(Debug)]
struct Partition {
    day: i32,
    files: Vec<ListingTableUrl>,
}

/// An exported dataset as Lake's (lowercase) event table.
#[derive(Debug)]
pub struct Dataset {
    partitions: Vec<Partition>,
    schema: SchemaRef,
    /// Lowercase name → the file's name, for top-level columns without nested fields (the
    /// filters on them can be renamed and pushed down).
    plain: HashMap<String, String>,
    stats: Arc<Mutex<ScanStats>>,
    /// A dataset in S3: the bucket's store, registered with the session that runs the scan.
    store: Option<(url::Url, Arc<dyn ObjectStore>)>,
}

impl Dataset {
    /// Opens the dataset under `root`: its `event_date=…` partitions and their Parquet files (a
    /// file whose name starts with `.` is a write in progress, not data).
    pub fn open(root: &Path) -> Result<Dataset, LocalError> {
        // Absolute, because the files become file:// URLs.
        let absolute = std::path::absolute(root).unwrap_or_else(|_| root.to_owned());
        let entries = std::fs::read_dir(&absolute).map_err(|e| {
            LocalError::Dataset(format!(
                "cannot read the dataset `{}`: {e}; point --data at the --out folder of `trailq export` or `trailq convert`",
                root.display()
            ))
        })?;
        let mut partitions = Vec::new();
        let mut state = false;
        for entry in entries {
            let path = entry
                .map_err(|e| LocalError::Dataset(format!("cannot list `{}`: {e}", root.display())))?
                .path();
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            state |= name == layout::STATE_DIR;
            let Some(day) = layout::partition_day(&name).filter(|_| path.is_dir()) else {
                continue;
            };
            let mut files: Vec<PathBuf> = std::fs::read_dir(&path)
                .map_err(|e| LocalError::Dataset(format!("cannot list `{}`: {e}", path.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    let n = p.file_name().unwrap_or_default().to_string_lossy();
                    layout::is_data_file(&n)
                })
                .collect();
            files.sort();
            if !files.is_empty() {
                let files = files
                    .iter()
                    .map(|f| file_url(f))
                    .collect::<DfResult<Vec<_>>>()?;
                partitions.push(Partition { day, files });
            }
        }
        if partitions.is_empty() && !state {
            return Err(LocalError::Dataset(format!(
                "`{}` is not a trailq dataset (no event_date=YYYY-MM-DD partitions, no _trailq folder): point --data at the --out folder of `trailq export` or `trailq convert`",
                root.display()
            )));
        }
        Ok(Self::with_partitions(partitions, None))
    }

    /// Opens the dataset in S3 under `url` (the `--out s3://…` of `trailq export` or `trailq
    /// convert`): one listing of the prefix finds its partitions and files; nothing else is read
    /// until a scan, which reads only the day partitions in its time bounds.
    pub async fn open_s3(
        url: &S3Url,
        config: &aws_config::SdkConfig,
    ) -> Result<Dataset, LocalError> {
        let bucket = s3::open(config, &url.bucket)
            .await
            .map_err(LocalError::Dataset)?;
        let prefix = url.prefix.trim_end_matches('/');
        let mut listing = bucket.store.list(
            (!prefix.is_empty())
                .then(|| ObjectPath::from(prefix))
                .as_ref(),
        );
        let mut by_day: std::collections::BTreeMap<i32, Vec<ListingTableUrl>> = Default::default();
        let mut state = false;
        while let Some(meta) = listing.next().await {
            let meta =
                meta.map_err(|e| LocalError::Dataset(Failure::of(&e).describe(&url.to_string())))?;
            let key = meta.location.as_ref();
            let rel = key.strip_prefix(url.prefix.as_str()).unwrap_or(key);
            let mut parts = rel.split('/');
            let (Some(folder), Some(name), None) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            state |= folder == layout::STATE_DIR;
            let Some(day) = layout::partition_day(folder) else {
                continue;
            };
            if layout::is_data_file(name) {
                let file = ListingTableUrl::parse(s3::key_url(&url.bucket, key))?;
                by_day.entry(day).or_default().push(file);
            }
        }
        if by_day.is_empty() && !state {
            return Err(LocalError::Dataset(format!(
                "`{url}` is not a trailq dataset (no event_date=YYYY-MM-DD partitions, no _trailq folder): point --data at the --out s3://… of `trailq export` or `trailq convert`"
            )));
        }
        let partitions = by_day
            .into_iter()
            .map(|(day, files)| Partition { day, files })
            .collect();
        let store_url = url::Url::parse(&format!("s3://{}", url.bucket))
            .map_err(|e| LocalError::Dataset(format!("{url}: {e}")))?;
        let store: Arc<dyn ObjectStore> = bucket.store.clone();
        Ok(Self::with_partitions(partitions, Some((store_url, store))))
    }

    fn with_partitions(
        mut partitions: Vec<Partition>,
        store: Option<(url::Url, Arc<dyn ObjectStore>)>,
    ) -> Dataset {
        partitions.sort_by_key(|p| p.day);
        let file_schema = event_schema();
        let plain = file_schema
            .fields()
            .iter()
            .filter(|f| !f.data_type().is_nested())
            .map(|f| (f.name().to_lowercase(), f.name().clone()))
            .collect();
        Dataset {
            stats: Arc::new(Mutex::new(ScanStats {
                partitions_total: partitions.len(),
                ..ScanStats::default()
            })),
            schema: lowercase_schema(&file_schema),
            partitions,
            plain,
            store,
        }
    }

    /// What the scans so far have read.
    pub fn stats(&self) -> Arc<Mutex<ScanStats>> {
        Arc::clone(&self.stats)
    }

    /// The first and last day in the dataset, `YYYY-MM-DD`.
    pub fn days(&self) -> Option<(String, String)> {
        Some((
            format_day(self.partitions.first()?.day),
            format_day(self.partitions.last()?.day),
        ))
    }

    /// True when every column `filter` reads is a plain top-level one, so that renaming the
    /// columns is all it takes to run it on the files.
    fn renamable(&self, filter: &Expr) -> bool {
        filter
            .column_refs()
            .iter()
            .all(|c| self.plain.contains_key(&c.name))
    }

    fn rename(&self, filter: &Expr) -> DfResult<Expr> {
        filter
            .clone()
            .transform(|e| match e {
                Expr::Column(c) => {
                    let name = self.plain.get(&c.name).cloned().unwrap_or(c.name);
                    Ok(Transformed::yes(Expr::Column(Column::new_unqualified(
                        name,
                    ))))
                }
                other => Ok(Transformed::no(other)),
            })
            .map(|t| t.data)
    }
}

#[async_trait]
impl TableProvider for Dataset {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DfResult<Vec<TableProviderFilterPushDown>> {
        // Inexact: the files' statistics prune, DataFusion still applies every filter.
        Ok(filters
            .iter()
            .map(|f| {
                if self.renamable(f) {
                    TableProviderFilterPushDown::Inexact
                } else {
                    TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let (from, to) = time_bounds(filters);
        let (from, to) = (from.map(day_of_micros), to.map(day_of_micros));
        let chosen: Vec<&Partition> = self
            .partitions
            .iter()
            .filter(|p| from.is_none_or(|f| p.day >= f) && to.is_none_or(|t| p.day <= t))
            .collect();
        let files: Vec<ListingTableUrl> = chosen
            .iter()
            .flat_map(|p| p.files.iter().cloned())
            .collect();
        {
            let mut stats = self.stats.lock().unwrap_or_else(|e| e.into_inner());
            for p in &chosen {
                if stats.days_read.insert(p.day) {
                    stats.partitions_read += 1;
                    stats.files_read += p.files.len();
                }
            }
        }
        if files.is_empty() {
            let schema = match projection {
                Some(p) => Arc::new(self.schema.project(p)?),
                None => Arc::clone(&self.schema),
            };
            return Ok(Arc::new(EmptyExec::new(schema)));
        }
        let mut options = TableParquetOptions::default();
        if self.store.is_none() {
            // A file's first read is its last bytes, for the footer: DataFusion reads 512 KiB to
            // save an S3 request or two, but a day's file of a real trail is ~2 MiB with a
            // ~6 KiB footer, and copying (and allocating) a quarter of every file was a fifth
            // of a query that prunes all row groups. A larger footer costs a second read.
            options.global.metadata_size_hint = Some(LOCAL_FOOTER_READ);
        }
        if selective(filters) {
            options.global.pushdown_filters = true;
            options.global.reorder_filters = true;
        }
        let format = ParquetFormat::default().with_options(options);
        let options = ListingOptions::new(Arc::new(format)).with_file_extension(".parquet");
        let config = ListingTableConfig::new_with_multi_paths(files)
            .with_listing_options(options)
            .with_schema(event_schema());
        let table = ListingTable::try_new(config)?;
        let pushed = filters
            .iter()
            .filter(|f| self.renamable(f))
            .map(|f| self.rename(f))
            .collect::<DfResult<Vec<_>>>()?;
        let plan = table.scan(state, projection, &pushed, limit).await?;
        let options = Arc::clone(state.config().options());
        Ok(Arc::new(Lowercased::new(plan, options)?))
    }
}

/// Bytes read from the end of a local data file to find its footer (BENCHMARKS.md, issue 15:
/// the library on the real-shaped export 3.87 -> 3.42 s against DataFusion's 512 KiB).
const LOCAL_FOOTER_READ: usize = 64 << 10;

/// Whether a scan's filters test more than the event source and time, so that filtering rows
/// while the Parquet reader decodes them (late materialisation: the other columns, such as the
/// `requestParameters` map, are decoded only for the rows that pass) pays for itself.
///
/// The event source alone does not: in an Inspector-heavy dataset most rows pass it, and the
/// reader is slower picking most rows out of a page than decoding the page and filtering after;
/// where the source is absent, its bloom filter already skips the row group. A test of the event
/// name, the error, the principal or any other column keeps few rows (measured per saved query on
/// both benchmark shapes, BENCHMARKS.md, issue 15).
fn selective(filters: &[Expr]) -> bool {
    filters
        .iter()
        .flat_map(|f| split_conjunction(f))
        .any(|conjunct| {
            conjunct.column_refs().iter().any(|c| {
                !c.name.eq_ignore_ascii_case(EVENT_SOURCE)
                    && !c.name.eq_ignore_ascii_case(EVENT_TIME)
            })
        })
}

/// A data file as a `file://` URL. `ListingTableUrl::parse` would read `[`, `*` or `?` in a
/// folder name (`ds[1]`) as a glob and list something else entirely.
fn file_url(path: &Path) -> DfResult<ListingTableUrl> {
    let url = url::Url::from_file_path(path).map_err(|()| {
        datafusion::error::DataFusionError::Execution(format!(
            "`{}` cannot be named as a file URL",
            path.display()
        ))
    })?;
    ListingTableUrl::try_new(url, None)
}

/// The tightest `[from, to]` (µs) the filters put on `eventTime`, from comparisons with a
/// constant; either end is open when nothing bounds it. Only used to choose day partitions, so
/// `<` and `<=` may both keep the bound's day.
fn time_bounds(filters: &[Expr]) -> (Option<i64>, Option<i64>) {
    let mut from: Option<i64> = None;
    let mut to: Option<i64> = None;
    let mut lower = |v: i64| from = Some(from.map_or(v, |f| f.max(v)));
    let mut upper = |v: i64| to = Some(to.map_or(v, |t| t.min(v)));
    for conjunct in filters.iter().flat_map(|f| split_conjunction(f)) {
        match conjunct {
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
                let (value, op) = match (is_event_time(left), is_event_time(right)) {
                    (true, false) => (micros(right), *op),
                    (false, true) => (micros(left), op.swap().unwrap_or(*op)),
                    _ => continue,
                };
                let Some(v) = value else { continue };
                match op {
                    Operator::Gt | Operator::GtEq => lower(v),
                    Operator::Lt | Operator::LtEq => upper(v),
                    Operator::Eq => {
                        lower(v);
                        upper(v);
                    }
                    _ => {}
                }
            }
            Expr::Between(Between {
                expr,
                negated: false,
                low,
                high,
            }) if is_event_time(expr) => {
                if let Some(v) = micros(low) {
                    lower(v);
                }
                if let Some(v) = micros(high) {
                    upper(v);
                }
            }
            _ => {}
        }
    }
    (from, to)
}

fn is_event_time(e: &Expr) -> bool {
    matches!(e, Expr::Column(c) if c.name.eq_ignore_ascii_case(EVENT_TIME))
}

/// A constant time: a timestamp or date literal, or text that parses as a time, maybe cast.
fn micros(e: &Expr) -> Option<i64> {
    match e {
        Expr::Literal(v, _) => match v {
            ScalarValue::TimestampSecond(Some(s), _) => s.checked_mul(1_000_000),
            ScalarValue::TimestampMillisecond(Some(ms), _) => ms.checked_mul(1_000),
            ScalarValue::TimestampMicrosecond(Some(us), _) => Some(*us),
            ScalarValue::TimestampNanosecond(Some(ns), _) => Some(ns.div_euclid(1_000)),
            ScalarValue::Date32(Some(d)) => i64::from(*d).checked_mul(86_400_000_000),
            ScalarValue::Utf8(Some(s))
            | ScalarValue::LargeUtf8(Some(s))
            | ScalarValue::Utf8View(Some(s)) => parse_time_or_day(s),
            _ => None,
        },
        Expr::Cast(Cast { expr, .. }) | Expr::TryCast(TryCast { expr, .. }) => micros(expr),
        _ => None,
    }
}

/// The Parquet reader's output with lowercase column and field names.
#[derive(Debug)]
struct Lowercased {
    input: Arc<dyn ExecutionPlan>,
    /// The output's column names when they are not the input's lowercased: a projection moved
    /// below keeps the names it gave (`element_at(…, 'accountId')` can be a join's key above).
    names: Option<Vec<String>>,
    /// The session's options, given to the function calls rebuilt in the file's spelling
    /// ([`in_file_names`]).
    options: Arc<ConfigOptions>,
    properties: Arc<PlanProperties>,
}

impl Lowercased {
    /// Over the scan: every name lowercased.
    fn new(input: Arc<dyn ExecutionPlan>, options: Arc<ConfigOptions>) -> DfResult<Self> {
        Lowercased::named(input, None, options)
    }

    /// Struct field names lowercased, column names `names` (or lowercased when `None`).
    fn named(
        input: Arc<dyn ExecutionPlan>,
        names: Option<Vec<String>>,
        options: Arc<ConfigOptions>,
    ) -> DfResult<Self> {
        let mut schema = lowercase_schema(&input.schema());
        if let Some(names) = &names {
            if names.len() != schema.fields().len() {
                return Err(DataFusionError::Internal(format!(
                    "LowercaseNames: {} names for {} columns",
                    names.len(),
                    schema.fields().len()
                )));
            }
            let fields: Vec<_> = schema
                .fields()
                .iter()
                .zip(names)
                .map(|(f, name)| f.as_ref().clone().with_name(name))
                .collect();
            schema = Arc::new(arrow::datatypes::Schema::new_with_metadata(
                fields,
                schema.metadata().clone(),
            ));
        }
        let partitions = input.properties().partitioning.partition_count();
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Ok(Lowercased {
            input,
            names,
            options,
            properties: Arc::new(properties),
        })
    }
}

impl DisplayAs for Lowercased {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "LowercaseNames")
    }
}

impl ExecutionPlan for Lowercased {
    fn name(&self) -> &str {
        "LowercaseNames"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
        _: ReplaceChildrenOptions,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(Lowercased::named(
            children.swap_remove(0),
            self.names.clone(),
            Arc::clone(&self.options),
        )?))
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(Lowercased::named(
            children.swap_remove(0),
            self.names.clone(),
            Arc::clone(&self.options),
        )?))
    }

    /// Lets a projection through to the Parquet scan below, its names in the file's spelling:
    /// the struct fields a statement reads (`userIdentity.arn`, which DataFusion's optimizer moves
    /// next to the scan) are then the only leaves decoded, not every field of `userIdentity`.
    /// The projection's output is relabelled to the names the projection gave (its aliases
    /// stay as they are: a computed column's name such as `element_at(…, 'accountId')` can be a
    /// join's key above).
    fn try_swapping_with_projection(
        &self,
        projection: &ProjectionExec,
    ) -> DfResult<Option<Arc<dyn ExecutionPlan>>> {
        let file_schema = self.input.schema();
        let mut exprs = Vec::with_capacity(projection.expr().len());
        for p in projection.expr() {
            let Some(expr) = in_file_names(&p.expr, &file_schema, &self.options)? else {
                return Ok(None);
            };
            // Only names may differ: a changed type would change the statement's answer.
            if lowercase_type(&expr.data_type(&file_schema)?) != p.expr.data_type(&self.schema())? {
                return Ok(None);
            }
            exprs.push(ProjectionExpr {
                expr,
                alias: p.alias.clone(),
            });
        }
        let names = projection.expr().iter().map(|p| p.alias.clone()).collect();
        let inner = ProjectionExec::try_new(exprs, Arc::clone(&self.input))?;
        Ok(Some(Arc::new(Lowercased::named(
            Arc::new(inner),
            Some(names),
            Arc::clone(&self.options),
        )?)))
    }

    /// Lets the statement's filters through to the Parquet scan, in the file's spelling: there
    /// they skip row groups by their statistics, page index and bloom filters (`eventSource`,
    /// `eventName`, `eventID`). A scan that filters rows while reading ([`selective`]) takes the
    /// filters over; otherwise the filters above still apply to every row that is read.
    fn gather_filters_for_pushdown(
        &self,
        _phase: FilterPushdownPhase,
        parent_filters: Vec<Arc<dyn PhysicalExpr>>,
        _config: &ConfigOptions,
    ) -> DfResult<FilterDescription> {
        let file_schema = self.input.schema();
        let renamed = parent_filters
            .iter()
            .map(|f| in_file_names(f, &file_schema, &self.options))
            .collect::<DfResult<Option<Vec<_>>>>()?;
        let child = match renamed {
            Some(renamed) => ChildFilterDescription::from_child(&renamed, &self.input)?,
            // A field the file does not have: keep every filter above, as before.
            None => ChildFilterDescription::all_unsupported(&parent_filters),
        };
        Ok(FilterDescription::new().with_child(child))
    }

    fn handle_child_pushdown_result(
        &self,
        _phase: FilterPushdownPhase,
        child_pushdown_result: ChildPushdownResult,
        _config: &ConfigOptions,
    ) -> DfResult<FilterPushdownPropagation<Arc<dyn ExecutionPlan>>> {
        Ok(FilterPushdownPropagation::if_all(child_pushdown_result))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let schema = self.schema();
        let batches = input.map(move |b| b.and_then(|b| Ok(relabel_batch(&b, &schema)?)));
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema(),
            batches,
        )))
    }
}

/// `expr` (over the lowercase schema) over `file_schema` instead: columns by the file's names,
/// struct fields in `get_field` by the file's spelling (map keys are data and stay). `None` when
/// a field cannot be found.
///
/// The `get_field` calls rebuilt get `options`, the session's own options (the same allocation
/// as every other call of the statement): DataFusion compares two function calls by their
/// options, and when those are not the same allocation it lists and sorts every option of both.
/// The Parquet reader compares the expressions of its projection for every file it opens (a
/// `coalesce` of struct fields is a `CASE` whose branches are compared), so a copy per call cost
/// ~1.4 ms a file.
fn in_file_names(
    expr: &Arc<dyn PhysicalExpr>,
    file_schema: &arrow::datatypes::Schema,
    options: &Arc<ConfigOptions>,
) -> DfResult<Option<Arc<dyn PhysicalExpr>>> {
    let mut unknown = false;
    let renamed = Arc::clone(expr).transform_up(|e| {
        if let Some(c) = e.downcast_ref::<ColumnExpr>() {
            let name = file_schema.field(c.index()).name();
            let column: Arc<dyn PhysicalExpr> = Arc::new(ColumnExpr::new(name, c.index()));
            return Ok(Transformed::yes(column));
        }
        let Some(f) = e.downcast_ref::<ScalarFunctionExpr>() else {
            return Ok(Transformed::no(e));
        };
        if f.name() != "get_field" || f.args().is_empty() {
            return Ok(Transformed::no(e));
        }
        let mut args = vec![Arc::clone(&f.args()[0])];
        let mut data_type = Some(f.args()[0].data_type(file_schema)?);
        for arg in &f.args()[1..] {
            let name = arg
                .downcast_ref::<Literal>()
                .and_then(|l| l.value().try_as_str().flatten());
            let field = match (&data_type, name) {
                (Some(arrow::datatypes::DataType::Struct(fields)), Some(name)) => fields
                    .iter()
                    .find(|f| f.name() == name)
                    .or_else(|| fields.iter().find(|f| f.name().eq_ignore_ascii_case(name))),
                // A map's key (or what follows it) is data: as written.
                _ => {
                    data_type = None;
                    args.push(Arc::clone(arg));
                    continue;
                }
            };
            let Some(field) = field else {
                unknown = true;
                return Ok(Transformed::no(e));
            };
            args.push(Arc::new(Literal::new(ScalarValue::Utf8(Some(
                field.name().clone(),
            )))));
            data_type = Some(field.data_type().clone());
        }
        let rebuilt: Arc<dyn PhysicalExpr> = Arc::new(ScalarFunctionExpr::try_new(
            Arc::new(f.fun().clone()),
            args,
            file_schema,
            Arc::clone(options),
        )?);
        Ok(Transformed::yes(rebuilt))
    })?;
    Ok((!unknown).then_some(renamed.data))
}

/// A statement started on the local engine.
pub struct Started {
    /// Lake's names for the result columns (None for `SELECT *`: the engine's names).
    pub column_names: Option<Vec<String>>,
    pub stream: SendableRecordBatchStream,
    pub stats: Arc<Mutex<ScanStats>>,
}

/// Plans `statement` (Lake dialect, `FROM` [`LOCAL_EDS`]) over `dataset` and starts it; the
/// results stream, so a large result is never all in memory. `now()` is `now_micros`.
pub async fn execute(
    dataset: Dataset,
    statement: &str,
    now_micros: i64,
) -> Result<Started, LocalError> {
    let prepared = dialect::prepare(statement, |name| {
        (name == LOCAL_EDS).then(|| TABLE.to_owned())
    })?;
    let stats = dataset.stats();
    let ctx = trailq_lake_sql::lake_context(now_micros);
    if let Some((url, store)) = &dataset.store {
        ctx.register_object_store(url, Arc::clone(store));
    }
    ctx.register_table(TABLE, Arc::new(dataset))?;
    let frame = ctx.sql(&prepared.sql).await?;
    let stream = frame.execute_stream().await?;
    Ok(Started {
        column_names: prepared.column_names,
        stream,
        stats,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::{col, lit};

    /// A dataset of two records, written by the sink as a convert would.
    fn two_records(root: &Path) {
        use crate::dataset::sink::{DatasetOptions, ParquetDatasetSink};
        use trailq_events::batch::EventBatchBuilder;
        use trailq_events::record::parse_record;
        let mut builder = EventBatchBuilder::new();
        // Two days, two files: as many file groups as the session's partitions, so the plan has
        // no repartitioning between the scan and the projection (as with a real export).
        for (id, day, arn, issuer) in [
            ("e1", 20, "arn:aws:iam::1:user/ana", "Admin"),
            ("e2", 21, "arn:aws:sts::1:assumed-role/r/x", "r"),
        ] {
            let text = format!(
                r#"{{"eventVersion":"1.09","eventTime":"2026-11-{day}T10:00:00Z","eventSource":"inspector2.amazonaws.com","eventName":"CreateFilter","eventID":"{id}","userIdentity":{{"type":"AssumedRole","arn":"{arn}","sessionContext":{{"sessionIssuer":{{"userName":"{issuer}"}}}}}},"requestParameters":{{"name":"f-{id}","action":"SUPPRESS"}}}}"#
            );
            builder.append(&parse_record(&text).unwrap(), &text);
        }
        let mut sink = ParquetDatasetSink::open(root, DatasetOptions::default()).unwrap();
        sink.write(&builder.finish()).unwrap();
        sink.finish().unwrap();
    }

    #[tokio::test]
    async fn struct_fields_are_read_alone_from_the_parquet_scan() {
        let dir = tempfile::tempdir().unwrap();
        two_records(dir.path());
        let sql = format!(
            "SELECT eventID, userIdentity.arn, userIdentity.sessionContext.sessionIssuer.userName AS issuer, element_at(requestParameters, 'name') AS name FROM {LOCAL_EDS} WHERE eventName = 'CreateFilter' ORDER BY eventID"
        );
        let (shown, text) = plan_and_answer(dir.path(), &sql).await;
        let scan = shown
            .lines()
            .find(|l| l.contains("DataSourceExec"))
            .expect("a Parquet scan");
        // The scan itself picks the two struct fields (in the file's spelling), so only those
        // leaves of `userIdentity` are decoded.
        assert!(scan.contains("get_field(userIdentity@"), "{shown}");
        assert!(scan.contains("sessionIssuer, userName)"), "{shown}");
        // And the filter, which skips row groups by their statistics and bloom filters.
        assert!(scan.contains("predicate=eventName@"), "{shown}");
        assert!(
            text.contains("| e1      | arn:aws:iam::1:user/ana"),
            "{text}"
        );
        assert!(text.contains("| Admin  | f-e1 |"), "{text}");
        assert!(text.contains("| r      | f-e2 |"), "{text}");
    }

    /// The physical plan of `sql` over `root`, as text, and its result as a table.
    async fn plan_and_answer(root: &Path, sql: &str) -> (String, String) {
        let prepared =
            dialect::prepare(sql, |n| (n == LOCAL_EDS).then(|| TABLE.to_owned())).unwrap();
        let ctx = trailq_lake_sql::lake_context(0);
        ctx.register_table(TABLE, Arc::new(Dataset::open(root).unwrap()))
            .unwrap();
        let frame = ctx.sql(&prepared.sql).await.unwrap();
        let plan = frame.clone().create_physical_plan().await.unwrap();
        let shown = datafusion::physical_plan::displayable(plan.as_ref())
            .indent(true)
            .to_string();
        let batches = frame.collect().await.unwrap();
        let text = arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        (shown, text)
    }

    #[tokio::test]
    async fn scans_that_test_more_than_the_source_filter_rows_while_reading() {
        let dir = tempfile::tempdir().unwrap();
        two_records(dir.path());
        // The event name: rows are filtered in the Parquet reader, no filter is left above it.
        let (shown, text) = plan_and_answer(
            dir.path(),
            &format!("SELECT eventID FROM {LOCAL_EDS} WHERE eventSource = 'inspector2.amazonaws.com' AND eventName = 'CreateFilter' AND eventID = 'e2'"),
        )
        .await;
        assert!(!shown.contains("FilterExec"), "{shown}");
        assert!(shown.contains("predicate=eventSource@"), "{shown}");
        assert!(
            text.contains("| e2      |") && !text.contains("e1"),
            "{text}"
        );
        // The source alone: the reader decodes whole pages and a filter above keeps the rows.
        let (shown, text) = plan_and_answer(
            dir.path(),
            &format!("SELECT eventID FROM {LOCAL_EDS} WHERE eventSource = 'inspector2.amazonaws.com' ORDER BY eventID"),
        )
        .await;
        assert!(shown.contains("FilterExec"), "{shown}");
        assert!(
            text.contains("| e1      |") && text.contains("| e2      |"),
            "{text}"
        );
    }

    /// A filtered scan's projection moves below the relabelling; a computed column's name (with
    /// capitals: `element_at(…,Utf8("name"))`) must stay as the join above knows it.
    #[tokio::test]
    async fn a_join_on_a_computed_key_of_a_filtered_scan_plans_and_answers() {
        let dir = tempfile::tempdir().unwrap();
        two_records(dir.path());
        let sql = format!(
            "WITH known AS (SELECT DISTINCT element_at(requestParameters, 'name') AS known_name FROM {LOCAL_EDS} WHERE eventID = 'e1')
             SELECT eventID, known_name FROM {LOCAL_EDS}
             LEFT JOIN known ON element_at(requestParameters, 'name') = known_name
             WHERE eventName = 'CreateFilter' ORDER BY eventID"
        );
        let (_, text) = plan_and_answer(dir.path(), &sql).await;
        assert!(text.contains("| e1      | f-e1       |"), "{text}");
        assert!(text.contains("| e2      |            |"), "{text}");
    }

    #[test]
    fn event_time_bounds_come_from_comparisons_with_constants() {
        let t = |s: &str| trailq_events::time::parse_timestamp_micros(s).unwrap();
        let ts = |s: &str| {
            lit(ScalarValue::TimestampMicrosecond(
                Some(t(s)),
                Some("UTC".into()),
            ))
        };
        let filters = [
            col("eventtime").gt_eq(ts("2026-11-01T00:00:00Z")),
            ts("2026-11-10T00:00:00Z").gt(col("eventtime")),
            col("eventtime")
                .lt(lit("2026-11-20 00:00:00"))
                .and(col("eventname").eq(lit("Disable"))),
            col("eventtime").gt(ts("2026-10-01T00:00:00Z")),
        ];
        assert_eq!(
            time_bounds(&filters),
            (
                Some(t("2026-11-01T00:00:00Z")),
                Some(t("2026-11-10T00:00:00Z"))
            )
        );
        assert_eq!(time_bounds(&[col("eventname").eq(lit("x"))]), (None, None));
        let between = col("eventtime").between(lit("2026-11-02"), lit("2026-11-03 12:00:00"));
        assert_eq!(
            time_bounds(&[between]),
            (
                Some(t("2026-11-02T00:00:00Z")),
                Some(t("2026-11-03T12:00:00Z"))
            )
        );
    }
}
