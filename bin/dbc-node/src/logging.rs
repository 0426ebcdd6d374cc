//! Logs an operator can ship (issue #19 item 4): colour only on a terminal, one JSON object per
//! line with `--log.format json`, and a periodic status line.

use dbc_node_lib::Node;
use std::{fmt, time::Duration};
use tracing::{
    Event, Subscriber,
    field::{Field, Visit},
};
use tracing_subscriber::{
    EnvFilter,
    fmt::{
        FmtContext, FormatEvent, FormatFields,
        format::Writer,
        time::{FormatTime, SystemTime},
    },
    registry::LookupSpan,
};

/// `--log.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines (coloured only when stdout is a terminal).
    Terminal,
    /// One JSON object per line: `timestamp`, `level`, `target`, `message` and the fields.
    Json,
}

/// Installs the global subscriber.
pub(crate) fn init(filter: EnvFilter, format: LogFormat) {
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Terminal => builder.with_target(false).with_ansi(ansi).init(),
        LogFormat::Json => builder.with_ansi(false).event_format(JsonLines).init(),
    }
}

/// Formats an event as one JSON object.
struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut timestamp = String::new();
        SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
        let meta = event.metadata();
        let mut line = serde_json::Map::new();
        line.insert("timestamp".into(), timestamp.into());
        line.insert("level".into(), meta.level().as_str().into());
        line.insert("target".into(), meta.target().into());
        event.record(&mut JsonFields(&mut line));
        writeln!(writer, "{}", serde_json::Value::Object(line))
    }
}

/// Records an event's fields into the line (its message as `message`).
struct JsonFields<'a>(&'a mut serde_json::Map<String, serde_json::Value>);

impl Visit for JsonFields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}").into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
}

/// Logs a status line every `every`: head, finalized block, peers (proof of stake), pool
/// sizes and the transactions per second included since the last line.
pub(crate) fn spawn_status(node: &Node, every: Duration) {
    let (chain, pool, net) = (node.chain.clone(), node.pool.clone(), node.net.clone());
    tokio::spawn(async move {
        let mut events = chain.subscribe();
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        let mut txs: u64 = 0;
        loop {
            tokio::select! {
                ev = events.recv() => match ev {
                    Ok(dbc_node_lib::ChainEvent::Committed(b)) => {
                        txs = txs.saturating_add(b.block.transactions.len() as u64);
                    }
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
                _ = tick.tick() => {
                    let status = pool.status();
                    let peers = net.as_ref().map(|n| n.peers.load(std::sync::atomic::Ordering::Relaxed));
                    tracing::info!(
                        head = chain.head_number(),
                        finalized = ?chain.finalized(),
                        peers = ?peers,
                        pending = status.pending,
                        queued = status.queued,
                        tx_per_sec = format!("{:.1}", txs as f64 / every.as_secs_f64()),
                        "status"
                    );
                    txs = 0;
                }
            }
        }
    });
}
