//! The audit trail: security events as tracing events with target
//! `otpgate::audit`, written by [`AuditLayer`] as one JSON object per line
//! to `[log] audit_file` (appended, reopened on SIGHUP for logrotate) or to
//! standard error. Each line has `time`, `event`, the client's address, a
//! masked phone and the endpoint, plus the fields of the spans the event
//! happened in (so a request span's `request_id`, `user_agent`, `route`
//! appear on every event of that request). The event functions take typed
//! values only, so a code, cookie or secret cannot be passed to them.
//! A write that fails is counted, logged and reported (see `audit/health.rs`).

mod events;
mod health;

pub use health::{writable, write_failures};

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::{filter_fn, Filtered};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::conn::ConnInfo;
use crate::phone::mask;
use crate::session::Session;

pub use events::TARGET;
pub use events::{
    challenge_voided, code_sent, failed, fingerprint_blocked, phone_refused, prefix_blocked,
    rate_limited, verified, would_block, PhoneTags, Scope, Who,
};

/// `SIGXFSZ` on Linux (all but MIPS) and the BSDs, macOS included.
#[cfg(not(any(target_arch = "mips", target_arch = "mips64")))]
const SIGXFSZ: i32 = 25;
#[cfg(any(target_arch = "mips", target_arch = "mips64"))]
const SIGXFSZ: i32 = 31;

pub fn started(version: &'static str) {
    tracing::info!(target: TARGET, event = "started", version);
}

/// Tries the trail again while it is failing (`/readyz`, and a sign-in
/// under `audit_required`): nothing else would write to it, so without
/// this a trail that recovered would never be found writable again.
/// Returns whether the trail is writable now.
pub fn probe() -> bool {
    if !writable() {
        tracing::info!(target: TARGET, event = "audit_probe");
    }
    writable()
}

pub fn session_issued(s: &Session, conn: ConnInfo) {
    tracing::info!(target: TARGET, event = "session_issued", phone = %mask(&s.phone), expires_at = s.expires_at, peer = %conn.peer.ip());
}

/// A held request's life (own/held.rs): `held`, `replayed`,
/// `hold_expired`, `hold_refused`. The path only: a query or body may
/// carry personal data.
pub fn hold(event: &'static str, target: &str, phone: Option<&str>, conn: ConnInfo) {
    let path = target.split('?').next().unwrap_or("");
    let phone = phone.map(mask).unwrap_or_default();
    tracing::info!(target: TARGET, event, route = %path, phone = %phone, peer = %conn.peer.ip());
}

/// A protected request that was not held: `too_large`, or `cross_site`
/// (sent from another site's page: held and replayed with this browser's
/// cookies, it would be a forged order).
pub fn hold_refused(reason: &'static str, target: &str, conn: ConnInfo) {
    let path = target.split('?').next().unwrap_or("");
    tracing::info!(target: TARGET, event = "hold_refused", reason, route = %path, peer = %conn.peer.ip());
}

/// One call of the admin API, refused ones included: who (`admin`, the
/// bearer of `[admin] token`, or `unauthenticated`), from where, what on
/// which phone (masked) or prefix, and the answer's status.
pub fn admin_call(
    who: &'static str,
    peer: IpAddr,
    action: &'static str,
    subject: Option<&str>,
    status: u16,
) {
    tracing::info!(target: TARGET, event = "admin_api", who, peer = %peer, action, subject, status);
}

pub fn logout(s: &Session, conn: ConnInfo) {
    tracing::info!(target: TARGET, event = "logout", phone = %mask(&s.phone), peer = %conn.peer.ip());
}

/// Where audit lines go. Cloning shares the destination.
#[derive(Clone)]
pub struct AuditSink(Arc<Mutex<Out>>);

enum Out {
    Stderr,
    File { path: PathBuf, file: File },
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl AuditSink {
    pub fn stderr() -> Self {
        AuditSink(Arc::new(Mutex::new(Out::Stderr)))
    }

    pub fn file(path: &Path) -> io::Result<Self> {
        let file = open_append(path)?;
        Ok(AuditSink(Arc::new(Mutex::new(Out::File {
            path: path.to_path_buf(),
            file,
        }))))
    }

    /// Opens the file again by name (after logrotate moved it). On error
    /// the old file stays in use, so no line is lost.
    pub fn reopen(&self) -> io::Result<()> {
        let mut out = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Out::File { path, file } = &mut *out {
            *file = open_append(path)?;
        }
        Ok(())
    }

    fn write_line(&self, line: &str) {
        let mut out = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // One write per line: with O_APPEND, lines from several processes
        // do not interleave.
        let written = match &mut *out {
            Out::Stderr => io::stderr().lock().write_all(line.as_bytes()),
            Out::File { file, .. } => file.write_all(line.as_bytes()),
        };
        drop(out);
        health::record(written);
    }
}

/// Takes over SIGHUP now (so a rotation signal can no longer end the
/// process) and returns the task that reopens `sink` on each one. Call it
/// inside a Tokio runtime and run the task on that runtime.
pub fn reopen_on_sighup(
    sink: AuditSink,
) -> io::Result<impl std::future::Future<Output = ()> + Send> {
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    // A write past `RLIMIT_FSIZE` raises SIGXFSZ, whose default action
    // ends the process; with a handler installed the write fails with
    // EFBIG instead, which the trail counts, logs and reports.
    let mut xfsz = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(SIGXFSZ))?;
    tokio::spawn(async move { while xfsz.recv().await.is_some() {} });
    Ok(async move {
        while hup.recv().await.is_some() {
            match sink.reopen() {
                Ok(()) => tracing::info!(target: health::LOG_TARGET, "audit file reopened"),
                Err(e) => {
                    tracing::error!(target: health::LOG_TARGET, error = %e, "cannot reopen the audit file; still writing to the old one")
                }
            }
        }
    })
}

