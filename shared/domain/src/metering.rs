//! Metering reports, pure: the window of a tenant's samples (`from`/`to`), a calendar month, and
//! the rollup of a customer's tenants over a month. A sample belongs to the month of its `at`
//! in UTC, whatever the time zone it was asked in.
//!
//! The rollup, per tenant: the month's peak `users` and `assets` (what a license counts), its
//! peak and its average `data_bytes` (the average is the mean of the month's daily samples, in
//! whole bytes, rounded down). The customer's total is the sum over its tenants of each.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{CustomerId, FieldError, MeterSample, TenantId};

/// The span of a tenant's samples when the request names none.
pub const DEFAULT_SPAN_DAYS: i64 = 30;
/// The longest span one request reads (a daily sample: 366 samples at most).
pub const MAX_SPAN_DAYS: i64 = 366;

/// The window of `GET /v1/tenants/{id}/metering`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeterWindow {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

fn instant(field: &str, raw: Option<&str>) -> Result<Option<DateTime<Utc>>, FieldError> {
    raw.map(|s| {
        DateTime::parse_from_rfc3339(s).map(|t| t.to_utc()).map_err(|_| {
            FieldError::new(field, format!("`{field}` must be an RFC 3339 time such as 2026-11-30T06:00:00Z"))
        })
    })
    .transpose()
}

impl MeterWindow {
    /// `to` defaults to now, `from` to 30 days before `to`; refused, naming the parameter, when
    /// `from` is not before `to` or the span is more than 366 days.
    pub fn parse(from: Option<&str>, to: Option<&str>, now: DateTime<Utc>) -> Result<Self, FieldError> {
        let to = instant("to", to)?.unwrap_or(now);
        let from = instant("from", from)?.unwrap_or(to - Duration::days(DEFAULT_SPAN_DAYS));
        if from >= to {
            return Err(FieldError::new("from", format!("`from` ({from}) must be before `to` ({to})")));
        }
        if to - from > Duration::days(MAX_SPAN_DAYS) {
            return Err(FieldError::new("from", format!("at most {MAX_SPAN_DAYS} days from `from` to `to`")));
        }
        Ok(Self { from, to })
    }
}

/// A calendar month, `YYYY-MM`, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Month {
    first: NaiveDate,
}

/// The pattern of `month=` (a test checks it against the parser).
pub const MONTH_PATTERN: &str = "^[0-9]{4}-(0[1-9]|1[0-2])$";

impl Month {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let bad = || FieldError::new("month", format!("`month` must be a month such as 2026-11, not {s:?}"));
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 || !y.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let first =
            NaiveDate::from_ymd_opt(y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?, 1).ok_or_else(bad)?;
        Ok(Self { first })
    }

    pub fn of(at: DateTime<Utc>) -> Self {
        Self { first: NaiveDate::from_ymd_opt(at.year(), at.month(), 1).unwrap_or(at.date_naive()) }
    }

    /// Whether `at` falls in this month (UTC).
    pub fn contains(self, at: DateTime<Utc>) -> bool {
        Self::of(at) == self
    }

    /// `2026-11`.
    pub fn as_string(self) -> String {
        self.first.format("%Y-%m").to_string()
    }
}

/// One tenant's usage over a month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TenantUsage {
    pub tenant_id: TenantId,
    /// Samples of the month (0: none, and every figure 0).
    pub samples: u32,
    /// The month's peak.
    pub max_users: u64,
    /// The month's peak.
    pub max_assets: u64,
    /// The month's peak, in bytes.
    pub max_data_bytes: u64,
    /// The mean of the month's samples, in bytes (rounded down).
    pub avg_data_bytes: u64,
}

/// The sum over the customer's tenants of each tenant's figure.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UsageTotal {
    pub samples: u32,
    pub max_users: u64,
    pub max_assets: u64,
    pub max_data_bytes: u64,
    pub avg_data_bytes: u64,
}

/// A customer's usage over a month: per tenant (peak users and assets, peak and average data
/// volume) and the sum over its tenants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MeterRollup {
    pub customer_id: CustomerId,
    /// `YYYY-MM` (UTC).
    pub month: String,
    pub tenants: Vec<TenantUsage>,
    pub total: UsageTotal,
}

/// One tenant's month from its samples; samples of other months are left out.
pub fn tenant_usage(tenant_id: TenantId, month: Month, samples: &[MeterSample]) -> TenantUsage {
    let of_month: Vec<&MeterSample> = samples.iter().filter(|s| month.contains(s.at)).collect();
    let n = of_month.len() as u64;
    let sum: u128 = of_month.iter().map(|s| u128::from(s.data_bytes)).sum();
    TenantUsage {
        tenant_id,
        samples: u32::try_from(n).unwrap_or(u32::MAX),
        max_users: of_month.iter().map(|s| s.users).max().unwrap_or(0),
        max_assets: of_month.iter().map(|s| s.assets).max().unwrap_or(0),
        max_data_bytes: of_month.iter().map(|s| s.data_bytes).max().unwrap_or(0),
        avg_data_bytes: if n == 0 { 0 } else { u64::try_from(sum / u128::from(n)).unwrap_or(u64::MAX) },
    }
}

