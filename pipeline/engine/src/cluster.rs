//! The engine's plans on an Apache Ballista cluster (issue #29): the codecs that ship them.
//!
//! Ballista sends each stage of a plan to its executors as protobuf. Built-in functions go by
//! name; the engine's key tests (`may_be_counted` and its kin, `prefilter.rs`) hold a filter
//! of the batch's members that no executor has, so they travel inside the plan: their bytes
//! are the filter's ([`prefilter::key_test_bytes`](crate::prefilter)), 2 MiB at 1M households.
//! Everything else is Ballista's own codec. The same codecs are installed in the scheduler,
//! in every executor and in the client session (`hedui cluster`, `hedui run --cluster`).

use std::sync::Arc;

use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::common::{Result, TableReference};
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Extension, LogicalPlan, ScalarUDF};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};

use crate::prefilter::{key_test_bytes, key_test_from};

/// The largest gRPC message the client, the scheduler and the executors send or take (Ballista's
/// default is 16 MiB). A plan carries each key test's filter (2 MiB at 1,000,000 households,
/// [`key_test_bytes`]), and the income query uses several: at 1,000,000 households its plan
/// outgrew 16 MiB.
pub const GRPC_MESSAGE_LIMIT: usize = 1 << 30;

/// A session whose queries run on the scheduler at `url` (`df://HOST:PORT`) with the engine's
/// settings and codecs. The scheduler is not reached until the first query
/// ([`executors`] checks it first).
pub(crate) fn session(
    url: &str,
    config: datafusion::prelude::SessionConfig,
    runtime: Arc<datafusion::execution::runtime_env::RuntimeEnv>,
) -> crate::Result<datafusion::prelude::SessionContext> {
    use ballista_core::extension::{SessionConfigExt, SessionStateExt};
    let scheduler = scheduler_url(url)?;
    let engine = config.options().optimizer.clone();
    let engine_execution = config.options().execution.clone();
    let engine_sql = config.options().sql_parser.clone();
    let mut config = config
        .upgrade_for_ballista()
        // Ballista's adaptive planner re-plans stages as their shuffles finish; on the
        // engine's plans its scheduler looped (10,000 households: 8 GiB and 20 minutes of
        // CPU, no task placed). The static planner runs the plan as the engine made it.
        .with_ballista_adaptive_query_planner(false)
        .with_ballista_logical_extension_codec(Arc::new(LogicalCodec::default()))
        .with_ballista_physical_extension_codec(Arc::new(PhysicalCodec::default()))
        .set_usize(
            ballista_core::config::BALLISTA_CLIENT_GRPC_MAX_MESSAGE_SIZE,
            GRPC_MESSAGE_LIMIT,
        );
    // Ballista's defaults replace some of the engine's settings; these are the engine's
    // again: strings read as the engine reads them here (views; Ballista turns them off), so
    // that every column has the type it has here and the outputs the same bytes, and the
    // thresholds under which one side of a join is built once. Joins stay sort-merge joins,
    // Ballista's default: with hash joins the 10,000-household batch lost households on
    // the cluster (the engine stopped: "evidence for H... but no such household in the
    // metrics"), and a hash join's build side cannot spill on an executor.
    let options = config.options_mut();
    options.execution.parquet.schema_force_view_types =
        engine_execution.parquet.schema_force_view_types;
    options.sql_parser.map_string_types_to_utf8view = engine_sql.map_string_types_to_utf8view;
    let optimizer = &mut options.optimizer;
    optimizer.hash_join_single_partition_threshold = engine.hash_join_single_partition_threshold;
    optimizer.hash_join_single_partition_threshold_rows =
        engine.hash_join_single_partition_threshold_rows;
    let planner = Conforming {
        inner: ballista_core::planner::BallistaQueryPlanner::<
            datafusion_proto::protobuf::LogicalPlanNode,
        >::with_extension(
            scheduler.clone(),
            config.ballista_config(),
            Arc::new(LogicalCodec::default()),
        ),
    };
    let config = config.with_ballista_query_planner(Arc::new(planner));
    let state = datafusion::execution::SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .build()
        .upgrade_for_ballista(scheduler)
        .map_err(crate::df_err)?;
    Ok(datafusion::prelude::SessionContext::new_with_state(state))
}

/// Ballista's planner, with the rows a query gives back put in the plan's own schema
/// ([`ConformExec`]).
#[derive(Debug)]
struct Conforming<P> {
    inner: P,
}

