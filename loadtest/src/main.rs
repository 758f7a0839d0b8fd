//! `weft-loadtest`: load-tests a Weft server with thousands of synthetic str0m peers that join
//! video rooms through the real REST API and Fabric signaling (see `loadtest/README.md`).

mod cli;
mod fabric;
mod http;
mod media;
mod metrics;
mod report;
mod rest;
mod rpc;
mod run;
mod scrape;
mod session;
mod stats;
mod svg;
mod udpstat;

use anyhow::{Context, Result};
use clap::Parser;

fn main() -> Result<()> {
    let args = cli::Args::parse();
    raise_fd_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut outcome = runtime.block_on(run::run(&args))?;
    let report = report::build(&args, &mut outcome);
    print!("{}", report::summary(&report));
    if let Some(path) = &args.report {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("report: {}", path.display());
    }
    if let Some(path) = &args.plot {
        let points = report::timeline(&outcome.samples);
        let title = format!(
            "weft-loadtest: {} rooms × ({} publishers + {} subscribers)",
            args.rooms, args.publishers, args.subscribers
        );
        std::fs::write(path, svg::render(&title, &report::panels(&points)))
            .with_context(|| format!("writing {}", path.display()))?;
        println!("plot: {}", path.display());
    }
    Ok(())
}

/// Thousands of peers need thousands of sockets: raise the soft file limit to the hard one.
fn raise_fd_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}
