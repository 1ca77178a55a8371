//! The parent side: start `folio __run-job` with OS resource limits, feed it
//! the request, follow its progress, enforce time limits, and turn whatever
//! happens to it (result, failure, abort, signal) into a [`ChildOutcome`].

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use folio_jobs::{JobError, codes};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};

use crate::protocol::{CHILD_SUBCOMMAND, ChildMessage, ChildOutput, ChildRequest};

/// How to start the child: by default this very binary with the hidden
/// subcommand. Tests substitute other programs.
#[derive(Debug, Clone)]
pub struct ChildCommand {
    pub program: PathBuf,
    pub args: Vec<String>,
}

impl ChildCommand {
    /// `<current executable> __run-job`.
    pub fn current_exe() -> std::io::Result<Self> {
        Ok(ChildCommand {
            program: std::env::current_exe()?,
            args: vec![CHILD_SUBCOMMAND.to_string()],
        })
    }
}

/// Limits for one child process.
#[derive(Debug, Clone, Copy)]
pub struct ChildLimits {
    /// RLIMIT_AS: address space in bytes (a runaway allocation fails).
    pub address_space: Option<u64>,
    /// RLIMIT_CPU: CPU seconds (SIGXCPU, then SIGKILL a little later).
    pub cpu_secs: Option<u64>,
    /// After this, the child is asked to stop (it fails with `timeout`).
    pub soft_timeout: Duration,
    /// After this, the child is killed.
    pub hard_timeout: Duration,
    /// After a cancel request, how long the child gets before it is killed.
    pub cancel_grace: Duration,
}

/// What the supervisor of a running child can ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// The user cancelled: ask the child to stop, kill it after the grace.
    Cancel,
    /// Stop now (lease lost, shutdown grace over): kill at once.
    Kill,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ChildOutcome {
    Done {
        report: serde_json::Value,
        outputs: Vec<ChildOutput>,
    },
    Failed(JobError),
    /// Stopped because of [`Control::Cancel`].
    Cancelled,
    /// Killed because of [`Control::Kill`]; the caller decides what it means.
    Killed,
}

const STDERR_TAIL: usize = 4096;

/// Apply the limits in the child between fork and exec. Only async-signal-safe
/// calls (setrlimit, prctl) happen here.
fn limit_child(cmd: &mut Command, limits: ChildLimits) {
    let set = |resource, soft: u64, hard: u64| {
        let rl = libc::rlimit {
            rlim_cur: soft as libc::rlim_t,
            rlim_max: hard as libc::rlim_t,
        };
        // SAFETY: setrlimit only reads the struct we pass.
        if unsafe { libc::setrlimit(resource, &rl) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    };
    // SAFETY: the closure runs in the forked child before exec and only
    // makes async-signal-safe system calls.
    unsafe {
        cmd.pre_exec(move || {
            if let Some(bytes) = limits.address_space {
                set(libc::RLIMIT_AS, bytes, bytes)?;
            }
            if let Some(secs) = limits.cpu_secs {
                // SIGXCPU at the soft limit; the kernel sends SIGKILL at the hard one.
                set(libc::RLIMIT_CPU, secs, secs.saturating_add(5))?;
            }
            // No core files from crashing jobs (hostile inputs would fill the disk).
            set(libc::RLIMIT_CORE, 0, 0)?;
            // Die with the parent: a killed server leaves no orphan jobs behind.
            // (Linux ties this to the forking *thread*: children are spawned
            // from runtime worker threads, which live as long as the process.)
            #[cfg(target_os = "linux")]
            libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            );
            Ok(())
        });
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGABRT => "SIGABRT (abort)",
        libc::SIGSEGV => "SIGSEGV (invalid memory access)",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGXCPU => "SIGXCPU (CPU time limit)",
        libc::SIGTERM => "SIGTERM",
        _ => "a signal",
    }
}

