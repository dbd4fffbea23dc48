//! The agreement rule over one chain's RPC endpoints (R5): the verifier attests a range of
//! blocks only when every endpoint reports the configured chain id, the same block hash at
//! the range's end, and the same `PacketSent` logs (same block, block hash, transaction, log
//! index, emitter and data), and the range ends deep enough on every endpoint
//! ([`safe_end`] takes the lowest head). Anything else is a [`Disagreement`]: the verifier
//! refuses to act on that chain and says why.

use alloy::primitives::{Address, B256, Bytes};

/// A log as one RPC endpoint served it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenLog {
    /// Block number.
    pub block_number: u64,
    /// Hash of the block holding it.
    pub block_hash: B256,
    /// Transaction hash.
    pub tx_hash: B256,
    /// Index in the block.
    pub log_index: u64,
    /// The emitter.
    pub address: Address,
    /// Topics.
    pub topics: Vec<B256>,
    /// Data.
    pub data: Bytes,
}

/// What one RPC endpoint reported for one scanned range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcView {
    /// The endpoint (for messages).
    pub url: String,
    /// `eth_chainId`.
    pub chain_id: u64,
    /// Hash of the block at the range's end.
    pub end_hash: B256,
    /// The `PacketSent` logs of the range, in (block, index) order.
    pub logs: Vec<SeenLog>,
}

/// Why the endpoints of a chain do not agree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Disagreement {
    /// An endpoint serves another chain.
    #[error("{url} serves chain id {got}, expected {expected}")]
    WrongChain {
        /// The endpoint.
        url: String,
        /// Configured chain id.
        expected: u64,
        /// Reported chain id.
        got: u64,
    },
    /// Two endpoints have different blocks at the range's end (a fork, another chain, a
    /// poisoned node).
    #[error("block {block}: {url_a} has hash {hash_a}, {url_b} has {hash_b}")]
    BlockHash {
        /// Block number.
        block: u64,
        /// First endpoint.
        url_a: String,
        /// Its hash.
        hash_a: B256,
        /// The disagreeing endpoint.
        url_b: String,
        /// Its hash.
        hash_b: B256,
    },
    /// Two endpoints return different `PacketSent` logs for the same range.
    #[error(
        "blocks {from}..={to}: {url_a} returned {count_a} PacketSent logs, {url_b} returned {count_b}; first difference: {detail}"
    )]
    Logs {
        /// Range start.
        from: u64,
        /// Range end.
        to: u64,
        /// First endpoint.
        url_a: String,
        /// Its log count.
        count_a: usize,
        /// The disagreeing endpoint.
        url_b: String,
        /// Its log count.
        count_b: usize,
        /// The first differing log (or "none").
        detail: String,
    },
    /// A log outside the requested range or in a block whose hash is not the one reported.
    #[error("{url} returned a log at block {block} outside {from}..={to}")]
    OutOfRange {
        /// The endpoint.
        url: String,
        /// The log's block.
        block: u64,
        /// Range start.
        from: u64,
        /// Range end.
        to: u64,
    },
}

/// The last block at least `confirmations` deep on every endpoint (the head counts as one
/// confirmation), `None` while the chain is shorter than that.
pub fn safe_end(heads: &[u64], confirmations: u64) -> Option<u64> {
    let lowest = heads.iter().copied().min()?;
    (lowest.checked_add(1)?).checked_sub(confirmations.max(1))
}

