//! The chains as the tests see them: reads, time travel, snapshots and reorgs; and each
//! party's custody, which funds its legs with the calldata from `/deposits`, verbatim.

use crate::api::DepositInstruction;
use crate::devnet::ChainInfo;
use alloy::consensus::Transaction as _;
use alloy::eips::BlockNumberOrTag;
use alloy::network::EthereumWallet;
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::ext::AnvilApi;
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{Filter, Log, TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use eyre::{WrapErr, bail, eyre};
use lockstep_bindings::{DemoToken, EscrowRevert, ISettlementEscrow, decode_revert};
use std::collections::BTreeMap;

/// An escrow's per-settlement state (`ISettlementEscrow.State`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EscrowState {
    /// Not registered.
    None,
    /// Registered, waiting for local deposits.
    Open,
    /// Local legs deposited (spoke: LOCKED sent; hub: waiting for spokes).
    Locked,
    /// Paid out.
    Executed,
    /// Refunded.
    Refunded,
}

impl EscrowState {
    fn from_u8(v: u8) -> eyre::Result<EscrowState> {
        Ok(match v {
            0 => EscrowState::None,
            1 => EscrowState::Open,
            2 => EscrowState::Locked,
            3 => EscrowState::Executed,
            4 => EscrowState::Refunded,
            _ => bail!("unknown escrow state {v}"),
        })
    }
}

/// What `settlementOf(id)` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EscrowSettlement {
    /// Registered terms hash (zero when none).
    pub terms_hash: B256,
    /// State.
    pub state: EscrowState,
    /// Local legs currently held.
    pub deposited_mask: u32,
    /// Hub: remote legs whose chain reported LOCKED.
    pub locked_mask: u32,
}

/// Gas spent on one chain over a block range.
#[derive(Debug, Clone, Default)]
pub struct GasReport {
    /// Transactions.
    pub txs: u64,
    /// Sum of `gasUsed`.
    pub gas: u64,
    /// Per sender: (transactions, gas).
    pub by_sender: BTreeMap<Address, (u64, u64)>,
    /// Every transaction: (sender, recipient, gas used), in block order.
    pub each: Vec<(Address, Option<Address>, u64)>,
}

/// A read-only view of one chain plus anvil's test controls.
#[derive(Debug, Clone)]
pub struct Chain {
    /// From `devnet.json`.
    pub info: ChainInfo,
    /// A provider without a wallet.
    pub provider: DynProvider,
}

impl Chain {
    /// Connects to the chain's RPC.
    pub fn connect(info: &ChainInfo) -> eyre::Result<Chain> {
        let provider = ProviderBuilder::new()
            .connect_http(info.rpc_url.parse()?)
            .erased();
        Ok(Chain {
            info: info.clone(),
            provider,
        })
    }

    /// ERC-20 balance.
    pub async fn balance(&self, token: Address, who: Address) -> eyre::Result<U256> {
        Ok(DemoToken::new(token, &self.provider)
            .balanceOf(who)
            .call()
            .await?)
    }

    /// `settlementOf(id)` on this chain's escrow.
    pub async fn settlement_of(&self, id: B256) -> eyre::Result<EscrowSettlement> {
        let r = ISettlementEscrow::new(self.info.escrow, &self.provider)
            .settlementOf(id)
            .call()
            .await?;
        Ok(EscrowSettlement {
            terms_hash: r.termsHash,
            state: EscrowState::from_u8(r.state as u8)?,
            deposited_mask: r.depositedMask,
            locked_mask: r.lockedMask,
        })
    }

    /// (number, timestamp) of the head block.
    pub async fn head(&self) -> eyre::Result<(u64, u64)> {
        let b = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await?
            .ok_or_else(|| eyre!("no latest block"))?;
        Ok((b.header.number, b.header.timestamp))
    }

    /// Mines one block at `timestamp` (if the head is older), so the chain's clock is past it.
    pub async fn warp_to(&self, timestamp: u64) -> eyre::Result<()> {
        let (_, now) = self.head().await?;
        if now < timestamp {
            self.provider
                .anvil_set_next_block_timestamp(timestamp)
                .await?;
        }
        self.provider.evm_mine(None).await?;
        Ok(())
    }

    /// Mines `n` empty blocks.
    pub async fn mine(&self, n: u64) -> eyre::Result<()> {
        for _ in 0..n {
            self.provider.evm_mine(None).await?;
        }
        Ok(())
    }

    /// Transactions mined at once, empty blocks only when the test mines them.
    pub async fn manual_blocks(&self) -> eyre::Result<()> {
        // Interval 0 turns mining off altogether; automine back on for transactions.
        self.provider.anvil_set_interval_mining(0).await?;
        Ok(self.provider.anvil_set_auto_mine(true).await?)
    }

