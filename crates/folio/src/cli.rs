//! Command-line definitions (clap). Flag names are mirrored by the HTTP API's
//! form fields (without dashes), so keep them in step.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::ServiceArgs;

#[derive(Debug, Parser)]
#[command(name = "folio", version, about = "Fast, self-hosted PDF processing")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Options every PDF-reading command accepts. (A plain comment: clap would
// take a doc comment here as the `about` of every subcommand that flattens
// this, since their arguments are deferred, see `Command`.)
#[derive(Debug, Args, Clone)]
pub struct Common {
    /// Password for encrypted PDFs.
    #[arg(long, env = "FOLIO_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Print the report(s) as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Give up after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub timeout: u64,
}

// Where results go: one file (`-o`) or a directory (`--out-dir`, for
// batches). A plain comment, as on `Common`.
#[derive(Debug, Args, Clone)]
pub struct Dest {
    /// Output file (single input).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Output directory (several inputs; names follow the inputs).
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

// `defer`: a subcommand's arguments are defined only when it is the one
// run (or asked for help). Defining all of them was a quarter of the user-space
// instructions of a one-page `folio compress` (callgrind), mostly `serve`'s.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Make PDFs smaller.
    Compress {
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        #[command(flatten)]
        dest: Dest,
        /// lossless, balanced or strong.
        #[arg(long, default_value = "balanced")]
        level: String,
        /// Aim for at most this many bytes (lossy levels).
        #[arg(long, value_name = "BYTES")]
        target_size: Option<u64>,
        /// Quality floor as SSIM in 0..1 (lossy levels).
        #[arg(long, value_name = "X")]
        min_ssim: Option<f32>,
        /// Remove JavaScript, launch actions, embedded files and XFA.
        #[arg(long)]
        sanitize: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Join PDFs in argument order.
    Merge {
        #[arg(required = true, num_args = 1..)]
        inputs: Vec<PathBuf>,
        #[arg(short, long, value_name = "FILE", required = true)]
        output: PathBuf,
        /// Remove JavaScript, launch actions, embedded files and XFA.
        #[arg(long)]
        sanitize: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Put images (JPEG, PNG, TIFF) into a PDF, one page per image or frame.
    ImagesToPdf {
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        #[arg(short, long, value_name = "FILE", required = true)]
        output: PathBuf,
        /// auto (the image's own size), a4 or letter.
        #[arg(long, default_value = "auto")]
        page_size: String,
        /// Margin in points (1/72 in).
        #[arg(long, default_value_t = 0.0)]
        margin: f32,
        /// Resolution to assume for auto page size.
        #[arg(long)]
        dpi: Option<f32>,
        #[command(flatten)]
        common: Common,
    },
    /// Extract pages into one file (--pages), or cut into chunks (--every).
    Split {
        input: PathBuf,
        /// Pages to extract, e.g. 1-3,7,10-
        #[arg(long, conflicts_with = "every")]
        pages: Option<String>,
        /// Pages per chunk.
        #[arg(long)]
        every: Option<u32>,
        #[command(flatten)]
        dest: Dest,
        #[command(flatten)]
        common: Common,
    },
    /// Rotate pages clockwise by 90, 180 or 270 degrees.
    Rotate {
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        #[arg(long)]
        angle: u16,
        /// Pages to rotate (default: all).
        #[arg(long)]
        pages: Option<String>,
        #[command(flatten)]
        dest: Dest,
        #[command(flatten)]
        common: Common,
    },
    /// Extract text; pages separated by form feeds. Prints to stdout without -o.
    Text {
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        #[arg(long)]
        pages: Option<String>,
        #[command(flatten)]
        dest: Dest,
        #[command(flatten)]
        common: Common,
    },
    /// Render one page to PNG.
    Render {
        input: PathBuf,
        #[arg(long, default_value_t = 1)]
        page: u32,
        #[arg(long, default_value_t = 72.0)]
        dpi: f32,
        #[arg(short, long, value_name = "FILE", required = true)]
        output: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// Show pages, version, encryption and what takes the bytes.
    Info {
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Run the HTTP service: API, workers, job store, storage and cleanup.
    Serve(ServiceArgs),
    /// Run workers only, sharing the job store and storage with `folio serve --workers 0`.
    Worker(ServiceArgs),
    /// Apply the job store's schema migrations (also done at every start;
    /// safe while other nodes run).
    Migrate(ServiceArgs),
    /// Print the effective service configuration (secrets masked).
    Config(ServiceArgs),
    /// Copy the embedded SQLite job store to FILE while the service runs
    /// (VACUUM INTO), then check the copy. PostgreSQL: use pg_dump.
    Backup {
        /// Where to write the copy; must not exist yet.
        #[arg(long, short, value_name = "FILE")]
        out: PathBuf,
        #[command(flatten)]
        service: ServiceArgs,
    },
    /// Exit 0 when the service answers 200 on its liveness URL (for container
    /// health checks; no curl needed).
    Healthcheck {
        /// URL to probe [default: http://<FOLIO_LISTEN>/health/live]
        #[arg(long, value_name = "URL")]
        url: Option<String>,
        /// Give up after this many seconds.
        #[arg(long, value_name = "SECS", default_value_t = 5)]
        timeout: u64,
    },
    /// Manage API keys (FOLIO_AUTH): create, list, revoke.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Internal: run one job in a child process (used by the workers).
    #[command(name = "__run-job", hide = true)]
    RunJob,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it once (only its hash is stored).
    Create {
        /// Who the key is for (shown by `folio keys list`).
        #[arg(long)]
        name: String,
        /// The key sees every job, not only its own.
        #[arg(long)]
        admin: bool,
        /// Upload rate for this key, e.g. 2/s,burst=5 or off [default: FOLIO_RATE_LIMIT_UPLOADS]
        #[arg(long, value_name = "RATE")]
        rate_limit_uploads: Option<String>,
        /// Read rate for this key [default: FOLIO_RATE_LIMIT_READS]
        #[arg(long, value_name = "RATE")]
        rate_limit_reads: Option<String>,
        /// Most unfinished (queued + running) jobs at once [default: no cap]
        #[arg(long, value_name = "N")]
        max_concurrent_jobs: Option<u32>,
        /// Print the key and its record as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        service: ServiceArgs,
    },
    /// List keys (never the secrets).
    List {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        service: ServiceArgs,
    },
    /// Revoke a key by its id (key_...); its jobs stay.
    Revoke {
        id: String,
        #[command(flatten)]
        service: ServiceArgs,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// With the subcommands' arguments deferred, clap checks them only when
    /// they are built: build them all here, check the definitions, and check
    /// that every subcommand kept its own description (a flattened struct's
    /// doc comment would replace it).
    #[test]
    fn every_subcommand_is_consistent_and_keeps_its_description() {
        let mut cli = Cli::command();
        cli.build();
        cli.clone().debug_assert();
        let mut seen = std::collections::HashSet::new();
        for sub in cli.get_subcommands() {
            let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
            assert!(!about.is_empty(), "{} has no description", sub.get_name());
            assert!(
                seen.insert(about.clone()),
                "{} shares {about:?}",
                sub.get_name()
            );
        }
        let about = |name: &str| {
            cli.find_subcommand(name)
                .and_then(|s| s.get_about())
                .map(|a| a.to_string())
        };
        assert_eq!(about("compress").as_deref(), Some("Make PDFs smaller"));
        assert!(about("serve").is_some_and(|a| a.starts_with("Run the HTTP service")));
    }

    #[test]
    fn deferred_arguments_still_parse() {
        let cli = Cli::try_parse_from([
            "folio", "compress", "in.pdf", "-o", "out.pdf", "--level", "strong", "--json",
        ])
        .expect("parses");
        let Command::Compress {
            inputs,
            dest,
            level,
            common,
            ..
        } = cli.command
        else {
            panic!("not compress");
        };
        assert_eq!(inputs, vec![PathBuf::from("in.pdf")]);
        assert_eq!(dest.output, Some(PathBuf::from("out.pdf")));
        assert_eq!(level, "strong");
        assert!(common.json);
        let err = Cli::try_parse_from(["folio", "compress", "in.pdf", "--bogus"])
            .expect_err("unknown flag");
        assert_eq!(err.kind(), clap::error::ErrorKind::UnknownArgument);
    }
}
