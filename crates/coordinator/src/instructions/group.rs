//! Group commit for instruction intake on SQLite (docs/coordinator.md, "Intake on
//! SQLite's single writer").
//!
//! SQLite has one write connection, and on it every statement is a round trip to sqlx's
//! connection thread; taking the connection from the pool and `BEGIN`/`COMMIT` cost as
//! much as the work of a first side. So submissions are queued to one task, which takes
//! whatever has queued (up to [`MAX_GROUP`]), runs them one after another in **one**
//! transaction and answers each after the commit. Under light load a group is a single
//! submission; under heavy load the connection and the commit are shared. The
//! transaction's `BEGIN IMMEDIATE` travels in one request with the reads the group can
//! make before any submission runs: what is stored under each of its idempotency keys,
//! and each trade reference it names (the first submission naming a reference uses that
//! read; any later one reads again). Both reads have [`MAX_GROUP`] slots whatever the
//! group's size, so the request's text never changes and SQLite prepares it once.
//!
//! Every submission in a group either wrote its instruction (and settlement) or answered
//! without writing anything but housekeeping ([`super::submit::Step`]). If any one fails
//! (a database error, a lost race), the whole group is rolled back and each of its
//! submissions is run again in a transaction of its own, so one failure never changes
//! another's answer. Nothing is answered before its commit; a client that has gone away
//! meanwhile finds its instruction with a replay of the same idempotency key.

use super::intake::Intake;
use super::pairing::reference_read;
use super::store::Deferred;
use super::submit::{Prepared, Step, Stored, Submitted, after_commit, alone, run};
use crate::sql::{ScriptedWrite, Statement};
use crate::{Error, Result};
use lockstep_core::InstructionStatus;
use sqlx::any::AnyRow;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, Row};
use std::collections::HashMap;
use std::sync::LazyLock;
use tokio::sync::{mpsc, oneshot};

/// The most submissions one transaction takes: enough to share the commit under load,
/// few enough that the worker's transactions wait only briefly for the writer.
pub const MAX_GROUP: usize = 16;

/// The group task's thread.
const THREAD: &str = "lockstep-intake";

/// Submissions waiting for the group task; beyond this, submitters wait to queue.
const QUEUE: usize = 1024;

/// One queued submission and where its answer goes.
#[derive(Debug)]
struct Job {
    prepared: Prepared,
    reply: oneshot::Sender<Result<Submitted>>,
}

/// The handle submissions are queued through (cheap to clone).
#[derive(Debug, Clone)]
pub struct GroupCommit {
    jobs: mpsc::Sender<Job>,
}

impl GroupCommit {
    /// Starts the group task over `ctx` (whose own `group` must be `None`) on a thread of
    /// its own ([`lockstep_core::spawn_on_own_thread`]: it holds the writer, and there it
    /// does not wait behind the HTTP handlers after each statement). The task ends when
    /// every handle is dropped.
    pub fn spawn(ctx: Intake) -> Result<GroupCommit> {
        let (jobs, rx) = mpsc::channel(QUEUE);
        lockstep_core::spawn_on_own_thread(THREAD, group_task(ctx, rx)).map_err(|source| {
            Error::Thread {
                task: THREAD,
                source,
            }
        })?;
        Ok(GroupCommit { jobs })
    }

    /// Queues a prepared submission and waits for its answer, given after its commit.
    pub(super) async fn submit(&self, prepared: Prepared) -> Result<Submitted> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { prepared, reply })
            .await
            .map_err(|_| Error::Stopped("instruction intake"))?;
        answer
            .await
            .map_err(|_| Error::Stopped("instruction intake"))?
    }
}

/// Takes the queued submissions in groups until every handle is gone.
async fn group_task(ctx: Intake, mut rx: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_GROUP);
    while rx.recv_many(&mut jobs, MAX_GROUP).await > 0 {
        let group = std::mem::take(&mut jobs);
        let size = group.len();
        match ctx.db.pool().acquire().await {
            Ok(mut conn) => run_group(&ctx, &mut conn, group).await,
            Err(e) => {
                tracing::warn!(error = %e, size, "instruction intake: no database connection");
                for job in group {
                    let _ = job
                        .reply
                        .send(Err(Error::Database(sqlx::Error::PoolTimedOut)));
                }
            }
        }
    }
}