#[async_trait::async_trait]
impl<P: datafusion::execution::context::QueryPlanner + Send + Sync>
    datafusion::execution::context::QueryPlanner for Conforming<P>
{
    async fn create_physical_plan(
        &self,
        plan: &LogicalPlan,
        session: &dyn datafusion::catalog::Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let inner = self.inner.create_physical_plan(plan, session).await?;
        Ok(Arc::new(ConformExec::new(inner)))
    }
}

/// The rows of `input` in `schema` (the same columns, names and order; types may differ):
/// each column whose type differs is cast. Two uses:
/// - on the client, around the plan Ballista runs, with the plan's own schema: its Arrow
///   Flight transfers unpack dictionary columns (and may mark columns nullable), and the
///   engine's code downstream reads the columns as the plan declares them;
/// - in the plan the scheduler cuts into stages, around each stage boundary
///   ([`PlainAcrossStages`]): string views to strings below it, back above it. Partitioning
///   and orderings are the input's, so the joins above still find their inputs
///   co-partitioned and sorted.
#[derive(Debug)]
pub struct ConformExec {
    input: Arc<dyn ExecutionPlan>,
    schema: SchemaRef,
    properties: Arc<datafusion::physical_plan::PlanProperties>,
}

impl ConformExec {
    fn new(input: Arc<dyn ExecutionPlan>) -> Self {
        let schema = input.schema();
        ConformExec {
            properties: input.properties().clone(),
            input,
            schema,
        }
    }

    fn to(input: Arc<dyn ExecutionPlan>, schema: SchemaRef) -> Self {
        use datafusion::physical_expr::EquivalenceProperties;
        let from = input.properties();
        let orderings = from
            .eq_properties
            .oeq_class()
            .iter()
            .cloned()
            .collect::<Vec<_>>();
        let properties = datafusion::physical_plan::PlanProperties::new(
            EquivalenceProperties::new_with_orderings(schema.clone(), orderings),
            from.partitioning.clone(),
            from.emission_type,
            from.boundedness,
        );
        ConformExec {
            input,
            schema,
            properties: Arc::new(properties),
        }
    }

    /// The columns cast (per column: 0 as is, 1 to a string view, 2 to a string), the
    /// codec's bytes after [`CONFORM_TAG`].
    fn casts(&self) -> Vec<u8> {
        let from = self.input.schema();
        from.fields()
            .iter()
            .zip(self.schema.fields())
            .map(|(f, t)| {
                if f.data_type() == t.data_type() {
                    0
                } else if plain_type(t.data_type()).is_some() {
                    1
                } else {
                    2
                }
            })
            .collect()
    }

