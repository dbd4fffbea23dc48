//! The settlement state machine: [`create`], the guarded [`transition`] (edges from
//! `lockstep_core::TRANSITIONS`), the one builder of the hash-chained event record
//! ([`event_record`], also used by [`verify_trail`]) and the one post-commit hook
//! ([`AfterCommit`]). Nothing else writes `settlements.state`.

use super::store::{self, EventView, SettlementRow};
use crate::metrics::Metrics;
use crate::sql::Statement;
use crate::webhooks::outbox;
use crate::{Error, Result, rfc3339};
use lockstep_core::{Db, SettlementState, now_ms, onchain_settlement_id};
use serde_json::{Value, json};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::sync::Arc;
use tokio::sync::Notify;

/// What happens after a settlement change commits: the transition counter, and the
/// wake-ups of the webhook worker (the outbox gained deliveries) and of the settlement
/// worker (a settlement has a next step). Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct AfterCommit {
    metrics: Arc<Metrics>,
    webhooks: Arc<Notify>,
    settlements: Arc<Notify>,
}

impl AfterCommit {
    /// A hook counting into `metrics`, with fresh wake-ups.
    pub fn new(metrics: Arc<Metrics>) -> AfterCommit {
        AfterCommit {
            metrics,
            webhooks: Arc::default(),
            settlements: Arc::default(),
        }
    }

    /// After a committed transition to `to` (or a creation, `to` = `INSTRUCTED`): counts
    /// it and wakes the webhook worker.
    pub fn transitioned(&self, to: SettlementState) {
        self.metrics
            .inc("lockstep_transitions_total", format!("to=\"{to}\""));
        self.webhooks.notify_one();
    }

    /// After webhooks were queued without a transition.
    pub fn queued_webhooks(&self) {
        self.webhooks.notify_one();
    }

    /// After a settlement gained a step for the settlement worker.
    pub fn wake_settlements(&self) {
        self.settlements.notify_one();
    }

    /// The counters.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The webhook worker's wake-up.
    pub fn webhook_wake(&self) -> Arc<Notify> {
        self.webhooks.clone()
    }

    /// The settlement worker's wake-up.
    pub fn settlement_wake(&self) -> Arc<Notify> {
        self.settlements.clone()
    }
}

/// The record an event's hash covers: `{settlement_id, seq, from_state, to_state, cause,
/// at, prev_hash}` with `at` in RFC 3339. Written and verified from this one builder.
pub fn event_record(
    settlement_id: &str,
    seq: i64,
    from: Option<SettlementState>,
    to: SettlementState,
    cause: &str,
    at: &str,
    prev_hash: Option<&str>,
) -> Value {
    json!({
        "settlement_id": settlement_id,
        "seq": seq,
        "from_state": from.map(|s| s.as_str()),
        "to_state": to.as_str(),
        "cause": cause,
        "at": at,
        "prev_hash": prev_hash,
    })
}

/// `sha256:<hex>` over the JCS form of an event record.
fn event_hash(record: &Value) -> Result<String> {
    lockstep_evidence::ref_of(record)
        .map(|r| r.as_str().to_string())
        .map_err(|e| Error::Corrupt {
            what: "event record",
            message: e.to_string(),
        })
}

/// Recomputes every hash of a trail (what an auditor does).
pub fn verify_trail(settlement_id: &str, events: &[EventView]) -> bool {
    let mut prev: Option<String> = None;
    for e in events {
        let record = event_record(
            settlement_id,
            e.seq,
            e.from_state,
            e.to_state,
            &e.cause,
            &e.at,
            e.prev_hash.as_deref(),
        );
        if e.prev_hash != prev || event_hash(&record).ok().as_deref() != Some(e.hash.as_str()) {
            return false;
        }
        prev = Some(e.hash.clone());
    }
    true
}

/// The last event of a settlement's trail (`seq`, `hash`; `None`: no event yet), as the
/// guarded update returns it.
pub(crate) type TrailHead = Option<(i64, String)>;

