//! A loopback TCP proxy in front of a chain's RPC that a test can cut and restore: `down`
//! (nothing listens on the port: connections are refused), `up` (every connection is
//! forwarded to the target) or `hang` (connections are accepted and never answered); or,
//! reading the JSON-RPC, serve a different chain's view ([`crate::lying`]): no
//! `PacketSent` logs, or other block hashes.

use crate::lying::{Lie, serve_lying};
use eyre::WrapErr;
use std::net::SocketAddr;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// What the proxy does with a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyMode {
    /// Nothing listens: connections are refused.
    Down,
    /// Forwards to the target.
    Up,
    /// Accepts and never answers.
    Hang,
    /// Answers every JSON-RPC request from the target, with this lie in the answers.
    Lying(Lie),
}

/// The proxy; its address stays the same across modes.
#[derive(Debug)]
pub struct RpcProxy {
    addr: SocketAddr,
    target: SocketAddr,
    task: Option<JoinHandle<()>>,
    mode: ProxyMode,
}

impl RpcProxy {
    /// A proxy to `target_url` (`http://host:port`) on a free loopback port, in `mode`.
    pub async fn start(target_url: &str, mode: ProxyMode) -> eyre::Result<RpcProxy> {
        let target: SocketAddr = target_url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .wrap_err_with(|| format!("proxy target {target_url}"))?;
        let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let mut p = RpcProxy {
            addr,
            target,
            task: None,
            mode: ProxyMode::Down,
        };
        p.set(mode).await?;
        Ok(p)
    }

    /// The URL to configure instead of the target's.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The current mode.
    pub fn mode(&self) -> ProxyMode {
        self.mode
    }

    /// Switches mode; every open connection is dropped.
    pub async fn set(&mut self, mode: ProxyMode) -> eyre::Result<()> {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
        self.mode = mode;
        if mode == ProxyMode::Down {
            return Ok(());
        }
        let listener = TcpListener::bind(self.addr)
            .await
            .wrap_err_with(|| format!("re-binding the proxy on {}", self.addr))?;
        let target = self.target;
        self.task = Some(tokio::spawn(async move {
            // Dropped with the accept loop: aborting the loop closes every connection.
            let mut conns = JoinSet::new();
            let http = reqwest::Client::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                let http = http.clone();
                conns.spawn(async move {
                    match mode {
                        ProxyMode::Hang => std::future::pending::<()>().await,
                        ProxyMode::Lying(lie) => serve_lying(inbound, http, target, lie).await,
                        ProxyMode::Up | ProxyMode::Down => {
                            if let Ok(mut outbound) = TcpStream::connect(target).await {
                                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound)
                                    .await;
                            }
                        }
                    }
                });
            }
        }));
        Ok(())
    }
}

impl Drop for RpcProxy {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}
