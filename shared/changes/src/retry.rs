//! Writes that lost a race are read again and tried again: the core's writes are computed from
//! what they read, so the retry decides afresh (and refuses when the race made it moot).

use std::future::Future;

use crate::ChangeError;

/// How many times a write computed from a fresh read is tried.
pub const ATTEMPTS: usize = 8;

/// Runs `attempt` until it does not fail with a conflict, at most [`ATTEMPTS`] times.
pub async fn on_conflict<T, F, Fut>(mut attempt: F) -> Result<T, ChangeError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Attempt>>,
{
    let mut last = ChangeError::Conflict("the change request or its tenant kept changing; retry".into());
    for n in 0..ATTEMPTS {
        match attempt().await {
            Ok(v) => return Ok(v),
            Err(Attempt::Lost(e)) => {
                tracing::debug!(attempt = n + 1, error = %e, "write lost a race; reading again");
                last = e;
                tokio::time::sleep(std::time::Duration::from_millis(5 << n.min(6))).await;
            }
            Err(Attempt::Final(e)) => return Err(e),
        }
    }
    Err(last)
}

/// Why one attempt did not land.
#[derive(Debug)]
pub enum Attempt {
    /// Its write lost a race (a failed condition, a transaction conflict): read again.
    Lost(ChangeError),
    /// Anything else ends the retries.
    Final(ChangeError),
}

impl From<ChangeError> for Attempt {
    fn from(e: ChangeError) -> Self {
        Self::Final(e)
    }
}

impl From<domain::ChangeRefusal> for Attempt {
    fn from(r: domain::ChangeRefusal) -> Self {
        Self::Final(r.into())
    }
}

/// A commit's error: a conflict is a lost race, anything else is final.
pub fn committed(r: Result<(), ChangeError>) -> Result<(), Attempt> {
    match r {
        Ok(()) => Ok(()),
        Err(e @ ChangeError::Conflict(_)) => Err(Attempt::Lost(e)),
        Err(e) => Err(Attempt::Final(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn lost_races_are_retried_and_other_errors_end_at_once() {
        let tries = AtomicUsize::new(0);
        let v = on_conflict(|| async {
            let n = tries.fetch_add(1, Ordering::SeqCst);
            if n < 2 { Err(Attempt::Lost(ChangeError::Conflict("raced".into()))) } else { Ok(n) }
        })
        .await
        .unwrap();
        assert_eq!(v, 2);

        let tries = AtomicUsize::new(0);
        let e = on_conflict(|| async {
            tries.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(Attempt::Final(ChangeError::NotFound("gone".into())))
        })
        .await
        .unwrap_err();
        assert_eq!(e, ChangeError::NotFound("gone".into()));
        assert_eq!(tries.load(Ordering::SeqCst), 1);

        let e = on_conflict(|| async { Err::<(), _>(Attempt::Lost(ChangeError::Conflict("always".into()))) })
            .await
            .unwrap_err();
        assert_eq!(e, ChangeError::Conflict("always".into()));
    }
}