/// The trail head a `RETURNING` with [`TRAIL_HEAD_RETURNING`] gave.
pub(crate) fn trail_head(r: &AnyRow) -> Result<TrailHead> {
    Ok(match r.try_get::<Option<i64>, _>("last_seq")? {
        Some(seq) => Some((seq, r.try_get::<String, _>("last_hash")?)),
        None => None,
    })
}

/// What an UPDATE of `settlements` returns so the event it appends costs no separate
/// read: the row's id and the head of its trail (read backwards through the events'
/// primary key). A macro so the guarded update can be one `concat!`.
macro_rules! trail_head_returning {
    () => {
        " RETURNING id, (SELECT seq FROM settlement_events WHERE settlement_events.settlement_id = settlements.id ORDER BY seq DESC LIMIT 1) AS last_seq, (SELECT hash FROM settlement_events WHERE settlement_events.settlement_id = settlements.id ORDER BY seq DESC LIMIT 1) AS last_hash"
    };
}

/// [`trail_head_returning!`] as a string.
pub(crate) const TRAIL_HEAD_RETURNING: &str = trail_head_returning!();

/// The next event of one settlement's trail.
#[derive(Debug)]
pub(crate) struct NextEvent<'a> {
    /// The settlement.
    pub(crate) settlement_id: &'a str,
    /// Its trail's head before this event.
    pub(crate) head: TrailHead,
    /// The state it leaves (`None` for its creation).
    pub(crate) from: Option<SettlementState>,
    /// The state it enters.
    pub(crate) to: SettlementState,
    /// Why.
    pub(crate) cause: &'a str,
    /// When, ms.
    pub(crate) at: i64,
}

/// Appends each event to its settlement's trail after its head, chained to the head's
/// hash, with one multi-row INSERT.
pub(crate) async fn append_events(
    conn: &mut AnyConnection,
    events: &[NextEvent<'_>],
) -> Result<()> {
    if let Some(statement) = trail_statement(events)? {
        statement.execute(conn).await?;
    }
    Ok(())
}

/// The INSERT of [`append_events`] (`None` for no events).
pub(crate) fn trail_statement<'a>(events: &[NextEvent<'a>]) -> Result<Option<Statement<'a>>> {
    if events.is_empty() {
        return Ok(None);
    }
    let sql = format!(
        "INSERT INTO settlement_events (settlement_id, seq, from_state, to_state, cause, at, prev_hash, hash) VALUES {}",
        crate::sql::value_rows(events.len(), 8)
    );
    let mut q = Statement::new(sql);
    for e in events {
        let (seq, prev_hash) = match &e.head {
            Some((seq, hash)) => (seq + 1, Some(hash.clone())),
            None => (1, None),
        };
        let record = event_record(
            e.settlement_id,
            seq,
            e.from,
            e.to,
            e.cause,
            &rfc3339(e.at),
            prev_hash.as_deref(),
        );
        q = q
            .bind(e.settlement_id)
            .bind(seq)
            .bind(e.from.map(|s| s.as_str()))
            .bind(e.to.as_str())
            .bind(e.cause)
            .bind(e.at)
            .bind(prev_hash)
            .bind(event_hash(&record)?);
    }
    Ok(Some(q))
}

/// The webhook `data` of a settlement event.
pub(crate) fn event_data(
    s: &SettlementRow,
    state: SettlementState,
    previous: Option<SettlementState>,
    at: i64,
) -> Value {
    let mut data = json!({
        "settlement_id": s.id,
        "state": state.as_str(),
        "previous_state": previous.map(|p| p.as_str()),
        "settlement_type": s.template_slug,
        "timestamp": rfc3339(at),
    });
    // A repo close names its opening in every event of its own lifecycle.
    if let Some(parent) = &s.parent_settlement_id {
        data["parent_settlement_id"] = Value::from(parent.as_str());
    }
    data
}