    /// The node [`casts`](Self::casts) describes, over `input`.
    fn from_casts(input: Arc<dyn ExecutionPlan>, casts: &[u8]) -> Result<Self> {
        use datafusion::arrow::datatypes::DataType;
        let from = input.schema();
        if casts.len() != from.fields().len() {
            return Err(datafusion::error::DataFusionError::Internal(format!(
                "ConformExec: {} casts for {} columns",
                casts.len(),
                from.fields().len()
            )));
        }
        let fields = from
            .fields()
            .iter()
            .zip(casts)
            .map(|(f, c)| {
                let t = match (c, f.data_type()) {
                    (0, t) => t.clone(),
                    (1, DataType::Utf8) => DataType::Utf8View,
                    (1, DataType::Binary) => DataType::BinaryView,
                    (2, t) if plain_type(t).is_some() => plain_type(t).unwrap_or(DataType::Null),
                    (c, t) => {
                        return Err(datafusion::error::DataFusionError::Internal(format!(
                            "ConformExec: cast {c} of a {t} column"
                        )));
                    }
                };
                Ok(Arc::new(f.as_ref().clone().with_data_type(t)))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(ConformExec::to(
            input,
            Arc::new(datafusion::arrow::datatypes::Schema::new(fields)),
        ))
    }
}

/// How the physical codec knows a [`ConformExec`].
const CONFORM_TAG: &[u8] = b"hedui.conform:";

/// `batch` in `schema`: the columns whose type differs cast to the declared one.
fn conform(
    schema: &SchemaRef,
    batch: datafusion::arrow::array::RecordBatch,
) -> Result<datafusion::arrow::array::RecordBatch> {
    if batch.schema().as_ref() == schema.as_ref() {
        return Ok(batch);
    }
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(c, f)| {
            if c.data_type() == f.data_type() {
                Ok(c.clone())
            } else {
                datafusion::arrow::compute::cast(c, f.data_type())
            }
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let options =
        datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    Ok(datafusion::arrow::array::RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &options,
    )?)
}

impl datafusion::physical_plan::DisplayAs for ConformExec {
    fn fmt_as(
        &self,
        _: datafusion::physical_plan::DisplayFormatType,
        f: &mut std::fmt::Formatter,
    ) -> std::fmt::Result {
        write!(f, "ConformExec")
    }
}

impl ExecutionPlan for ConformExec {
    fn name(&self) -> &str {
        "ConformExec"
    }

    fn properties(&self) -> &Arc<datafusion::physical_plan::PlanProperties> {
        &self.properties
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _: &mut dyn FnMut(
            &Arc<dyn datafusion::physical_plan::PhysicalExpr>,
        ) -> Result<datafusion::common::tree_node::TreeNodeRecursion>,
    ) -> Result<datafusion::common::tree_node::TreeNodeRecursion> {
        Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match children.pop() {
            Some(input) if children.is_empty() => {
                Ok(Arc::new(ConformExec::to(input, self.schema.clone())))
            }
            _ => Err(datafusion::error::DataFusionError::Internal(
                "ConformExec has one input".into(),
            )),
        }
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<datafusion::execution::SendableRecordBatchStream> {
        use futures::StreamExt;
        let schema = self.schema.clone();
        let stream = self.input.execute(partition, context)?;
        let to = schema.clone();
        Ok(Box::pin(
            datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(
                schema,
                stream.map(move |b| b.and_then(|b| conform(&to, b))),
            ),
        ))
    }
}

/// The scheduler's session (`hedui cluster scheduler`): Ballista's, with [`PlainAcrossStages`]
/// as the last physical rule.
pub fn scheduler_session(
    config: datafusion::prelude::SessionConfig,
) -> Result<datafusion::execution::SessionState> {
    let state = ballista_core::utils::default_session_builder(config)?;
    Ok(
        datafusion::execution::SessionStateBuilder::new_from_existing(state)
            .with_physical_optimizer_rule(Arc::new(PlainAcrossStages))
            .build(),
    )
}

/// String-view columns cross Ballista's stage boundaries as plain strings.
///
/// A string-view column that `take` or `interleave` made (a hash repartition, a sort, a
/// merge) keeps every data buffer of the batches it came from, and Ballista 55's shuffle
/// writers write whole buffers: at 1,000,000 households the first stage's shuffle files
/// outgrew 12 GB, and at 100,000 one batch of rows sent back outgrew gRPC's 16 MiB. So the
/// input of every stage boundary the scheduler cuts (a hash repartition, a coalesce, a
/// sort-preserving merge) and the plan's own output carry those columns as `Utf8`/`Binary`,
/// which the writers copy row by row, and the next stage casts them back. Column names,
/// row order and hash values are the same (both string types hash their bytes), so the
/// rows, and the outputs, are those of the local engine; the client casts the output back
/// to the plan's types ([`ConformExec`]).
#[derive(Debug)]
pub struct PlainAcrossStages;

impl datafusion::physical_optimizer::PhysicalOptimizerRule for PlainAcrossStages {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _: &datafusion::config::ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        use datafusion::common::tree_node::{Transformed, TreeNode};
        let cut = plan
            .transform_up(|node| {
                let boundary = is_stage_boundary(&node);
                let [child] = node.children()[..] else {
                    return Ok(Transformed::no(node));
                };
                if !boundary || !has_views(&child.schema()) {
                    return Ok(Transformed::no(node));
                }
                let schema = node.schema();
                let crossed = datafusion::physical_plan::replace_children_if_necessary(
                    node.clone(),
                    vec![as_plain(child.clone())?],
                )?;
                Ok(Transformed::yes(cast_to(crossed, &schema)?))
            })?
            .data;
        if has_views(&cut.schema()) {
            as_plain(cut)
        } else {
            Ok(cut)
        }
    }

    fn name(&self) -> &str {
        "hedui_plain_across_stages"
    }

    fn schema_check(&self) -> bool {
        // The plan's own output changes type (strings for string views).
        false
    }
}

/// Whether Ballista's scheduler cuts the plan into stages at `node` (a hash repartition, a
/// coalesce, a sort-preserving merge: `DistributedPlanner`).
fn is_stage_boundary(node: &Arc<dyn ExecutionPlan>) -> bool {
    use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
    use datafusion::physical_plan::repartition::RepartitionExec;
    use datafusion::physical_plan::sorts::sort_preserving_merge::SortPreservingMergeExec;
    node.downcast_ref::<CoalescePartitionsExec>().is_some()
        || node.downcast_ref::<SortPreservingMergeExec>().is_some()
        || node.downcast_ref::<RepartitionExec>().is_some_and(|r| {
            matches!(
                r.partitioning(),
                datafusion::physical_plan::Partitioning::Hash(..)
            )
        })
}

fn plain_type(
    t: &datafusion::arrow::datatypes::DataType,
) -> Option<datafusion::arrow::datatypes::DataType> {
    use datafusion::arrow::datatypes::DataType;
    match t {
        DataType::Utf8View => Some(DataType::Utf8),
        DataType::BinaryView => Some(DataType::Binary),
        _ => None,
    }
}

fn has_views(schema: &SchemaRef) -> bool {
    schema
        .fields()
        .iter()
        .any(|f| plain_type(f.data_type()).is_some())
}

/// `input` with its view columns as plain ones; a cast back made here is undone instead.
fn as_plain(input: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
    if let Some(back) = input.downcast_ref::<ConformExec>()
        && back.casts().iter().all(|&c| c != 2)
    {
        return Ok(back.input.clone());
    }
    let schema = input.schema();
    let target = datafusion::arrow::datatypes::Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| match plain_type(f.data_type()) {
                Some(t) => Arc::new(f.as_ref().clone().with_data_type(t)),
                None => f.clone(),
            })
            .collect::<Vec<_>>(),
    );
    cast_to(input, &Arc::new(target))
}