/// Runs a group in one transaction; if that fails, each submission alone.
async fn run_group(ctx: &Intake, conn: &mut PoolConnection<Any>, group: Vec<Job>) {
    if group.len() > 1 {
        match together(ctx, conn, &group).await {
            Ok(Some(answers)) => {
                for (job, (answer, written)) in group.into_iter().zip(answers) {
                    if let Some(matched) = written {
                        after_commit(ctx, matched);
                    }
                    let _ = job.reply.send(Ok(answer));
                }
                return;
            }
            Ok(None) => tracing::info!(
                size = group.len(),
                "instruction group rolled back (an idempotency key raced); running its submissions one by one"
            ),
            Err(e) => tracing::info!(
                error = %e,
                size = group.len(),
                "instruction group rolled back; running its submissions one by one"
            ),
        }
    }
    for job in group {
        let answer = alone(conn, ctx, &job.prepared).await;
        let _ = job.reply.send(answer);
    }
}

/// An answer, with `Some(matched)` when the submission was written.
type Answer = (Submitted, Option<bool>);

/// The answers of a group run in one transaction; `Ok(None)` when a submission lost an
/// insert race and `Err` when one failed (either way everything is rolled back).
///
/// The transaction's `BEGIN IMMEDIATE` goes to SQLite in one request with the group's
/// reads that need nothing but the requests: every key's stored answer and every named
/// trade reference ([`ScriptedWrite`]).
async fn together(
    ctx: &Intake,
    conn: &mut PoolConnection<Any>,
    group: &[Job],
) -> Result<Option<Vec<Answer>>> {
    let (mut known, keys) = keys_of(group);
    let mut references: Vec<&str> = Vec::new();
    for tr in group.iter().filter_map(|j| j.prepared.trade_reference()) {
        if !references.contains(&tr) {
            references.push(tr);
        }
    }
    // One text whatever the group holds (unused slots are NULL): prepared once.
    let mut read_references =
        Statement::new(REFERENCES_READ.as_str()).bind(InstructionStatus::PendingMatch.as_str());
    for i in 0..MAX_GROUP {
        read_references = read_references.bind(references.get(i).copied());
    }
    let opening = vec![keys, read_references];
    let (mut tx, done) = ScriptedWrite::begin(conn, opening).await?;
    let mut done = done.into_iter();
    let rows = done.next().map(|d| d.rows).unwrap_or_default();
    let read = done.next().map(|d| d.rows).unwrap_or_default();
    let answered = match stored_under(&mut known, rows) {
        Ok(()) => in_transaction(ctx, tx.conn(), group, &known, read).await,
        Err(e) => Err(e),
    };
    match answered {
        Ok(Some(answers)) => {
            tx.commit(Vec::new()).await?;
            Ok(Some(answers))
        }
        Ok(None) => {
            tx.rollback().await?;
            Ok(None)
        }
        Err(e) => {
            if let Err(r) = tx.rollback().await {
                tracing::error!(error = %r, "rolling back an instruction group failed");
            }
            Err(e)
        }
    }
}

/// The group's submissions inside its transaction, given what its opening request read:
/// `known` under the keys and the [`REFERENCES_READ`] row of each named reference.
async fn in_transaction(
    ctx: &Intake,
    conn: &mut AnyConnection,
    group: &[Job],
    known: &HashMap<(&str, &str), Known>,
    read: Vec<AnyRow>,
) -> Result<Option<Vec<Answer>>> {
    let mut answers = Vec::with_capacity(group.len());
    // The group's writes, put off to one flush before the commit; flushed earlier when a
    // submission's reads must see them (its reference is deferred, or its key repeats).
    let mut deferred = Deferred::with_references(read)?;
    for job in group {
        let p = &job.prepared;
        let known = known.get(&(p.platform.as_str(), p.key.as_str()));
        let repeated = matches!(known, Some(Known::Repeated));
        if repeated || p.trade_reference().is_some_and(|tr| deferred.names(tr)) {
            deferred.flush(conn).await?;
        }
        // A key used twice in the group is looked up in turn (the first may write it).
        let k = match known {
            Some(Known::Once(stored)) => Some(stored.as_ref()),
            Some(Known::Repeated) | None => None,
        };
        answers.push(match run(conn, ctx, p, k, Some(&mut deferred)).await? {
            Step::Answer(a) => (a, None),
            Step::Written { view, matched } => (Submitted::Created(view), Some(matched)),
            Step::LostRace => return Ok(None),
        });
    }
    deferred.flush(conn).await?;
    Ok(Some(answers))
}