/// Writes one outbox event per involved platform, in one statement.
pub(crate) async fn notify_parties(
    conn: &mut AnyConnection,
    s: &SettlementRow,
    event: &str,
    data: &Value,
) -> Result<()> {
    let platforms = store::platforms_of(conn, s).await?;
    let rows: Vec<(&str, &str, &Value)> = platforms
        .iter()
        .map(|p| (p.as_str(), event, data))
        .collect();
    outbox::enqueue_rows(conn, &rows, None).await?;
    Ok(())
}

/// The guarded state update (`$1` new state, `$2` time, `$3` id, `$4` expected state): by
/// primary key, with the state check in the WHERE clause. No index leads with `state`, so
/// even a generic plan on a never-analysed PostgreSQL database probes the primary key
/// (migration 0008, tests/plans.rs).
///
/// It returns the head of the settlement's event trail (its primary key, read backwards),
/// so the event the transition appends costs no separate read.
pub const GUARDED_TRANSITION: &str = concat!(
    "UPDATE settlements SET state = $1, updated_at = $2 WHERE id = $3 AND state = $4",
    trail_head_returning!()
);

/// What a batch transition ([`super::many::transition_all_with`]) writes for one
/// settlement besides the state, in the same statements: further `settlements` columns
/// (text) set by the guarded update, and further webhook events to every party, queued
/// after the state's own event.
#[derive(Debug, Default)]
pub struct Also<'a> {
    /// `(column, value)` pairs; the column names are the code's own, never input.
    pub columns: Vec<(&'static str, String)>,
    /// `(event type, data)` pairs.
    pub events: Vec<(&'a str, Value)>,
}

/// Moves a settlement along one edge of the state machine table, inside the caller's
/// transaction: checks the edge, updates the row only if it is still in `s.state`
/// ([`GUARDED_TRANSITION`]), appends the hashed event and writes the webhook outbox rows.
/// The caller runs [`AfterCommit::transitioned`] after committing.
pub async fn transition(
    conn: &mut AnyConnection,
    s: &SettlementRow,
    to: SettlementState,
    cause: &str,
) -> Result<()> {
    if !s.state.can_transition_to(to) {
        return Err(Error::IllegalTransition {
            settlement_id: s.id.clone(),
            from: s.state,
            to,
        });
    }
    let now = now_ms();
    let Some(r) = sqlx::query(GUARDED_TRANSITION)
        .bind(to.as_str())
        .bind(now)
        .bind(&s.id)
        .bind(s.state.as_str())
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Err(Error::ConcurrentTransition {
            settlement_id: s.id.clone(),
            expected: s.state,
        });
    };
    let next = NextEvent {
        settlement_id: &s.id,
        head: trail_head(&r)?,
        from: Some(s.state),
        to,
        cause,
        at: now,
    };
    append_events(conn, &[next]).await?;
    let data = event_data(s, to, Some(s.state), now);
    notify_parties(conn, s, to.event_name().as_str(), &data).await?;
    crate::repo::status::close_moved(conn, s, to).await
}

/// Creates a settlement in `INSTRUCTED` with its first event ("matched instructions
/// ..."), inside the caller's transaction (the caller runs [`AfterCommit::transitioned`]
/// after committing).
pub async fn create(conn: &mut AnyConnection, s: &SettlementRow) -> Result<()> {
    create_with_cause(conn, s, &creation_cause(s)).await
}

/// The first event's cause of a matched settlement: "matched instructions A and B" (or
/// "A, B and C").
pub(crate) fn creation_cause(s: &SettlementRow) -> String {
    let mut ids = vec![
        s.seller_instruction_id.as_str(),
        s.buyer_instruction_id.as_str(),
    ];
    ids.extend(s.more_parties.iter().map(|p| p.instruction_id.as_str()));
    match ids.split_last() {
        Some((last, rest)) if rest.len() > 1 => {
            format!("matched instructions {} and {last}", rest.join(", "))
        }
        _ => format!(
            "matched instructions {} and {}",
            s.seller_instruction_id, s.buyer_instruction_id
        ),
    }
}