/// `input`'s rows in the types of `schema` (same names, same order).
fn cast_to(input: Arc<dyn ExecutionPlan>, schema: &SchemaRef) -> Result<Arc<dyn ExecutionPlan>> {
    Ok(Arc::new(ConformExec::to(input, schema.clone())))
}

pub use hedui_schemas::batch::ClusterExecutor as Executor;

/// The executors registered with the scheduler at `url`, in id order, asked of its REST API
/// (`/api/executors`, served on the scheduler's port). Fails when the scheduler does not
/// answer within 10 s or does not answer as a Ballista scheduler.
pub async fn executors(url: &str) -> crate::Result<Vec<Executor>> {
    use http_body_util::BodyExt;
    #[derive(serde::Deserialize)]
    struct Spec {
        vcores: u32,
    }
    #[derive(serde::Deserialize)]
    struct Registered {
        id: String,
        host: String,
        port: u16,
        specification: Spec,
    }
    let fail = |reason: String| crate::Error::Cluster {
        url: url.to_string(),
        reason,
    };
    let uri: hyper::Uri = format!("{}/api/executors", scheduler_url(url)?)
        .parse()
        .map_err(|e| fail(format!("{e}")))?;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let asked = async {
        let response = client.get(uri).await.map_err(|e| {
            use std::error::Error as _;
            let cause = e.source().map(|s| format!(": {s}")).unwrap_or_default();
            fail(format!("the scheduler does not answer ({e}{cause})"))
        })?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| fail(format!("reading the scheduler's answer: {e}")))?
            .to_bytes();
        if !status.is_success() {
            return Err(fail(format!(
                "the scheduler answered {status} to /api/executors (is it `hedui cluster \
                 scheduler`, or a Ballista scheduler with its REST API?)"
            )));
        }
        Ok(body)
    };
    let body = tokio::time::timeout(std::time::Duration::from_secs(10), asked)
        .await
        .map_err(|_| fail("the scheduler did not answer within 10 s".into()))??;
    let registered: Vec<Registered> = serde_json::from_slice(&body).map_err(|e| {
        fail(format!(
            "the scheduler's list of executors does not read: {e}"
        ))
    })?;
    let mut out: Vec<Executor> = registered
        .into_iter()
        .map(|r| Executor {
            id: r.id,
            host: r.host,
            port: r.port,
            slots: r.specification.vcores,
        })
        .collect();
    out.sort();
    Ok(out)
}