    /// A block every `secs` seconds (transactions wait for the next one).
    pub async fn interval_blocks(&self, secs: u64) -> eyre::Result<()> {
        Ok(self.provider.anvil_set_interval_mining(secs).await?)
    }

    /// `anvil_snapshot`.
    pub async fn snapshot(&self) -> eyre::Result<U256> {
        Ok(self.provider.anvil_snapshot().await?)
    }

    /// `anvil_revert(id)`.
    pub async fn revert_to(&self, id: U256) -> eyre::Result<()> {
        if !self.provider.anvil_revert(id).await? {
            bail!("anvil_revert({id}) refused");
        }
        Ok(())
    }

    /// `anvil_rollback(depth)`: drops the last `depth` blocks and their transactions.
    pub async fn rollback(&self, depth: u64) -> eyre::Result<()> {
        Ok(self.provider.anvil_rollback(Some(depth)).await?)
    }

    /// Every log of the escrow from `from_block` on.
    pub async fn escrow_logs(&self, from_block: u64) -> eyre::Result<Vec<Log>> {
        Ok(self
            .provider
            .get_logs(
                &Filter::new()
                    .address(self.info.escrow)
                    .from_block(from_block),
            )
            .await?)
    }

    /// The escrow's logs of event `E` for settlement `id` from `from_block` on, decoded.
    pub async fn events<E: alloy::sol_types::SolEvent>(
        &self,
        id: B256,
        from_block: u64,
    ) -> eyre::Result<Vec<(Log, E)>> {
        let logs = self
            .provider
            .get_logs(
                &Filter::new()
                    .address(self.info.escrow)
                    .event_signature(E::SIGNATURE_HASH)
                    .topic1(id)
                    .from_block(from_block),
            )
            .await?;
        let mut out = Vec::new();
        for l in logs {
            let e = l.log_decode::<E>()?.inner.data;
            out.push((l, e));
        }
        Ok(out)
    }

    /// The recipient (`to`) of a transaction.
    pub async fn tx_to(&self, hash: B256) -> eyre::Result<Option<Address>> {
        let tx = self
            .provider
            .get_transaction_by_hash(hash)
            .await?
            .ok_or_else(|| eyre!("no transaction {hash}"))?;
        Ok(tx.to())
    }

    /// Gas of every transaction in blocks `from..=head`.
    pub async fn gas_since(&self, from: u64) -> eyre::Result<GasReport> {
        let (head, _) = self.head().await?;
        let mut r = GasReport::default();
        for n in from..=head {
            let receipts = self
                .provider
                .get_block_receipts(n.into())
                .await?
                .unwrap_or_default();
            for rc in receipts {
                r.txs += 1;
                r.gas += rc.gas_used;
                let e = r.by_sender.entry(rc.from).or_default();
                e.0 += 1;
                e.1 += rc.gas_used;
                r.each.push((rc.from, rc.to, rc.gas_used));
            }
        }
        Ok(r)
    }
}

/// A party's custody: its key and a wallet provider per chain.
#[derive(Debug, Clone)]
pub struct Custody {
    /// The custody address.
    pub address: Address,
    providers: BTreeMap<u64, DynProvider>,
}

/// What sending an escrow or token call would do.
#[derive(Debug)]
pub enum CallOutcome {
    /// It would succeed.
    Ok(Bytes),
    /// It reverts with these (decoded) data.
    Reverted(EscrowRevert),
    /// It failed without revert data.
    Failed(String),
}

impl Custody {
    /// A custody for the hex private key on every chain.
    pub fn new(private_key: &str, chains: &[ChainInfo]) -> eyre::Result<Custody> {
        let signer: PrivateKeySigner = private_key.parse().wrap_err("parsing a private key")?;
        let address = signer.address();
        let wallet = EthereumWallet::from(signer);
        let mut providers = BTreeMap::new();
        for c in chains {
            // The pending nonce is read for every transaction: a cached nonce would run
            // ahead after a refused transaction (failed estimate) or a reorg, and every later
            // transaction would wait forever behind the gap.
            let p = ProviderBuilder::new()
                .disable_recommended_fillers()
                .with_gas_estimation()
                .with_simple_nonce_management()
                .fetch_chain_id()
                .wallet(wallet.clone())
                .connect_http(c.rpc_url.parse()?)
                .erased();
            providers.insert(c.chain_id, p);
        }
        Ok(Custody { address, providers })
    }

    fn provider(&self, chain_id: u64) -> eyre::Result<&DynProvider> {
        self.providers
            .get(&chain_id)
            .ok_or_else(|| eyre!("no chain {chain_id}"))
    }