/// Run one child to the end. `on_progress` gets every progress line.
pub async fn run_child(
    command: &ChildCommand,
    limits: ChildLimits,
    request: &ChildRequest,
    mut control: mpsc::Receiver<Control>,
    mut on_progress: impl FnMut(f32),
) -> ChildOutcome {
    let mut cmd = Command::new(&command.program);
    cmd.args(&command.args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    limit_child(&mut cmd, limits);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return ChildOutcome::Failed(JobError::new(
                codes::INTERNAL,
                format!("cannot start the job process: {e}"),
                true,
            ));
        }
    };
    let (Some(mut stdin), Some(stdout), Some(mut stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return ChildOutcome::Failed(JobError::new(
            codes::INTERNAL,
            "job process pipes missing",
            true,
        ));
    };
    let mut line = serde_json::to_string(request).unwrap_or_default();
    line.push('\n');
    // A child that dies before reading fails below with its exit status.
    let _ = stdin.write_all(line.as_bytes()).await;
    let _ = stdin.flush().await;

    let stderr_task = tokio::spawn(async move {
        let mut tail: Vec<u8> = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buf).await {
            if n == 0 {
                break;
            }
            tail.extend_from_slice(&buf[..n]);
            if tail.len() > 2 * STDERR_TAIL {
                tail.drain(..tail.len() - STDERR_TAIL);
            }
        }
        let start = tail.len().saturating_sub(STDERR_TAIL);
        String::from_utf8_lossy(&tail[start..]).into_owned()
    });

    let started = Instant::now();
    let soft_at = started + limits.soft_timeout;
    let mut hard_at = started + limits.hard_timeout;
    let mut soft_sent = false;
    let mut cancel_sent = false;
    let mut killed_hard = false;
    let mut killed_on_request = false;
    let mut result: Option<ChildMessage> = None;
    let mut lines = BufReader::new(stdout).lines();
    let mut control_open = true;

    loop {
        tokio::select! {
            next = lines.next_line() => match next {
                Ok(Some(l)) => match serde_json::from_str::<ChildMessage>(&l) {
                    Ok(ChildMessage::Progress { progress }) => on_progress(progress),
                    Ok(r @ ChildMessage::Result { .. }) => result = Some(r),
                    Err(_) => tracing::debug!(line = %l, "unexpected line from the job process"),
                },
                Ok(None) | Err(_) => break,
            },
            _ = sleep_until(soft_at), if !soft_sent && !cancel_sent => {
                soft_sent = true;
                let _ = stdin.write_all(b"cancel\n").await;
                let _ = stdin.flush().await;
            }
            _ = sleep_until(hard_at) => {
                if cancel_sent && !soft_sent {
                    killed_on_request = true;
                } else {
                    killed_hard = true;
                }
                let _ = child.start_kill();
                break;
            }
            c = control.recv(), if control_open => match c {
                Some(Control::Cancel) if !cancel_sent => {
                    cancel_sent = true;
                    let _ = stdin.write_all(b"cancel\n").await;
                    let _ = stdin.flush().await;
                    hard_at = hard_at.min(Instant::now() + limits.cancel_grace);
                }
                Some(Control::Cancel) => {}
                Some(Control::Kill) => {
                    let _ = child.start_kill();
                    let _ = child.wait().await;
                    stderr_task.abort();
                    return ChildOutcome::Killed;
                }
                None => control_open = false,
            },
        }
    }
    drop(stdin);
    // stdout closed: the child is exiting. Do not wait forever for it.
    let status = match tokio::time::timeout(Duration::from_secs(5), child.wait()).await {
        Ok(s) => s.ok(),
        Err(_) => {
            let _ = child.start_kill();
            child.wait().await.ok()
        }
    };
    let stderr_tail = tokio::time::timeout(Duration::from_secs(1), stderr_task)
        .await
        .ok()
        .and_then(|r| r.ok())
        .unwrap_or_default();

    match result {
        Some(ChildMessage::Result {
            report,
            outputs,
            error: None,
        }) if !killed_hard && !killed_on_request => ChildOutcome::Done {
            report: report.unwrap_or(serde_json::Value::Null),
            outputs,
        },
        Some(ChildMessage::Result { error: Some(e), .. }) if e.code == codes::CANCELLED => {
            if cancel_sent {
                ChildOutcome::Cancelled
            } else {
                ChildOutcome::Failed(soft_timeout_error(limits))
            }
        }
        Some(ChildMessage::Result { error: Some(e), .. }) => ChildOutcome::Failed(e),
        _ if killed_on_request => ChildOutcome::Cancelled,
        _ if killed_hard => ChildOutcome::Failed(JobError::new(
            codes::TIMEOUT,
            format!(
                "the job did not stop within its hard time limit of {} s and was killed",
                limits.hard_timeout.as_secs()
            ),
            false,
        )),
        _ if cancel_sent => ChildOutcome::Cancelled,
        _ => ChildOutcome::Failed(crash_error(status, &stderr_tail)),
    }
}

fn soft_timeout_error(limits: ChildLimits) -> JobError {
    JobError::new(
        codes::TIMEOUT,
        format!(
            "the job exceeded its time limit of {} s and was stopped",
            limits.soft_timeout.as_secs()
        ),
        false,
    )
}

fn crash_error(status: Option<std::process::ExitStatus>, stderr_tail: &str) -> JobError {
    let last_line = stderr_tail
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    let detail = if last_line.is_empty() {
        String::new()
    } else {
        format!(": {last_line}")
    };
    if !stderr_tail.is_empty() {
        tracing::warn!(stderr = %stderr_tail, "job process crashed");
    }
    match status {
        Some(s) if s.signal() == Some(libc::SIGXCPU) => JobError::new(
            codes::TIMEOUT,
            "the job used up its CPU time limit and was stopped",
            false,
        ),
        Some(s) => match s.signal() {
            Some(sig) => JobError::new(
                codes::CRASHED,
                format!(
                    "the job process was terminated by {}{detail}",
                    signal_name(sig)
                ),
                false,
            ),
            None => JobError::new(
                codes::CRASHED,
                format!(
                    "the job process exited with status {} without a result{detail}",
                    s.code().unwrap_or(-1)
                ),
                false,
            ),
        },
        None => JobError::new(
            codes::CRASHED,
            format!("the job process vanished{detail}"),
            false,
        ),
    }
}
