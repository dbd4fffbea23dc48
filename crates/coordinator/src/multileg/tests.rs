use super::*;
use crate::terms::build_terms;
use crate::trade::{InstructionRequest, Party, Role};
use alloy::primitives::{Address, address};
use lockstep_core::EscrowChain;

const ASSET: &str = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
const EUR: &str = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359";
const USD: &str = "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB";
const SELLER: Address = address!("0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb");
const BUYER: Address = address!("0x52908400098527886E0F7030069857D2E4169EE7");
const FX: Address = address!("0x8617E340B3D01FA5F11F306F4090FD50E238070D");

fn escrows() -> Escrows {
    let chain = |chain_id: u64, eid: u32| EscrowChain {
        chain_id,
        eid,
        escrow: Address::with_last_byte(u8::try_from(eid % 256).unwrap()),
        max_settlement_duration_secs: None,
    };
    Escrows::new(vec![chain(1, 40161), chain(2, 40162), chain(3, 40163)]).unwrap()
}

fn leg(t: LegType, token: &str, qty: &str, d: Direction, chain_id: u64) -> LegInput {
    LegInput {
        leg_type: t,
        instrument_id: token.into(),
        quantity: qty.into(),
        direction: d,
        chain_id,
    }
}

fn body(role: Role, wallet: Address, legs: Vec<LegInput>) -> InstructionBody {
    InstructionRequest {
        idempotency_key: "k".into(),
        template_slug: "dvp-fx".into(),
        role,
        party: Party {
            external_reference: "r".into(),
            name: "n".into(),
            wallet_address: wallet.to_checksum(None),
            chain_id: 1,
            deposit_authorization: None,
            deposit_address: None,
        },
        legs,
        timeout_at: String::new(),
        trade_reference: None,
        counterparty_platform_id: None,
        counterparty_platform_ids: None,
        maturity_at: None,
        repayment_amount: None,
        repo_rate: None,
    }
}

/// Seller: asset on chain 1 for EUR on `eur_chain`; buyer: USD on chain 2 for the asset;
/// FX provider: USD in, EUR out.
fn fx_trade(eur_chain: u64) -> [InstructionBody; 3] {
    use Direction::{Deliver, Receive};
    use LegType::{AssetDelivery, Payment};
    [
        body(
            Role::Seller,
            SELLER,
            vec![
                leg(AssetDelivery, ASSET, "1000", Deliver, 1),
                leg(Payment, EUR, "230", Receive, eur_chain),
            ],
        ),
        body(
            Role::Buyer,
            BUYER,
            vec![
                leg(Payment, USD, "250", Deliver, 2),
                leg(AssetDelivery, ASSET, "1000", Receive, 1),
            ],
        ),
        body(
            Role::FxProvider,
            FX,
            vec![
                leg(Payment, EUR, "230", Deliver, eur_chain),
                leg(Payment, USD, "250", Receive, 2),
            ],
        ),
    ]
}

fn build(parties: &[&InstructionBody]) -> BuiltTerms {
    build_multi_party_terms(
        "LS-M",
        1_900_000_000_000,
        B256::ZERO,
        parties,
        &escrows(),
        PrivateKeySigner::random,
    )
    .unwrap()
}

#[test]
fn two_parties_give_exactly_the_two_party_terms() {
    use Direction::{Deliver, Receive};
    use LegType::{AssetDelivery, Payment};
    // Cross-chain: the asset on chain 2, the payment on chain 1 (the hub is the asset's).
    let seller = body(
        Role::Seller,
        SELLER,
        vec![
            leg(Payment, EUR, "5", Receive, 1),
            leg(AssetDelivery, ASSET, "7", Deliver, 2),
        ],
    );
    let buyer = body(
        Role::Buyer,
        BUYER,
        vec![
            leg(AssetDelivery, ASSET, "7", Receive, 2),
            leg(Payment, EUR, "5", Deliver, 1),
        ],
    );
    let two = build_terms(
        "LS-M",
        1_900_000_000_000,
        B256::ZERO,
        [&seller, &buyer],
        &escrows(),
        PrivateKeySigner::random,
    )
    .unwrap();
    let multi = build(&[&seller, &buyer]);
    assert_eq!(multi.terms, two.terms);
    assert_eq!(multi.secrets, two.secrets);
    assert_eq!(multi.terms.hubEid, 40162);
}

#[test]
fn three_parties_pay_each_leg_to_its_receiver_on_three_chains() {
    let [s, b, f] = fx_trade(3);
    let t = build(&[&s, &b, &f]);
    let legs: Vec<(u32, Address, Address)> = t
        .terms
        .legs
        .iter()
        .map(|l| (l.eid, l.depositor, l.recipient))
        .collect();
    assert_eq!(
        legs,
        [
            (40161, SELLER, BUYER), // the asset, seller to buyer
            (40162, BUYER, FX),     // USD, buyer to the FX provider
            (40163, FX, SELLER),    // EUR, FX provider to seller
        ]
    );
    assert_eq!(t.terms.legs[1].amount, alloy::primitives::U256::from(250));
    let roles: Vec<&str> = t
        .secrets
        .iter()
        .map(|e| e["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["seller", "buyer", "fx_provider"]);
    // One leg per chain: the tie goes to the first leg's chain.
    assert_eq!(t.terms.hubEid, 40161);
}

#[test]
fn the_hub_is_the_chain_with_most_legs() {
    // EUR on chain 2 too: chain 2 carries two legs and becomes the hub.
    let [s, b, f] = fx_trade(2);
    assert_eq!(build(&[&s, &b, &f]).terms.hubEid, 40162);
    // The rule reads the legs only: the same legs give the same hub in any party order.
    assert_eq!(build(&[&f, &b, &s]).terms.hubEid, 40162);
}

#[test]
fn unpaired_legs_and_too_many_legs_are_refused() {
    let [s, b, _] = fx_trade(3);
    let e = build_multi_party_terms(
        "LS-M",
        1,
        B256::ZERO,
        &[&s, &b],
        &escrows(),
        PrivateKeySigner::random,
    )
    .unwrap_err();
    assert!(e.to_string().contains("buyer: no party receives"), "{e}");
    let many = |n: usize| {
        (0..n)
            .map(|i| {
                let token = Address::with_last_byte(u8::try_from(i + 1).unwrap()).to_checksum(None);
                (
                    leg(LegType::Payment, &token, "1", Direction::Deliver, 1),
                    leg(LegType::Payment, &token, "1", Direction::Receive, 1),
                )
            })
            .unzip::<_, _, Vec<_>, Vec<_>>()
    };
    let (d, r) = many(33);
    let (a, b) = (body(Role::Seller, SELLER, d), body(Role::Buyer, BUYER, r));
    let e = build_multi_party_terms(
        "LS-M",
        1,
        B256::ZERO,
        &[&a, &b],
        &escrows(),
        PrivateKeySigner::random,
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("33 legs; an escrow settles at most 32"),
        "{e}"
    );
    let (d, r) = many(32);
    let (a, b) = (body(Role::Seller, SELLER, d), body(Role::Buyer, BUYER, r));
    assert_eq!(build(&[&a, &b]).terms.legs.len(), 32);
}