/// The rollup of a customer's tenants, each with its samples.
pub fn rollup(customer_id: CustomerId, month: Month, tenants: Vec<(TenantId, Vec<MeterSample>)>) -> MeterRollup {
    let tenants: Vec<TenantUsage> =
        tenants.into_iter().map(|(id, samples)| tenant_usage(id, month, &samples)).collect();
    let total = tenants.iter().fold(UsageTotal::default(), |t, u| UsageTotal {
        samples: t.samples.saturating_add(u.samples),
        max_users: t.max_users.saturating_add(u.max_users),
        max_assets: t.max_assets.saturating_add(u.max_assets),
        max_data_bytes: t.max_data_bytes.saturating_add(u.max_data_bytes),
        avg_data_bytes: t.avg_data_bytes.saturating_add(u.avg_data_bytes),
    });
    MeterRollup { customer_id, month: month.as_string(), tenants, total }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Usage;
    use crate::{Actor, WriteContext};
    use chrono::TimeZone;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn sample(tenant: &TenantId, at: &str, users: u64, assets: u64, data_bytes: u64) -> MeterSample {
        let ctx = WriteContext::api(Actor::system("schedule:metering"));
        MeterSample::new(tenant.clone(), utc(at), Usage { assets, users, data_bytes }, &ctx)
    }

    #[test]
    fn metering_rolls_up_correctly_across_month_boundaries() {
        let a = TenantId::generate();
        let b = TenantId::generate();
        let november = Month::parse("2026-11").unwrap();
        let a_samples = vec![
            // The last second of October and the first of December belong to their own months.
            sample(&a, "2026-10-31T23:59:59Z", 900, 9000, 9_000),
            sample(&a, "2026-11-01T00:00:00Z", 10, 100, 1_000),
            // 00:30 in Berlin on the 1st of November is still October in UTC.
            sample(&a, "2026-11-01T00:30:00+01:00", 800, 8000, 8_000),
            sample(&a, "2026-11-15T12:00:00Z", 12, 90, 2_000),
            sample(&a, "2026-11-30T23:59:59Z", 11, 120, 4_000),
            sample(&a, "2026-12-01T00:00:00Z", 700, 7000, 7_000),
        ];
        let b_samples =
            vec![sample(&b, "2026-11-30T00:00:00Z", 5, 50, 501), sample(&b, "2026-11-29T00:00:00Z", 3, 70, 500)];
        let customer = CustomerId::generate();
        let r = rollup(customer.clone(), november, vec![(a.clone(), a_samples), (b.clone(), b_samples)]);
        assert_eq!(r.month, "2026-11");
        assert_eq!(
            r.tenants[0],
            TenantUsage {
                tenant_id: a,
                samples: 3,
                max_users: 12,
                max_assets: 120,
                max_data_bytes: 4_000,
                avg_data_bytes: 2_333
            }
        );
        assert_eq!((r.tenants[1].samples, r.tenants[1].max_assets, r.tenants[1].avg_data_bytes), (2, 70, 500));
        assert_eq!(
            r.total,
            UsageTotal { samples: 5, max_users: 17, max_assets: 190, max_data_bytes: 4_501, avg_data_bytes: 2_833 }
        );
        let october = rollup(customer, Month::parse("2026-10").unwrap(), vec![(b, Vec::new())]);
        assert_eq!(october.total, UsageTotal::default());
    }

    #[test]
    fn a_month_is_a_calendar_month_in_utc() {
        let m = Month::parse("2026-02").unwrap();
        assert!(m.contains(Utc.with_ymd_and_hms(2026, 2, 28, 23, 59, 59).unwrap()));
        assert!(!m.contains(Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()));
        assert_eq!(Month::of(utc("2026-12-31T23:00:00-02:00")).as_string(), "2027-01");
        let re = regex_lite(MONTH_PATTERN);
        for ok in ["2026-01", "1999-12"] {
            assert!(Month::parse(ok).is_ok() && re(ok), "{ok}");
        }
        for bad in ["2026-13", "2026-00", "2026-1", "26-01", "2026/01", "2026-01-01", "", "abcd-ef"] {
            assert_eq!(Month::parse(bad).unwrap_err().field, "month", "{bad}");
            assert!(!re(bad), "{bad}");
        }
    }

    /// `^[0-9]{4}-(0[1-9]|1[0-2])$`, checked by hand (the domain takes no regex crate).
    fn regex_lite(pattern: &str) -> impl Fn(&str) -> bool {
        assert_eq!(pattern, "^[0-9]{4}-(0[1-9]|1[0-2])$");
        |s: &str| {
            let b = s.as_bytes();
            b.len() == 7
                && b[..4].iter().all(u8::is_ascii_digit)
                && b[4] == b'-'
                && matches!((b[5], b[6]), (b'0', b'1'..=b'9') | (b'1', b'0'..=b'2'))
        }
    }

    #[test]
    fn a_window_defaults_to_the_last_30_days_and_refuses_naming_the_field() {
        let now = utc("2026-12-03T12:00:00Z");
        let w = MeterWindow::parse(None, None, now).unwrap();
        assert_eq!((w.from, w.to), (utc("2026-11-03T12:00:00Z"), now));
        let e = MeterWindow::parse(Some("2026-12-02T00:00:00Z"), Some("2026-12-01T00:00:00Z"), now).unwrap_err();
        assert_eq!(e.field, "from");
        let e = MeterWindow::parse(Some("2025-01-01T00:00:00Z"), None, now).unwrap_err();
        assert_eq!(e.field, "from");
        assert_eq!(MeterWindow::parse(None, Some("yesterday"), now).unwrap_err().field, "to");
    }
}