/// The scheduler's gRPC address, `http://HOST:PORT`, of `df://HOST:PORT` (or `HOST:PORT`).
pub fn scheduler_url(url: &str) -> crate::Result<String> {
    let bad = |why: &str| crate::Error::Cluster {
        url: url.to_string(),
        reason: why.to_string(),
    };
    let rest = url
        .strip_prefix("df://")
        .unwrap_or(url)
        .trim_end_matches('/');
    let (host, port) = rest
        .rsplit_once(':')
        .ok_or_else(|| bad("expected df://HOST:PORT"))?;
    let port: u16 = port.parse().map_err(|_| bad("the port is not a number"))?;
    if host.is_empty() || host.contains('/') {
        return Err(bad("no host"));
    }
    Ok(format!("http://{host}:{port}"))
}

/// The function `name` from `buf`: a key test from its filter's bytes, else `otherwise`
/// (Ballista's codec).
fn decode_udf(
    name: &str,
    buf: &[u8],
    otherwise: impl FnOnce() -> Result<Arc<ScalarUDF>>,
) -> Result<Arc<ScalarUDF>> {
    match key_test_from(name, buf) {
        Some(udf) => Ok(Arc::new(udf)),
        None => otherwise(),
    }
}

/// `node` into `buf`: a key test as its filter's bytes, else by `otherwise` (Ballista's
/// codec).
fn encode_udf(
    node: &ScalarUDF,
    buf: &mut Vec<u8>,
    otherwise: impl FnOnce(&mut Vec<u8>) -> Result<()>,
) -> Result<()> {
    match key_test_bytes(node) {
        Some(bytes) => {
            buf.extend_from_slice(&bytes);
            Ok(())
        }
        None => otherwise(buf),
    }
}

/// Ballista's logical codec, with the engine's key tests.
#[derive(Debug, Default)]
pub struct LogicalCodec {
    inner: BallistaLogicalExtensionCodec,
}

impl LogicalExtensionCodec for LogicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        self.inner.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        self.inner
            .try_decode_table_provider(buf, table_ref, schema, ctx)
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        self.inner.try_encode_table_provider(table_ref, node, buf)
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn FileFormatFactory>> {
        self.inner.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> Result<()> {
        self.inner.try_encode_file_format(buf, node)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        decode_udf(name, buf, || self.inner.try_decode_udf(name, buf))
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        encode_udf(node, buf, |buf| self.inner.try_encode_udf(node, buf))
    }
}

/// Ballista's physical codec (its shuffle nodes), with the engine's key tests.
#[derive(Debug, Default)]
pub struct PhysicalCodec {
    inner: BallistaPhysicalExtensionCodec,
}