/// The logs every endpoint agrees on for blocks `from..=to` of chain `chain_id`, or why
/// they do not agree. An empty `views` agrees on nothing (no logs).
pub fn agree(
    chain_id: u64,
    from: u64,
    to: u64,
    views: &[RpcView],
) -> Result<Vec<SeenLog>, Disagreement> {
    for v in views {
        if v.chain_id != chain_id {
            return Err(Disagreement::WrongChain {
                url: v.url.clone(),
                expected: chain_id,
                got: v.chain_id,
            });
        }
        if let Some(l) = v
            .logs
            .iter()
            .find(|l| l.block_number < from || l.block_number > to)
        {
            return Err(Disagreement::OutOfRange {
                url: v.url.clone(),
                block: l.block_number,
                from,
                to,
            });
        }
    }
    let Some((first, rest)) = views.split_first() else {
        return Ok(Vec::new());
    };
    for v in rest {
        if v.end_hash != first.end_hash {
            return Err(Disagreement::BlockHash {
                block: to,
                url_a: first.url.clone(),
                hash_a: first.end_hash,
                url_b: v.url.clone(),
                hash_b: v.end_hash,
            });
        }
        if v.logs != first.logs {
            let detail = first
                .logs
                .iter()
                .zip(&v.logs)
                .find(|(a, b)| a != b)
                .map(|(a, b)| {
                    format!(
                        "block {} log {} (hash {}) vs block {} log {} (hash {})",
                        a.block_number,
                        a.log_index,
                        a.block_hash,
                        b.block_number,
                        b.log_index,
                        b.block_hash
                    )
                })
                .unwrap_or_else(|| "one list is a prefix of the other".into());
            return Err(Disagreement::Logs {
                from,
                to,
                url_a: first.url.clone(),
                count_a: first.logs.len(),
                url_b: v.url.clone(),
                count_b: v.logs.len(),
                detail,
            });
        }
    }
    Ok(first.logs.clone())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn log(block: u64, index: u64, hash: u8) -> SeenLog {
        SeenLog {
            block_number: block,
            block_hash: B256::repeat_byte(hash),
            tx_hash: B256::repeat_byte(0x77),
            log_index: index,
            address: Address::repeat_byte(0xee),
            topics: vec![B256::repeat_byte(0x01)],
            data: Bytes::from(vec![1, 2, 3]),
        }
    }

    fn view(url: &str, chain_id: u64, end: u8, logs: Vec<SeenLog>) -> RpcView {
        RpcView {
            url: url.into(),
            chain_id,
            end_hash: B256::repeat_byte(end),
            logs,
        }
    }

    #[test]
    fn safe_end_takes_the_lowest_head() {
        assert_eq!(safe_end(&[10, 12], 1), Some(10));
        assert_eq!(safe_end(&[10, 12], 3), Some(8));
        assert_eq!(safe_end(&[2], 3), Some(0));
        assert_eq!(safe_end(&[1], 3), None);
        assert_eq!(safe_end(&[], 1), None);
    }

    #[test]
    fn agreeing_endpoints_yield_their_logs() {
        let logs = vec![log(5, 0, 0xa5), log(7, 2, 0xa7)];
        let views = [view("a", 1, 9, logs.clone()), view("b", 1, 9, logs.clone())];
        assert_eq!(agree(1, 5, 9, &views).unwrap(), logs);
        assert_eq!(agree(1, 5, 9, &views[..1]).unwrap(), logs);
        assert_eq!(agree(1, 5, 9, &[]).unwrap(), Vec::new());
    }

    #[test]
    fn another_chain_is_refused() {
        let views = [view("a", 1, 9, vec![]), view("b", 2, 9, vec![])];
        assert_eq!(
            agree(1, 5, 9, &views).unwrap_err(),
            Disagreement::WrongChain {
                url: "b".into(),
                expected: 1,
                got: 2
            }
        );
    }

    #[test]
    fn another_block_hash_at_the_end_is_refused() {
        let views = [view("a", 1, 9, vec![]), view("b", 1, 8, vec![])];
        let e = agree(1, 5, 9, &views).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "block 9: a has hash {}, b has {}",
                B256::repeat_byte(9),
                B256::repeat_byte(8)
            )
        );
    }

    #[test]
    fn missing_or_different_logs_are_refused() {
        let l = log(6, 0, 0xa6);
        // One endpoint hides the log.
        let hidden = [view("a", 1, 9, vec![l.clone()]), view("b", 1, 9, vec![])];
        assert!(matches!(
            agree(1, 5, 9, &hidden).unwrap_err(),
            Disagreement::Logs {
                count_a: 1,
                count_b: 0,
                ..
            }
        ));
        // Same position, another block hash (the log of a reorged-out block).
        let forked = [
            view("a", 1, 9, vec![l.clone()]),
            view("b", 1, 9, vec![log(6, 0, 0xb6)]),
        ];
        let Disagreement::Logs { detail, .. } = agree(1, 5, 9, &forked).unwrap_err() else {
            panic!("expected a log disagreement");
        };
        assert!(
            detail.contains(&B256::repeat_byte(0xb6).to_string()),
            "{detail}"
        );
        // Another payload.
        let mut poisoned = l.clone();
        poisoned.data = Bytes::from(vec![9]);
        let views = [
            view("a", 1, 9, vec![l.clone()]),
            view("b", 1, 9, vec![poisoned]),
        ];
        assert!(matches!(
            agree(1, 5, 9, &views).unwrap_err(),
            Disagreement::Logs { .. }
        ));
    }

    #[test]
    fn a_log_outside_the_range_is_refused() {
        let views = [view("a", 1, 9, vec![log(10, 0, 0xaa)])];
        assert_eq!(
            agree(1, 5, 9, &views).unwrap_err(),
            Disagreement::OutOfRange {
                url: "a".into(),
                block: 10,
                from: 5,
                to: 9
            }
        );
    }
}
