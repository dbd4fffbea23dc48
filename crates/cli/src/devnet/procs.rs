//! The devnet's child processes and the waits around them: finding the Foundry tools and
//! the repository, waiting for an RPC or the coordinator's `/healthz`, and stopping
//! everything on the way out.

use super::progress;
use eyre::{bail, eyre};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

/// The child processes, stopped in reverse order of start.
#[derive(Default)]
pub(super) struct Children(pub(super) Vec<(String, Child)>);

impl Children {
    pub(super) async fn stop_all(&mut self) {
        while let Some((name, mut child)) = self.0.pop() {
            if let Ok(Some(_)) = child.try_wait() {
                continue;
            }
            // SIGTERM first so the coordinator shuts down gracefully; SIGKILL after 10 s.
            if let Some(pid) = child.id() {
                let _ = Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status()
                    .await;
            }
            if tokio::time::timeout(Duration::from_secs(10), child.wait())
                .await
                .is_err()
            {
                let _ = child.kill().await;
            }
            progress(format!("stopped {name}"));
        }
    }
}

/// The directory holding `foundry.toml`, searched upwards from the working directory and
/// then from the binary's location (`target/debug/lockstep`).
pub(super) fn repo_root() -> eyre::Result<PathBuf> {
    let mut starts = vec![std::env::current_dir()?];
    if let Ok(exe) = std::env::current_exe() {
        starts.push(exe);
    }
    for start in starts {
        for dir in start.ancestors() {
            if dir.join("foundry.toml").is_file() && dir.join("script/deploy-local").is_file() {
                return Ok(dir.to_path_buf());
            }
        }
    }
    bail!(
        "cannot find the Lockstep repository (a directory with foundry.toml and script/deploy-local) above the working directory"
    )
}

pub(super) fn absolute(p: &Path) -> eyre::Result<PathBuf> {
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()?.join(p)
    })
}

/// A Foundry tool from PATH, else from the npm package under the repository.
pub(super) fn find_tool(root: &Path, tool: &str) -> eyre::Result<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&path) {
            let p = d.join(tool);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    let p = root.join(format!(
        "node_modules/@foundry-rs/{tool}-linux-amd64/bin/{tool}"
    ));
    if p.is_file() {
        return Ok(p);
    }
    bail!(
        "{tool} not found on PATH nor at {}: run `npm ci` in {} (or `source script/lib.sh; ensure_npm`)",
        p.display(),
        root.display()
    )
}

pub(super) async fn wait_for_rpc(cast: &Path, rpc: &str, child: &mut Child) -> eyre::Result<()> {
    for _ in 0..100 {
        if let Some(status) = child.try_wait()? {
            bail!("anvil for {rpc} exited early ({status})");
        }
        let ok = Command::new(cast)
            .args(["chain-id", "--rpc-url", rpc])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .map(|s| s.success())
            .unwrap_or(false);
        if ok {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("anvil at {rpc} did not answer within 10 s")
}

/// Waits until the coordinator answers `GET /healthz` (or exits, which is an error).
pub(super) async fn wait_for_http(
    listen: &str,
    child: Option<&mut Child>,
    log: &Path,
) -> eyre::Result<()> {
    wait_until("the coordinator", listen, child, log, || healthz(listen)).await
}

/// Waits until something accepts connections on `listen` (the verifier's `/healthz` is 503
/// until its first scans, so only the socket is awaited), failing if the child exits.
pub(super) async fn wait_for_listen(
    listen: &str,
    child: Option<&mut Child>,
    log: &Path,
) -> eyre::Result<()> {
    wait_until("the process", listen, child, log, || async {
        tokio::net::TcpStream::connect(listen).await.is_ok()
    })
    .await
}

/// Polls `ready` every 100 ms for up to 30 s, failing (with the log's tail) if `child`
/// exits first; no child means nothing was started, which is ready.
async fn wait_until<F, Fut>(
    what: &str,
    listen: &str,
    child: Option<&mut Child>,
    log: &Path,
    mut ready: F,
) -> eyre::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let Some(child) = child else {
        return Ok(());
    };
    for _ in 0..300 {
        if let Some(status) = child.try_wait()? {
            bail!(
                "{what} exited ({status}); its log {}:\n{}",
                log.display(),
                tail(log, 30)
            );
        }
        if ready().await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!(
        "{what} did not answer on {listen} within 30 s; its log:\n{}",
        tail(log, 30)
    )
}

/// One `GET /healthz` over a plain TCP connection (no HTTP client in this crate).
async fn healthz(listen: &str) -> bool {
    use tokio::io::AsyncWriteExt;
    let Ok(Ok(mut s)) = tokio::time::timeout(
        Duration::from_secs(1),
        tokio::net::TcpStream::connect(listen),
    )
    .await
    else {
        return false;
    };
    let req = format!("GET /healthz HTTP/1.1\r\nhost: {listen}\r\nconnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).await.is_err() {
        return false;
    }
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut buf)).await;
    buf.starts_with(b"HTTP/1.1 200")
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Blocks until ctrl-c, SIGTERM, stdin EOF (if asked) or a child exiting on its own.
pub(super) async fn wait_for_stop(stdin_eof: bool, children: &mut Children) -> eyre::Result<()> {
    let stdin = async {
        if stdin_eof {
            let mut buf = [0u8; 256];
            let mut input = tokio::io::stdin();
            loop {
                match input.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        } else {
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    let died = async {
        loop {
            for (name, child) in children.0.iter_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return (name.clone(), status);
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => { progress("ctrl-c: stopping"); Ok(()) }
        _ = term => { progress("SIGTERM: stopping"); Ok(()) }
        _ = stdin => { progress("stdin closed: stopping"); Ok(()) }
        (name, status) = died => Err(eyre!("{name} exited on its own ({status})")),
    }
}
