//! `lockstep claim`: a beneficiary withdraws what an escrow owes it (escrow v2, security.md
//! R1: a leg whose transfer failed at execution or refund is recorded as owed and claimed
//! later with `claim(token, to)`).
//!
//! The beneficiary's key comes from `LOCKSTEP_CLAIM_KEY` or `--key-file`, never from a
//! flag value (it would end up in shell histories and process listings). The call is
//! simulated first so that "nothing owed" is reported by its typed escrow error before any
//! transaction is sent. Output: one JSON line `{amount, tx_hash, ...}`. Errors: one line on
//! stderr, exit 1.

use alloy::network::EthereumWallet;
use alloy::primitives::{Address, B256, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolEvent};
use clap::Args;
use lockstep_bindings::ISettlementEscrow::{self, ISettlementEscrowErrors};
use lockstep_bindings::{EscrowRevert, decode_revert};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

/// Environment variable holding the beneficiary's hex private key.
const KEY_ENV: &str = "LOCKSTEP_CLAIM_KEY";

/// Arguments of `lockstep claim`.
#[derive(Debug, Args)]
pub(crate) struct ClaimArgs {
    /// JSON-RPC URL of the escrow's chain.
    #[arg(long)]
    rpc: String,
    /// The `SettlementEscrow` that owes the amount.
    #[arg(long)]
    escrow: Address,
    /// The token owed (`0x0000000000000000000000000000000000000000` = native).
    #[arg(long)]
    token: Address,
    /// Where to send it (default: the beneficiary itself).
    #[arg(long)]
    to: Option<Address>,
    /// File holding the beneficiary's hex private key (default: `LOCKSTEP_CLAIM_KEY`).
    #[arg(long)]
    key_file: Option<PathBuf>,
}

/// Why a claim failed.
#[derive(Debug, thiserror::Error)]
enum ClaimError {
    /// No key given, or it does not parse.
    #[error("beneficiary key: {0}")]
    Key(String),
    /// The key file could not be read.
    #[error("reading the key file {path}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The escrow owes the beneficiary nothing in this token.
    #[error("nothing owed: escrow {escrow} owes {beneficiary} nothing in token {token}")]
    NothingOwed {
        /// The escrow.
        escrow: Address,
        /// The token.
        token: Address,
        /// The caller.
        beneficiary: Address,
    },
    /// The escrow refused the claim with another error.
    #[error("claim refused: {0}")]
    Reverted(#[source] EscrowRevert),
    /// The RPC call or the transaction failed.
    #[error("{what}: {message}")]
    Rpc {
        /// The step.
        what: &'static str,
        /// The transport's message.
        message: String,
    },
}

fn rpc_err(what: &'static str) -> impl FnOnce(String) -> ClaimError {
    move |message| ClaimError::Rpc { what, message }
}

/// The beneficiary's signer, from `--key-file` or `LOCKSTEP_CLAIM_KEY`.
fn signer(key_file: Option<&PathBuf>) -> Result<PrivateKeySigner, ClaimError> {
    let hex = match key_file {
        Some(path) => std::fs::read_to_string(path).map_err(|source| ClaimError::KeyFile {
            path: path.clone(),
            source,
        })?,
        None => std::env::var(KEY_ENV)
            .map_err(|_| ClaimError::Key(format!("set {KEY_ENV} or pass --key-file")))?,
    };
    hex.trim()
        .parse()
        .map_err(|e| ClaimError::Key(format!("not a hex private key: {e}")))
}

/// Runs `lockstep claim`.
pub(crate) fn claim(args: ClaimArgs) -> ExitCode {
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ClaimError::Rpc {
            what: "starting the runtime",
            message: e.to_string(),
        })
        .and_then(|rt| rt.block_on(run(args)));
    match result {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("lockstep claim: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: ClaimArgs) -> Result<serde_json::Value, ClaimError> {
    let signer = signer(args.key_file.as_ref())?;
    let beneficiary = signer.address();
    let to = args.to.unwrap_or(beneficiary);
    let url = args
        .rpc
        .parse()
        .map_err(|e| ClaimError::Key(format!("--rpc {}: {e}", args.rpc)))?;
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(url);
    let input = ISettlementEscrow::claimCall {
        token: args.token,
        to,
    }
    .abi_encode();
    let tx = TransactionRequest::default()
        .from(beneficiary)
        .to(args.escrow)
        .input(input.into());
    // Simulate first: a typed refusal (nothing owed) before any transaction.
    if let Err(e) = provider.call(tx.clone()).await {
        return Err(match decode_revert(&e) {
            Some(EscrowRevert::Escrow(ISettlementEscrowErrors::EscrowNothingOwed(_))) => {
                ClaimError::NothingOwed {
                    escrow: args.escrow,
                    token: args.token,
                    beneficiary,
                }
            }
            Some(r) => ClaimError::Reverted(r),
            None => rpc_err("simulating claim")(e.to_string()),
        });
    }
    let receipt = provider
        .send_transaction(tx)
        .await
        .map_err(|e| rpc_err("sending claim")(e.to_string()))?
        .get_receipt()
        .await
        .map_err(|e| rpc_err("waiting for the claim receipt")(e.to_string()))?;
    let tx_hash: B256 = receipt.transaction_hash;
    if !receipt.status() {
        return Err(rpc_err("claim")(format!(
            "transaction {tx_hash:#x} reverted"
        )));
    }
    let amount = receipt
        .inner
        .logs()
        .iter()
        .filter(|l| l.address() == args.escrow)
        .find_map(|l| ISettlementEscrow::Claimed::decode_log(&l.inner).ok())
        .map_or(U256::ZERO, |e| e.data.amount);
    Ok(json!({
        "amount": amount.to_string(),
        "tx_hash": format!("{tx_hash:#x}"),
        "escrow": format!("{:#x}", args.escrow),
        "token": format!("{:#x}", args.token),
        "beneficiary": format!("{beneficiary:#x}"),
        "to": format!("{to:#x}"),
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_the_key_from_a_file_and_refuses_garbage() {
        let dir = std::env::temp_dir().join(format!("lockstep-claim-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("key");
        // anvil account 0 (public development key).
        std::fs::write(
            &good,
            "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80\n",
        )
        .unwrap();
        let s = signer(Some(&good)).unwrap();
        assert_eq!(
            format!("{:#x}", s.address()),
            "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
        );
        let bad = dir.join("bad");
        std::fs::write(&bad, "not a key").unwrap();
        assert!(matches!(signer(Some(&bad)), Err(ClaimError::Key(_))));
        let missing = dir.join("missing");
        assert!(matches!(
            signer(Some(&missing)),
            Err(ClaimError::KeyFile { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