impl PhysicalExtensionCodec for PhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match (buf.strip_prefix(CONFORM_TAG), inputs) {
            (Some(casts), [input]) => Ok(Arc::new(ConformExec::from_casts(input.clone(), casts)?)),
            _ => self.inner.try_decode(buf, inputs, ctx, proto_converter),
        }
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        if let Some(conform) = node.downcast_ref::<ConformExec>() {
            buf.extend_from_slice(CONFORM_TAG);
            buf.extend(conform.casts());
            return Ok(());
        }
        self.inner.try_encode(node, buf, proto_converter)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        decode_udf(name, buf, || self.inner.try_decode_udf(name, buf))
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        encode_udf(node, buf, |buf| self.inner.try_encode_udf(node, buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, RecordBatch, StringViewArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::prelude::{SessionConfig, SessionContext};

    /// Two tables of string-view keys and payloads in three partitions of small batches.
    fn context(config: SessionConfig) -> SessionContext {
        let ctx = SessionContext::new_with_config(config);
        for (name, n, payload) in [("a", 500, "v"), ("b", 300, "w")] {
            let schema = Arc::new(Schema::new(vec![
                Field::new("k", DataType::Utf8View, false),
                Field::new(payload, DataType::Utf8View, true),
                Field::new("n", DataType::Int64, false),
            ]));
            let partitions = (0..3)
                .map(|p| {
                    (0..n / 50)
                        .filter(|b| b % 3 == p)
                        .map(|b| {
                            let rows = b * 50..(b + 1) * 50;
                            let k = rows.clone().map(|i| format!("key-{:05}", i % 97));
                            let v = rows.clone().map(|i| {
                                (i % 11 != 0).then(|| format!("{payload} {i} a longer text"))
                            });
                            RecordBatch::try_new(
                                schema.clone(),
                                vec![
                                    Arc::new(k.map(Some).collect::<StringViewArray>()),
                                    Arc::new(v.collect::<StringViewArray>()),
                                    Arc::new(Int64Array::from_iter_values(rows.map(|i| i as i64))),
                                ],
                            )
                            .unwrap()
                        })
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>();
            let table =
                datafusion::datasource::MemTable::try_new(schema.clone(), partitions).unwrap();
            ctx.register_table(name, Arc::new(table)).unwrap();
        }
        ctx
    }

    fn config() -> SessionConfig {
        let mut config = SessionConfig::new()
            .with_target_partitions(3)
            .with_batch_size(64);
        config.options_mut().optimizer.prefer_hash_join = false;
        config
    }

    /// Every input of a stage boundary, and the plan's output, free of string views.
    fn plain_across(plan: &Arc<dyn ExecutionPlan>, boundaries: &mut usize) {
        let boundary = is_stage_boundary(plan);
        for child in plan.children() {
            if boundary {
                *boundaries += 1;
                assert!(
                    !has_views(&child.schema()),
                    "{} reads string views",
                    plan.name()
                );
            }
            plain_across(child, boundaries);
        }
    }

    #[tokio::test]
    async fn the_scheduler_s_plans_cross_stages_in_plain_strings_with_the_same_rows() {
        let sql = "SELECT a.k, a.v, b.w, a.n + b.n AS s FROM a JOIN b ON a.k = b.k \
                   UNION ALL SELECT k, max(v), min(w), count(*) FROM a JOIN b USING (k) GROUP BY k \
                   ORDER BY k, v, w, s";
        let local = context(config());
        let expected = local.sql(sql).await.unwrap().collect().await.unwrap();
        let scheduler = scheduler_session(config()).unwrap();
        let ctx = context(config());
        let ctx = SessionContext::new_with_state(
            datafusion::execution::SessionStateBuilder::new_from_existing(scheduler)
                .with_catalog_list(ctx.state().catalog_list().clone())
                .build(),
        );
        let df = ctx.sql(sql).await.unwrap();
        let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        // Planned by the scheduler's session: its invariant checks run after our rule.
        let plan = df.create_physical_plan().await.unwrap();
        let mut boundaries = 0;
        plain_across(&plan, &mut boundaries);
        assert!(boundaries >= 4, "{boundaries} boundaries");
        assert!(!has_views(&plan.schema()));
        assert!(has_views(&schema));
        let got = datafusion::physical_plan::collect(
            Arc::new(ConformExec::to(plan, schema.clone())),
            ctx.task_ctx(),
        )
        .await
        .unwrap();
        assert_eq!(got[0].schema(), expected[0].schema());
        assert_eq!(
            datafusion::arrow::util::pretty::pretty_format_batches(&got)
                .unwrap()
                .to_string(),
            datafusion::arrow::util::pretty::pretty_format_batches(&expected)
                .unwrap()
                .to_string()
        );
        assert!(got.iter().map(|b| b.num_rows()).sum::<usize>() > 97);
    }

    #[test]
    fn the_codec_carries_a_conform_node_to_the_executors() {
        let plain = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Utf8, false),
            Field::new("b", DataType::Binary, true),
            Field::new("n", DataType::Int64, false),
            Field::new("s", DataType::Utf8, true),
        ]));
        let views = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Utf8View, false),
            Field::new("b", DataType::BinaryView, true),
            Field::new("n", DataType::Int64, false),
            Field::new("s", DataType::Utf8, true),
        ]));
        let codec = PhysicalCodec::default();
        let ctx = SessionContext::new();
        for (from, to) in [(&plain, &views), (&views, &plain)] {
            let empty = Arc::new(datafusion::physical_plan::empty::EmptyExec::new(
                from.clone(),
            ));
            let node: Arc<dyn ExecutionPlan> = Arc::new(ConformExec::to(empty, (*to).clone()));
            let bytes =
                datafusion_proto::bytes::physical_plan_to_bytes_with_extension_codec(node, &codec)
                    .unwrap();
            let back = datafusion_proto::bytes::physical_plan_from_bytes_with_extension_codec(
                &bytes,
                &ctx.task_ctx(),
                &codec,
            )
            .unwrap();
            assert!(back.downcast_ref::<ConformExec>().is_some());
            assert_eq!(back.schema(), *to);
            assert_eq!(back.children()[0].schema(), *from);
        }
    }
}
