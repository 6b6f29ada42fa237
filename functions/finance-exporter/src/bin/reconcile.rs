//! `reconcile --from YYYY-MM-DD --to YYYY-MM-DD`: compares the finance exports in `EXPORT_BUCKET` with the
//! ledger in `TABLE_NAME` for the date range and prints the per-booking, per-currency report as JSON.
//! Exit code 0: no difference; 1: a difference; 2: the command could not run.

use std::process::ExitCode;

use chrono::NaiveDate;
use finance_exporter::State;

fn arg(args: &[String], name: &str) -> Option<NaiveDate> {
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1)?.parse().ok()
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(from), Some(to)) = (arg(&args, "--from"), arg(&args, "--to")) else {
        eprintln!("usage: reconcile --from YYYY-MM-DD --to YYYY-MM-DD   (env: TABLE_NAME, EXPORT_BUCKET)");
        return ExitCode::from(2);
    };
    let state = match State::from_env().await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match finance_exporter::reconcile::run(&state.store, &state.s3, &state.bucket, from, to).await {
        Ok(report) => {
            println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
            if report.is_clean() { ExitCode::SUCCESS } else { ExitCode::from(1) }
        }
        Err(e) => {
            eprintln!("reconcile failed: {e}");
            ExitCode::from(2)
        }
    }
}
