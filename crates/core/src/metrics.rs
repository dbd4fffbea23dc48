//! How a part of the system contributes to the one `/metrics` page: the coordinator serves
//! it and appends the text of every registered [`MetricsSource`] (the chain side's indexer
//! heights, packets by status and keeper actions).

/// A source of Prometheus text-exposition lines (`# HELP`, `# TYPE` and samples).
pub trait MetricsSource: Send + Sync {
    /// Appends this source's metric families to `out`.
    fn render(&self, out: &mut String);
}