/// What the group's one idempotency read found under a `(platform, key)`.
#[derive(Debug)]
enum Known {
    /// The key appears once in the group: what is stored under it (`None`: unused).
    Once(Option<Stored>),
    /// The key appears more than once: each is looked up in turn.
    Repeated,
}

/// The read of what is stored under up to [`MAX_GROUP`] `(platform, key)` pairs (`$1`,
/// `$2` the first); the lookups' unique index, `instructions_idempotency`, serves each OR
/// branch.
static KEYS_READ: LazyLock<String> = LazyLock::new(|| {
    let each: Vec<String> = (0..MAX_GROUP)
        .map(|i| {
            format!(
                "(platform_id = ${} AND idempotency_key = ${})",
                2 * i + 1,
                2 * i + 2
            )
        })
        .collect();
    format!(
        "SELECT platform_id, idempotency_key, request_hash, response_body FROM instructions WHERE {}",
        each.join(" OR ")
    )
});

/// The [`reference_read`] of up to [`MAX_GROUP`] trade references (`$2`, ...; `$1` the
/// pending status), one row each, with its reference as `tr`.
static REFERENCES_READ: LazyLock<String> = LazyLock::new(|| {
    let (columns, joins) = reference_read("r.tr", "$1");
    format!(
        "WITH r(tr) AS (VALUES {}) SELECT r.tr AS tr, {columns} FROM r {joins} WHERE r.tr IS NOT NULL",
        crate::sql::value_rows_after(1, MAX_GROUP, 1, "")
    )
});

/// Every `(platform, key)` of the group, and the one statement that reads what is stored
/// under the keys that appear once (the lookups' unique index, `instructions_idempotency`,
/// serves each OR branch). Its text is the same for every group: [`MAX_GROUP`] branches,
/// those not needed bound to NULL (which matches nothing).
fn keys_of(group: &[Job]) -> (HashMap<(&str, &str), Known>, Statement<'_>) {
    let mut known: HashMap<(&str, &str), Known> = HashMap::new();
    for job in group {
        let k = (job.prepared.platform.as_str(), job.prepared.key.as_str());
        known
            .entry(k)
            .and_modify(|e| *e = Known::Repeated)
            .or_insert(Known::Once(None));
    }
    let once: Vec<(&str, &str)> = known
        .iter()
        .filter(|(_, v)| matches!(v, Known::Once(_)))
        .map(|(k, _)| *k)
        .collect();
    let mut q = Statement::new(KEYS_READ.as_str());
    for i in 0..MAX_GROUP {
        let (platform, key) = once.get(i).copied().unzip();
        q = q.bind(platform).bind(key);
    }
    (known, q)
}

/// Records in `known` what the [`keys_of`] statement returned.
fn stored_under(known: &mut HashMap<(&str, &str), Known>, rows: Vec<AnyRow>) -> Result<()> {
    for r in rows {
        let platform: String = r.try_get("platform_id")?;
        let key: String = r.try_get("idempotency_key")?;
        let stored = Stored {
            request_hash: r.try_get("request_hash")?,
            response_body: r.try_get("response_body")?,
        };
        let Some(k) = known
            .keys()
            .find(|(p, k)| *p == platform && *k == key)
            .copied()
        else {
            continue;
        };
        if let Some(e @ Known::Once(_)) = known.get_mut(&k) {
            *e = Known::Once(Some(stored));
        }
    }
    Ok(())
}