    /// Sends a transaction and waits for its receipt; fails if it reverted.
    pub async fn send(
        &self,
        chain_id: u64,
        to: Address,
        data: Bytes,
        value: U256,
    ) -> eyre::Result<TransactionReceipt> {
        let tx = TransactionRequest::default()
            .from(self.address)
            .to(to)
            .input(data.into())
            .value(value);
        let receipt = self
            .provider(chain_id)?
            .send_transaction(tx)
            .await
            .wrap_err_with(|| format!("sending a transaction to {to} on chain {chain_id}"))?
            .with_timeout(Some(std::time::Duration::from_secs(60)))
            .get_receipt()
            .await?;
        if !receipt.status() {
            bail!(
                "transaction {} to {to} on chain {chain_id} reverted",
                receipt.transaction_hash
            );
        }
        Ok(receipt)
    }

    /// `eth_call` from this custody: what sending the call would do, reverts decoded.
    pub async fn call(
        &self,
        chain_id: u64,
        to: Address,
        data: Bytes,
        value: U256,
    ) -> eyre::Result<CallOutcome> {
        let tx = TransactionRequest::default()
            .from(self.address)
            .to(to)
            .input(data.into())
            .value(value);
        match self.provider(chain_id)?.call(tx).await {
            Ok(out) => Ok(CallOutcome::Ok(out)),
            Err(e) => Ok(match decode_revert(&e) {
                Some(r) => CallOutcome::Reverted(r),
                None => CallOutcome::Failed(e.to_string()),
            }),
        }
    }

    /// The LayerZero fee `deposit` must carry (0 on the local zero-fee stack).
    pub async fn deposit_fee(&self, dep: &DepositInstruction) -> eyre::Result<U256> {
        let data = hex_bytes(dep.calldata()?)?;
        let call = ISettlementEscrow::depositCall::abi_decode(&data)
            .wrap_err("decoding the deposit calldata")?;
        Ok(
            ISettlementEscrow::new(dep.escrow, self.provider(dep.chain_id)?)
                .quoteDeposit(call.terms, call.legIndex)
                .call()
                .await?,
        )
    }

    /// `approve` on the token, exactly the coordinator's calldata.
    pub async fn approve(&self, dep: &DepositInstruction) -> eyre::Result<TransactionReceipt> {
        self.send(
            dep.chain_id,
            dep.token,
            hex_bytes(&dep.approve_calldata)?,
            U256::ZERO,
        )
        .await
        .wrap_err("approve")
    }

    /// `deposit` on the escrow, exactly the coordinator's calldata, with the quoted fee.
    pub async fn deposit(&self, dep: &DepositInstruction) -> eyre::Result<TransactionReceipt> {
        let fee = self.deposit_fee(dep).await?;
        self.send(dep.chain_id, dep.escrow, hex_bytes(dep.calldata()?)?, fee)
            .await
            .wrap_err_with(|| format!("deposit of leg {}", dep.leg_index))
    }

    /// Approve then deposit.
    pub async fn fund(
        &self,
        dep: &DepositInstruction,
    ) -> eyre::Result<(TransactionReceipt, TransactionReceipt)> {
        let a = self.approve(dep).await?;
        let d = self.deposit(dep).await?;
        Ok((a, d))
    }

    /// Mints demo tokens to this custody (DemoToken: anyone may mint).
    pub async fn mint(&self, chain_id: u64, token: Address, amount: U256) -> eyre::Result<()> {
        let data = DemoToken::mintCall {
            to: self.address,
            amount,
        }
        .abi_encode();
        self.send(chain_id, token, data.into(), U256::ZERO).await?;
        Ok(())
    }
}

/// `0x...` hex to bytes.
pub fn hex_bytes(s: &str) -> eyre::Result<Bytes> {
    Ok(Bytes::from(hex::decode(s.trim_start_matches("0x"))?))
}

impl crate::world::World {
    /// Polls chain `chain_id` until its escrow holds settlement `s` in `state`.
    pub async fn wait_escrow(
        &self,
        chain_id: u64,
        s: &crate::world::Submitted,
        state: EscrowState,
    ) -> eyre::Result<()> {
        let started = std::time::Instant::now();
        loop {
            let on = self.chain(chain_id)?.settlement_of(s.onchain_id).await?;
            if on.state == state {
                return Ok(());
            }
            if started.elapsed() > crate::STEP_TIMEOUT {
                eyre::bail!(
                    "escrow on chain {chain_id} still {:?}, expected {state:?}\n{}",
                    on.state,
                    self.context(Some(&s.settlement_id)).await
                );
            }
            tokio::time::sleep(crate::POLL).await;
        }
    }
}
