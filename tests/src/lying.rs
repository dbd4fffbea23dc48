//! The [`crate::proxy::RpcProxy`]'s lying mode: it reads each JSON-RPC request, forwards it
//! to the chain and changes the answer the way a poisoned or forked node would ([`Lie`]),
//! so the verifier's agreement rule (R5: every RPC endpoint must agree) can be tested.

use alloy::primitives::{B256, keccak256};
use axum::body::Body;
use eyre::WrapErr;
use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::convert::Infallible;
use std::net::SocketAddr;
use tokio::net::TcpStream;

/// What the lying proxy changes in the chain's answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lie {
    /// `eth_getLogs` answers `[]`: a node that never saw any packet.
    NoLogs,
    /// Every block hash (a block's `hash`, any `blockHash`) is replaced by its keccak256: a
    /// node on another fork, or another chain with the same numbers.
    OtherBlockHashes,
}

impl Lie {
    /// Changes the answer to one request of `method`.
    fn apply(self, method: &str, answer: &mut Value) {
        let Some(result) = answer.get_mut("result") else {
            return;
        };
        match self {
            Lie::NoLogs if method == "eth_getLogs" => *result = Value::Array(Vec::new()),
            Lie::NoLogs => {}
            Lie::OtherBlockHashes => {
                if method.starts_with("eth_getBlockBy") {
                    replace_hash(result, "hash");
                }
                replace_block_hashes(result);
            }
        }
    }
}

/// Another hash for `value[key]` (a 0x hash string), derived from it.
fn replace_hash(value: &mut Value, key: &str) {
    let Some(h) = value.get(key).and_then(Value::as_str) else {
        return;
    };
    if let Ok(h) = h.parse::<B256>() {
        value[key] = Value::String(format!("{:#x}", keccak256(h)));
    }
}

/// Replaces every `blockHash` in `value`, at any depth.
fn replace_block_hashes(value: &mut Value) {
    replace_hash(value, "blockHash");
    match value {
        Value::Object(map) => map.values_mut().for_each(replace_block_hashes),
        Value::Array(items) => items.iter_mut().for_each(replace_block_hashes),
        _ => {}
    }
}

/// Serves one inbound connection as an HTTP JSON-RPC endpoint lying with `lie`.
pub(crate) async fn serve_lying(
    inbound: TcpStream,
    http: reqwest::Client,
    target: SocketAddr,
    lie: Lie,
) {
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let http = http.clone();
        async move {
            let answer = match forward(req, &http, target, lie).await {
                Ok(body) => Response::builder()
                    .header(CONTENT_TYPE, "application/json")
                    .body(Body::from(body)),
                Err(e) => Response::builder()
                    .status(StatusCode::BAD_GATEWAY)
                    .body(Body::from(format!("{e:#}"))),
            };
            Ok::<_, Infallible>(answer.unwrap_or_else(|_| Response::new(Body::empty())))
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(inbound), service)
        .await;
}

/// Forwards one request (single or batch) to the chain and lies in its answer.
async fn forward(
    req: Request<Incoming>,
    http: &reqwest::Client,
    target: SocketAddr,
    lie: Lie,
) -> eyre::Result<Vec<u8>> {
    let body = axum::body::to_bytes(Body::new(req.into_body()), 16 << 20).await?;
    let request: Value = serde_json::from_slice(&body).wrap_err("JSON-RPC request")?;
    let mut answer: Value = http
        .post(format!("http://{target}"))
        .header(CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await?
        .json()
        .await?;
    let method_of = |id: &Value| -> String {
        let one = |r: &Value| (r["id"] == *id).then(|| r["method"].as_str().map(str::to_string));
        match &request {
            Value::Array(reqs) => reqs.iter().find_map(one).flatten(),
            r => r["method"].as_str().map(str::to_string),
        }
        .unwrap_or_default()
    };
    match &mut answer {
        Value::Array(answers) => {
            for a in answers {
                let m = method_of(&a["id"]);
                lie.apply(&m, a);
            }
        }
        a => {
            let m = method_of(&a["id"]);
            lie.apply(&m, a);
        }
    }
    Ok(serde_json::to_vec(&answer)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lies_only_where_asked() {
        let h = format!("{:#x}", B256::repeat_byte(1));
        let mut logs = json!({"id": 1, "result": [{"blockHash": h, "data": "0x"}]});
        Lie::NoLogs.apply("eth_blockNumber", &mut logs);
        assert_eq!(logs["result"][0]["blockHash"], h);
        Lie::OtherBlockHashes.apply("eth_getLogs", &mut logs);
        assert_ne!(logs["result"][0]["blockHash"], h);
        Lie::NoLogs.apply("eth_getLogs", &mut logs);
        assert_eq!(logs["result"], json!([]));
        let mut block = json!({"id": 2, "result": {"hash": h, "number": "0x5"}});
        Lie::OtherBlockHashes.apply("eth_getBlockByNumber", &mut block);
        assert_eq!(
            block["result"]["hash"],
            format!("{:#x}", keccak256(B256::repeat_byte(1)))
        );
    }
}