/// The columns a new settlement row is inserted with, and one row's placeholders
/// (`$o+1` ..., `created_at` bound once for both times).
const NEW_SETTLEMENT_COLUMNS: &str = "id, trade_reference, template_slug, state, seller_instruction_id, buyer_instruction_id, seller_platform_id, buyer_platform_id, timeout_at, created_at, updated_at, onchain_id, parent_settlement_id, repo_status, repo_maturity_at, closing_terms, closing_terms_ref";

/// The placeholders of one new settlement row whose 16 values start at `$o+1`.
fn new_settlement_values(o: usize) -> String {
    let p: Vec<String> = (1..=16).map(|i| format!("${}", o + i)).collect();
    format!(
        "({}, {}, {}, {})",
        p[..10].join(", "),
        p[9],
        p[10],
        p[11..].join(", ")
    )
}

/// Binds the 16 values of a new settlement row (see [`new_settlement_values`]).
fn bind_new_settlement<'q>(q: Statement<'q>, s: &'q SettlementRow) -> Statement<'q> {
    q.bind(&s.id)
        .bind(&s.trade_reference)
        .bind(&s.template_slug)
        .bind(SettlementState::Instructed.as_str())
        .bind(&s.seller_instruction_id)
        .bind(&s.buyer_instruction_id)
        .bind(&s.seller_platform_id)
        .bind(&s.buyer_platform_id)
        .bind(s.timeout_at)
        .bind(s.created_at)
        .bind(onchain_settlement_id(&s.trade_reference).to_string())
        .bind(s.parent_settlement_id.clone())
        .bind(s.repo_status.0.map(|r| r.as_str().to_string()))
        .bind(s.repo_maturity_at)
        .bind(s.closing_terms.clone())
        .bind(s.closing_terms_ref.clone())
}

/// [`create`] with the first event's `cause` given (a repo close registered by the
/// coordinator rather than matched).
pub async fn create_with_cause(
    conn: &mut AnyConnection,
    s: &SettlementRow,
    cause: &str,
) -> Result<()> {
    create_all(conn, &[(s, cause.to_string())]).await
}

/// Creates every settlement of `batch` in `INSTRUCTED`, each with its first event (the
/// given cause) and a webhook event per party, inside the caller's transaction
/// ([`creation`]). The caller runs [`AfterCommit::transitioned`] for each after
/// committing.
pub async fn create_all(
    conn: &mut AnyConnection,
    batch: &[(&SettlementRow, String)],
) -> Result<()> {
    if let Some(c) = creation(conn, batch).await? {
        outbox::run_with_events(conn, c.statements, c.events).await?;
    }
    Ok(())
}

/// The writes that create a batch of settlements: its statements, to run in order (the
/// last one's rows go to [`outbox::Events::deliver`]), and the webhook events whose
/// deliveries are then written.
pub(crate) struct Creation<'a> {
    /// One INSERT each for the settlements, their parties (positions 0 and 1 are the
    /// seller and buyer columns), their events and their webhook events, plus the
    /// `party_count` of a settlement with more than two parties.
    pub(crate) statements: Vec<Statement<'a>>,
    /// The webhook events the last statement writes (`None`: no party to notify, and no
    /// such statement).
    pub(crate) events: Option<outbox::Events<'static>>,
}

