//! `warden replay --log-type T FILE`: a log file through the detection stage, as if ingested
//! over HTTP. Matches, alerts and deliveries go to the configured database; alerts for story
//! webhooks become runs there (a running `warden serve` or `warden worker` executes them).

use super::serve::{init_logging, public_url, Common, DEFAULT_LISTEN};
use crate::app::App;
use crate::detect::body::{self, Position};
use crate::detect::detector::IngestReport;
use anyhow::Context as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Events evaluated and recorded per transaction.
const BATCH: usize = 10_000;
/// The largest file, once decompressed.
const MAX_FILE_BYTES: usize = 4 << 30;
/// Problems printed; the count covers them all.
const MAX_PRINTED_ERRORS: usize = 20;

/// `warden replay` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    common: Common,
    /// The log type, e.g. `Okta.SystemLog` (anything else is generic JSON under that name).
    #[arg(long)]
    log_type: String,
    /// A file of events: JSON, a JSON array or NDJSON, optionally gzipped; `-` for stdin.
    file: PathBuf,
}

/// Replays the file; exits 1 if any event could not be read (the others are kept).
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    init_logging();
    let bytes = if args.file.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)?;
        bytes
    } else {
        std::fs::read(&args.file)
            .with_context(|| format!("Failed to read {}", args.file.display()))?
    };
    let shown = args.file.display().to_string();
    let text = body::text(&bytes, MAX_FILE_BYTES).with_context(|| shown.clone())?;
    let events = body::split(&text).with_context(|| shown.clone())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listen = std::env::var("WARDEN_LISTEN").unwrap_or_else(|_| DEFAULT_LISTEN.into());
        let app = App::build(args.common.settings(&public_url(&args.common, &listen))?).await?;
        let detector = &app.detector;
        let mut total = IngestReport::default();
        for batch in events.chunks(BATCH) {
            let report = detector.ingest_raw(&args.log_type, batch).await?;
            total.accepted += report.accepted;
            total.rejected += report.rejected;
            total.matches += report.matches;
            total.alerts.extend(report.alerts);
            let room = MAX_PRINTED_ERRORS.saturating_sub(total.errors.len());
            total.errors.extend(report.errors.into_iter().take(room));
        }
        for error in &total.errors {
            let at = match error.at {
                Position::Line(n) => format!("line {n}"),
                Position::Item(n) => format!("item {n}"),
            };
            eprintln!("{shown}: {at}: {}", error.message);
        }
        let delivered = app.deliverer().deliver_due().await?;
        println!(
            "{shown}: {} events read, {} refused, {} rule matches, {} alerts, {} deliveries attempted",
            total.accepted,
            total.rejected,
            total.matches,
            total.alerts.len(),
            delivered
        );
        app.engine.store.close().await;
        Ok(if total.rejected > 0 {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        })
    })
}
