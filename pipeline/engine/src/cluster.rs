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
        .with_ballista_physical_extension_codec(Arc::new(PhysicalCodec::default()));
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

/// The rows of `input` in its declared schema. Ballista's Arrow Flight transfers unpack
/// dictionary columns (and may mark columns nullable): the engine's code downstream reads
/// the columns as the plan declares them, and its outputs must not depend on where the
/// plan ran, so each column is cast back to its declared type.
#[derive(Debug)]
struct ConformExec {
    input: Arc<dyn ExecutionPlan>,
}

impl ConformExec {
    fn new(input: Arc<dyn ExecutionPlan>) -> Self {
        ConformExec { input }
    }
}

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
        self.input.properties()
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
            Some(input) if children.is_empty() => Ok(Arc::new(ConformExec::new(input))),
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
        let schema = self.input.schema();
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
        self.inner.try_decode(buf, inputs, ctx, proto_converter)
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        self.inner.try_encode(node, buf, proto_converter)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        decode_udf(name, buf, || self.inner.try_decode_udf(name, buf))
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        encode_udf(node, buf, |buf| self.inner.try_encode_udf(node, buf))
    }
}