/// The [`Creation`] of `batch` (`None` when it is empty), each settlement's first event
/// with the given cause.
pub(crate) async fn creation<'a>(
    conn: &mut AnyConnection,
    batch: &'a [(&'a SettlementRow, String)],
) -> Result<Option<Creation<'a>>> {
    if batch.is_empty() {
        return Ok(None);
    }
    let values: Vec<String> = (0..batch.len())
        .map(|i| new_settlement_values(16 * i))
        .collect();
    let sql = format!(
        "INSERT INTO settlements ({NEW_SETTLEMENT_COLUMNS}) VALUES {}",
        values.join(", ")
    );
    let mut q = Statement::new(sql);
    for (s, _) in batch {
        q = bind_new_settlement(q, s);
    }
    let mut statements = vec![q];
    statements.extend(parties_statements(batch));
    let events: Vec<NextEvent<'_>> = batch
        .iter()
        .map(|(s, cause)| NextEvent {
            settlement_id: &s.id,
            head: None,
            from: None,
            to: SettlementState::Instructed,
            cause,
            at: s.created_at,
        })
        .collect();
    statements.extend(trail_statement(&events)?);
    let event_name = SettlementState::Instructed.event_name();
    let event = event_name.as_str();
    let mut rows = Vec::with_capacity(2 * batch.len());
    for (s, _) in batch {
        let data = event_data(s, SettlementState::Instructed, None, s.created_at);
        rows.push((store::platforms_of(conn, s).await?, data));
    }
    let rows: Vec<(&str, &str, &Value)> = rows
        .iter()
        .flat_map(|(ps, d)| ps.iter().map(move |p| (p.as_str(), event, d)))
        .collect();
    let events = match outbox::events_statement(&rows, None)? {
        Some((webhooks, events)) => {
            statements.push(webhooks);
            Some(events)
        }
        None => None,
    };
    Ok(Some(Creation { statements, events }))
}

/// The INSERT of every party of new settlements to `settlement_parties`, and the UPDATE
/// of the `party_count` of each with more than two.
fn parties_statements<'a>(batch: &'a [(&'a SettlementRow, String)]) -> Vec<Statement<'a>> {
    let mut parties = Vec::new();
    for (s, _) in batch {
        let first = [
            ("seller", &s.seller_platform_id, &s.seller_instruction_id),
            ("buyer", &s.buyer_platform_id, &s.buyer_instruction_id),
        ];
        let more =
            (s.more_parties.iter()).map(|p| (p.role.as_str(), &p.platform_id, &p.instruction_id));
        for (position, (role, platform, instruction)) in first.into_iter().chain(more).enumerate() {
            parties.push((
                &s.id,
                i64::try_from(position).unwrap_or(i64::MAX),
                role,
                platform,
                instruction,
            ));
        }
    }
    let sql = format!(
        "INSERT INTO settlement_parties (settlement_id, position, role, platform_id, instruction_id) VALUES {}",
        crate::sql::value_rows(parties.len(), 5)
    );
    let mut q = Statement::new(sql);
    for (id, position, role, platform, instruction) in parties {
        q = q
            .bind(id)
            .bind(position)
            .bind(role)
            .bind(platform)
            .bind(instruction);
    }
    let mut statements = vec![q];
    for (s, _) in batch.iter().filter(|(s, _)| !s.more_parties.is_empty()) {
        statements.push(
            Statement::new("UPDATE settlements SET party_count = $1 WHERE id = $2")
                .bind(i64::try_from(2 + s.more_parties.len()).unwrap_or(i64::MAX))
                .bind(&s.id),
        );
    }
    statements
}

/// Applies one transition in its own transaction, then runs the post-commit hook: the
/// entry point for the settlement worker's own steps and (through the ledger) the chain
/// side.
pub async fn apply_transition(
    db: &Db,
    hook: &AfterCommit,
    id: &str,
    to: SettlementState,
    cause: &str,
) -> Result<()> {
    let mut tx = db.pool().begin().await?;
    let s = store::load(&mut tx, id).await?.ok_or(Error::NotFound {
        kind: "settlement",
        id: id.into(),
    })?;
    transition(&mut tx, &s, to, cause).await?;
    tx.commit().await?;
    hook.transitioned(to);
    Ok(())
}