/// Writes audit events as JSON lines; sees every span (for its fields)
/// but only events with target [`TARGET`].
pub struct AuditLayer {
    sink: AuditSink,
}

type AuditFilter = tracing_subscriber::filter::FilterFn<fn(&tracing::Metadata<'_>) -> bool>;

/// The request an audit event belongs to, for the lines' `request_id`,
/// `route` and `user_agent`. The request span carries them too, but a
/// span another layer's filter also enables can reach this layer without
/// its fields (seen at the default `info` level), so the request's task
/// carries them as well (gateway.rs sets it for `/.otpgate/*`).
#[derive(Debug, Clone)]
pub struct RequestFacts {
    pub request_id: String,
    pub route: String,
    pub user_agent: String,
}

tokio::task_local! {
    pub static REQUEST: RequestFacts;
}

fn audit_or_span(m: &tracing::Metadata<'_>) -> bool {
    m.is_span() || m.target() == TARGET
}

impl AuditLayer {
    /// The layer with its own filter, independent of the log level.
    pub fn new<S>(sink: AuditSink) -> Filtered<AuditLayer, AuditFilter, S>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        AuditLayer { sink }.with_filter(filter_fn(
            audit_or_span as fn(&tracing::Metadata<'_>) -> bool,
        ))
    }
}

/// A span's fields, kept in its extensions.
struct SpanFields(Map<String, Value>);

struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl Visit for JsonVisitor<'_> {
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
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
}

impl<S> Layer<S> for AuditLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = Map::new();
        attrs.record(&mut JsonVisitor(&mut fields));
        span.extensions_mut().insert(SpanFields(fields));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        if let Some(f) = ext.get_mut::<SpanFields>() {
            values.record(&mut JsonVisitor(&mut f.0));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if event.metadata().target() != TARGET {
            return;
        }
        let mut line = Map::new();
        line.insert(
            "time".into(),
            humantime::format_rfc3339_millis(SystemTime::now())
                .to_string()
                .into(),
        );
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(f) = span.extensions().get::<SpanFields>() {
                    line.extend(f.0.clone());
                }
            }
        }
        if !line.contains_key("request_id") {
            let _ = REQUEST.try_with(|r| {
                line.insert("request_id".into(), r.request_id.clone().into());
                line.insert("route".into(), r.route.clone().into());
                line.insert("user_agent".into(), r.user_agent.clone().into());
            });
        }
        event.record(&mut JsonVisitor(&mut line));
        let mut text = Value::Object(line).to_string();
        text.push('\n');
        self.sink.write_line(&text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn lines_are_json_with_span_context() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let path = dir.join("audit.jsonl");
        let sink = AuditSink::file(&path).unwrap();
        let subscriber = tracing_subscriber::registry().with(AuditLayer::new(sink.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", request_id = "r-1", user_agent = "UA/1");
            let _in = span.enter();
            tracing::info!(target: TARGET, event = "logout", phone = %mask("+919812345678"));
            tracing::info!(target: "otpgate::other", "not audit");
        });
        std::fs::rename(&path, dir.join("audit.jsonl.1")).unwrap();
        sink.reopen().unwrap();
        tracing::subscriber::with_default(
            tracing_subscriber::registry().with(AuditLayer::new(sink)),
            || {
                tracing::info!(target: TARGET, event = "after_rotation");
            },
        );
        let old = std::fs::read_to_string(dir.join("audit.jsonl.1")).unwrap();
        let v: Value = serde_json::from_str(old.lines().next().unwrap()).unwrap();
        assert_eq!(old.lines().count(), 1, "{old}");
        assert_eq!(v["event"], "logout");
        assert_eq!(v["request_id"], "r-1");
        assert_eq!(v["user_agent"], "UA/1");
        assert_eq!(v["phone"], "+91******5678");
        assert!(v["time"].as_str().unwrap().ends_with('Z'));
        let new = std::fs::read_to_string(&path).unwrap();
        assert!(
            new.contains("after_rotation") && !new.contains("logout"),
            "{new}"
        );
    }

    /// As the binary composes them (cli.rs): the log layer, with its own
    /// level filter, beside the audit layer. The request span's fields
    /// still reach the audit line.
    #[test]
    fn span_context_survives_beside_a_filtered_log_layer() {
        use tracing_subscriber::Layer;
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("audit.jsonl");
        let sink = AuditSink::file(&path).unwrap();
        let filter = tracing_subscriber::EnvFilter::new(format!("info,{TARGET}=off"));
        let fmt = tracing_subscriber::fmt::layer()
            .with_writer(std::io::sink)
            .with_filter(filter)
            .boxed();
        let subscriber = tracing_subscriber::registry()
            .with(fmt)
            .with(AuditLayer::new(sink));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", request_id = "r-2", route = "/x");
            let _in = span.enter();
            tracing::info!(target: TARGET, event = "code_sent");
        });
        let text = std::fs::read_to_string(&path).unwrap();
        let v: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(v["request_id"], "r-2", "{text}");
        assert_eq!(v["route"], "/x", "{text}");
    }
}
