//! The fleet's schedules (the nightly backup, the periodic health validation) and the tenant
//! settings they honour: a weekly window in the tenant's own time zone, and opt-outs. Pure:
//! which tenant a run may start its operation on, and the slot that makes the run once-only.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveTime, Timelike, Utc, Weekday};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::ToSchema;

use crate::lifecycle::rule;
use crate::{Operation, Tenant};

/// A schedule of the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleName {
    /// A backup once a day, in the tenant's backup window (else its maintenance window, else
    /// at 02:00 UTC).
    Backup,
    /// A health validation every 6 hours, in the tenant's maintenance window if it has one.
    Validate,
}

impl ScheduleName {
    pub const ALL: [ScheduleName; 2] = [Self::Backup, Self::Validate];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Backup => "backup",
            Self::Validate => "validate",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|n| n.as_str() == s)
    }

    /// The operation its change requests ask for.
    pub fn operation(self) -> Operation {
        match self {
            Self::Backup => Operation::Backup,
            Self::Validate => Operation::Validate,
        }
    }

    /// How long one slot lasts: a tenant gets at most one change request of this schedule in it.
    pub fn period_hours(self) -> u32 {
        match self {
            Self::Backup => 24,
            Self::Validate => 6,
        }
    }

    /// The UTC hour a tenant without a window is served at (`None`: at the slot's first run).
    fn default_hour(self) -> Option<u32> {
        match self {
            Self::Backup => Some(2),
            Self::Validate => None,
        }
    }

    /// The slot `at` falls in: `backup@2026-12-03`, `validate@2026-12-03T06`.
    pub fn slot(self, at: DateTime<Utc>) -> String {
        let date = at.format("%Y-%m-%d");
        match self.period_hours() {
            24 => format!("{}@{date}", self.as_str()),
            p => format!("{}@{date}T{:02}", self.as_str(), at.hour() / p * p),
        }
    }

    /// The window of the tenant this schedule honours.
    fn window(self, t: &Tenant) -> Option<&Window> {
        match self {
            Self::Backup => t.backup_window.as_ref().or(t.maintenance_window.as_ref()),
            Self::Validate => t.maintenance_window.as_ref(),
        }
    }

    /// Whether a run at `at` may start this schedule's operation on `t` (read from a
    /// state it allows), or why not.
    pub fn eligible(self, t: &Tenant, at: DateTime<Utc>) -> Result<(), HeldBack> {
        if t.schedule_opt_outs.contains(&self) {
            return Err(HeldBack::OptedOut);
        }
        if !rule(self.operation()).from.contains(&t.state) {
            return Err(HeldBack::State);
        }
        if t.active_change_request_id.is_some() {
            return Err(HeldBack::Busy);
        }
        let inside = match (self.window(t), self.default_hour()) {
            (Some(w), _) => w.contains(at),
            (None, Some(hour)) => at.hour() == hour,
            (None, None) => true,
        };
        if inside { Ok(()) } else { Err(HeldBack::OutsideWindow) }
    }
}

impl fmt::Display for ScheduleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every schedule rule of the fleet: the fan-outs of a lifecycle operation over eligible
/// tenants ([`ScheduleName`], which a tenant may opt out of), and the daily jobs that are not
/// fan-outs: `metering` (a usage sample collected from every tenant) and `licenses` (active
/// assignments past their expiry marked `expired`, their customers' tenants suspended) and
/// `drift` (every running tenant's box read and compared with its record).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Schedule {
    FanOut(ScheduleName),
    Metering,
    Licenses,
    Drift,
}

impl Schedule {
    pub const ALL: [Schedule; 5] = [
        Self::FanOut(ScheduleName::Backup),
        Self::FanOut(ScheduleName::Validate),
        Self::Metering,
        Self::Licenses,
        Self::Drift,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::FanOut(s) => s.as_str(),
            Self::Metering => "metering",
            Self::Licenses => "licenses",
            Self::Drift => "drift",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|n| n.as_str() == s)
    }

    /// The daily slot `at` falls in (`metering@2026-12-03`), for the jobs that run once a day;
    /// a fan-out's is [`ScheduleName::slot`].
    pub fn slot(self, at: DateTime<Utc>) -> String {
        match self {
            Self::FanOut(s) => s.slot(at),
            other => format!("{}@{}", other.as_str(), at.format("%Y-%m-%d")),
        }
    }

    /// The start of the day `at` falls in (UTC): the time of a daily job's slot.
    pub fn day_start(at: DateTime<Utc>) -> DateTime<Utc> {
        at.date_naive().and_time(NaiveTime::MIN).and_utc()
    }
}

impl From<ScheduleName> for Schedule {
    fn from(s: ScheduleName) -> Self {
        Self::FanOut(s)
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a schedule's run leaves a tenant alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HeldBack {
    OptedOut,
    /// Its state does not allow the operation.
    State,
    /// A change request holds it.
    Busy,
    OutsideWindow,
}

/// A day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Day {
    fn of(w: Weekday) -> Self {
        match w {
            Weekday::Mon => Self::Mon,
            Weekday::Tue => Self::Tue,
            Weekday::Wed => Self::Wed,
            Weekday::Thu => Self::Thu,
            Weekday::Fri => Self::Fri,
            Weekday::Sat => Self::Sat,
            Weekday::Sun => Self::Sun,
        }
    }
}

/// A time of day, `HH:MM` (24 h).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeOfDay(NaiveTime);

impl FromStr for TimeOfDay {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let ok =
            s.len() == 5 && s.bytes().enumerate().all(|(i, b)| if i == 2 { b == b':' } else { b.is_ascii_digit() });
        ok.then(|| NaiveTime::parse_from_str(s, "%H:%M").ok())
            .flatten()
            .map(Self)
            .ok_or_else(|| format!("{s:?} is not a time of day HH:MM (00:00 to 23:59)"))
    }
}

/// An IANA time zone (`Europe/Berlin`, `UTC`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZone(chrono_tz::Tz);

impl FromStr for TimeZone {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if signed_gmt(s) {
            return Err(format!(
                "{s:?} is a POSIX-signed zone (Etc/GMT+5 is five hours behind UTC); name UTC or a place such as America/New_York"
            ));
        }
        s.parse::<chrono_tz::Tz>()
            .map(Self)
            .map_err(|_| format!("{s:?} is not an IANA time zone such as Europe/Berlin or UTC"))
    }
}

/// `Etc/GMT+5`, `GMT-0`...: tz database names whose sign is the inverse of what they read as,
/// not taken (and not offered: clients generated from the document would name `GMT+0`, `GMT-0`
/// and `GMT0` alike).
fn signed_gmt(name: &str) -> bool {
    name.match_indices("GMT").any(|(i, _)| {
        let rest = &name.as_bytes()[i + 3..];
        matches!(rest, [b'+' | b'-', d, ..] if d.is_ascii_digit())
    })
}

macro_rules! string_serde {
    ($t:ty, $show:expr) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let show: fn(&$t) -> String = $show;
                s.serialize_str(&show(self))
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
string_serde!(TimeOfDay, |t| t.0.format("%H:%M").to_string());
string_serde!(TimeZone, |z| z.0.name().to_owned());

/// Weekly hours in the tenant's time zone: from `start` to `end` on each of `days` (every day
/// when `days` is empty). An `end` at or before `start` runs past midnight into the next day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Window {
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub days: BTreeSet<Day>,
    #[schema(value_type = String, example = "02:00", pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub start: TimeOfDay,
    #[schema(value_type = String, example = "05:00", pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub end: TimeOfDay,
    /// An IANA time zone name, as the tz database spells it.
    #[schema(schema_with = time_zone_schema)]
    pub time_zone: TimeZone,
}

/// Every name of the tz database the parser takes, as the schema's enum.
fn time_zone_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()).filter(|n| !signed_gmt(n))))
        .examples([serde_json::json!("Europe/Berlin")])
        .build()
}

impl Window {
    /// Whether `at` falls inside the window.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&self.time_zone.0);
        let (time, today) = (local.time(), Day::of(local.weekday()));
        let yesterday = Day::of(local.weekday().pred());
        let on = |d: Day| self.days.is_empty() || self.days.contains(&d);
        let (start, end) = (self.start.0, self.end.0);
        if start < end {
            on(today) && start <= time && time < end
        } else {
            (on(today) && time >= start) || (on(yesterday) && time < end)
        }
    }

    /// When the window next opens after `at`, or None while it is open (or when no day of the
    /// next week has its start: a start that a change of clocks skips on every one of its days).
    pub fn next_open(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        use chrono::TimeZone as _;
        if self.contains(at) {
            return None;
        }
        let zone = self.time_zone.0;
        let today = at.with_timezone(&zone).date_naive();
        (0..=7u64).find_map(|n| {
            let day = today + chrono::Days::new(n);
            if !self.days.is_empty() && !self.days.contains(&Day::of(day.weekday())) {
                return None;
            }
            let start = zone.from_local_datetime(&day.and_time(self.start.0)).earliest()?;
            (start > at).then(|| start.with_timezone(&Utc))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CustomerId, TenantCreate, TenantState};
    use chrono::TimeZone as _;

    fn window(v: serde_json::Value) -> Window {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_closed_window_says_when_it_next_opens_in_its_time_zone() {
        let w = window(
            serde_json::json!({"days": ["sat"], "start": "02:00", "end": "05:00", "time_zone": "Europe/Berlin"}),
        );
        // Tuesday 2026-12-08 12:00 UTC: next Saturday 02:00 in Berlin (UTC+1) is 01:00 UTC.
        assert_eq!(w.next_open(utc(2026, 12, 8, 12, 0)), Some(utc(2026, 12, 12, 1, 0)));
        assert_eq!(w.next_open(utc(2026, 12, 12, 2, 0)), None, "open now");
        // Just after it closed: a week later.
        assert_eq!(w.next_open(utc(2026, 12, 12, 4, 0)), Some(utc(2026, 12, 19, 1, 0)));
        let daily = window(serde_json::json!({"start": "22:00", "end": "01:00", "time_zone": "UTC"}));
        assert_eq!(daily.next_open(utc(2026, 12, 8, 12, 0)), Some(utc(2026, 12, 8, 22, 0)));
        assert_eq!(daily.next_open(utc(2026, 12, 8, 0, 30)), None, "open past midnight");
        assert_eq!(daily.next_open(utc(2026, 12, 8, 23, 0)), None);
    }

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    fn tenant(state: TenantState) -> Tenant {
        let cmd: TenantCreate = serde_json::from_value(serde_json::json!({
            "customer_id": CustomerId::generate(), "name": "acme-prod", "release": "3.1.0"
        }))
        .unwrap();
        let ctx = crate::WriteContext::api(crate::Actor { sub: "alice".into(), email: None });
        let (mut t, _) = Tenant::create(cmd, &ctx);
        t.state = state;
        t.active_change_request_id = None;
        t
    }

    #[test]
    fn the_documented_time_zones_and_times_are_what_the_parsers_take() {
        for z in chrono_tz::TZ_VARIANTS {
            assert_eq!(z.name().parse::<TimeZone>().is_ok(), !signed_gmt(z.name()), "{}", z.name());
        }
        assert!(signed_gmt("Etc/GMT+5") && signed_gmt("GMT-0") && !signed_gmt("GMT0") && !signed_gmt("Etc/GMT"));
        assert!("Europe/Berlin".parse::<TimeZone>().is_ok() && "Etc/GMT-3".parse::<TimeZone>().is_err());
        let pattern = regex::Regex::new(r"^([01][0-9]|2[0-3]):[0-5][0-9]$").unwrap();
        for h in 0..30 {
            for m in [0, 5, 59, 60, 99] {
                let s = format!("{h:02}:{m:02}");
                assert_eq!(s.parse::<TimeOfDay>().is_ok(), pattern.is_match(&s), "{s}");
            }
        }
        for s in ["2:00", " 2:00", "+2:00", "02:0 ", "0200", "02:000", "٠٢:٠٠"] {
            assert!(s.parse::<TimeOfDay>().is_err() && !pattern.is_match(s), "{s}");
        }
    }

    #[test]
    fn a_window_holds_in_its_own_time_zone_and_across_midnight() {
        // Saturdays 02:00-05:00 in Berlin: 01:00-04:00 UTC in winter.
        let w = window(
            serde_json::json!({"days": ["sat"], "start": "02:00", "end": "05:00", "time_zone": "Europe/Berlin"}),
        );
        assert!(w.contains(utc(2026, 12, 5, 1, 0)), "Sat 02:00 Berlin");
        assert!(w.contains(utc(2026, 12, 5, 3, 59)));
        assert!(!w.contains(utc(2026, 12, 5, 4, 0)), "05:00 Berlin is the end");
        assert!(!w.contains(utc(2026, 12, 5, 0, 59)));
        assert!(!w.contains(utc(2026, 12, 6, 1, 0)), "a Sunday");
        // In summer Berlin is UTC+2.
        assert!(w.contains(utc(2026, 7, 4, 0, 30)));
        // Every day 23:00-01:00 UTC: past midnight into the next day.
        let night = window(serde_json::json!({"start": "23:00", "end": "01:00", "time_zone": "UTC"}));
        assert!(night.contains(utc(2026, 12, 3, 23, 30)) && night.contains(utc(2026, 12, 4, 0, 30)));
        assert!(!night.contains(utc(2026, 12, 4, 1, 0)) && !night.contains(utc(2026, 12, 4, 12, 0)));
        // Fridays 22:00 to 02:00: Saturday 01:00 is inside, Sunday 01:00 is not.
        let fri = window(serde_json::json!({"days": ["fri"], "start": "22:00", "end": "02:00", "time_zone": "UTC"}));
        assert!(fri.contains(utc(2026, 12, 5, 1, 0)) && !fri.contains(utc(2026, 12, 6, 1, 0)));
    }

    #[test]
    fn windows_refuse_what_is_not_a_time_a_zone_or_a_day() {
        let bad = [
            serde_json::json!({"start": "2:00", "end": "05:00", "time_zone": "UTC"}),
            serde_json::json!({"start": "24:00", "end": "05:00", "time_zone": "UTC"}),
            serde_json::json!({"start": "02:00", "end": "05:00", "time_zone": "Mars/Olympus"}),
            serde_json::json!({"days": ["someday"], "start": "02:00", "end": "05:00", "time_zone": "UTC"}),
            serde_json::json!({"start": "02:00", "end": "05:00", "time_zone": "UTC", "every": "week"}),
        ];
        for v in bad {
            assert!(serde_json::from_value::<Window>(v.clone()).is_err(), "{v}");
        }
        let w = window(
            serde_json::json!({"days": ["sun", "sat"], "start": "02:00", "end": "05:30", "time_zone": "America/New_York"}),
        );
        assert_eq!(
            serde_json::to_value(&w).unwrap(),
            serde_json::json!({"days": ["sat", "sun"], "start": "02:00", "end": "05:30", "time_zone": "America/New_York"})
        );
    }

    #[test]
    fn every_schedule_rule_is_named_once_and_the_daily_jobs_have_a_day_slot() {
        for s in Schedule::ALL {
            assert_eq!(Schedule::parse(s.as_str()), Some(s));
        }
        assert_eq!(Schedule::parse("backup"), Some(Schedule::FanOut(ScheduleName::Backup)));
        assert_eq!(Schedule::parse("nightly"), None);
        let at = utc(2026, 12, 3, 17, 45);
        assert_eq!(Schedule::Metering.slot(at), "metering@2026-12-03");
        assert_eq!(Schedule::Licenses.slot(at), "licenses@2026-12-03");
        assert_eq!(Schedule::day_start(at), utc(2026, 12, 3, 0, 0));
    }

    #[test]
    fn slots_are_a_day_for_backups_and_six_hours_for_validations() {
        assert_eq!(ScheduleName::Backup.slot(utc(2026, 12, 3, 23, 59)), "backup@2026-12-03");
        assert_eq!(ScheduleName::Validate.slot(utc(2026, 12, 3, 11, 59)), "validate@2026-12-03T06");
        assert_eq!(ScheduleName::Validate.slot(utc(2026, 12, 3, 12, 0)), "validate@2026-12-03T12");
        assert_eq!(ScheduleName::parse("backup"), Some(ScheduleName::Backup));
        assert_eq!(ScheduleName::parse("metering"), None);
    }

    #[test]
    fn a_tenant_is_eligible_in_an_allowed_state_unheld_inside_its_window_and_not_opted_out() {
        let at = utc(2026, 12, 5, 2, 0);
        let healthy = tenant(TenantState::Healthy);
        assert_eq!(ScheduleName::Backup.eligible(&healthy, at), Ok(()), "02:00 UTC, no window");
        assert_eq!(ScheduleName::Backup.eligible(&healthy, utc(2026, 12, 5, 3, 0)), Err(HeldBack::OutsideWindow));
        assert_eq!(ScheduleName::Validate.eligible(&healthy, utc(2026, 12, 5, 15, 0)), Ok(()));

        let suspended = tenant(TenantState::Suspended);
        assert_eq!(ScheduleName::Backup.eligible(&suspended, at), Err(HeldBack::State));
        let broken = tenant(TenantState::Broken);
        assert_eq!(ScheduleName::Backup.eligible(&broken, at), Err(HeldBack::State));
        assert_eq!(ScheduleName::Validate.eligible(&broken, at), Ok(()), "a validate is what heals it");

        let mut busy = tenant(TenantState::Healthy);
        busy.active_change_request_id = Some(crate::ChangeRequestId::generate());
        assert_eq!(ScheduleName::Backup.eligible(&busy, at), Err(HeldBack::Busy));

        let mut out = tenant(TenantState::Healthy);
        out.schedule_opt_outs.insert(ScheduleName::Backup);
        assert_eq!(ScheduleName::Backup.eligible(&out, at), Err(HeldBack::OptedOut));
        assert_eq!(ScheduleName::Validate.eligible(&out, at), Ok(()));

        // Its own window: Saturdays 04:00-06:00 in Berlin (03:00-05:00 UTC).
        let mut windowed = tenant(TenantState::Maintenance);
        windowed.maintenance_window = Some(window(
            serde_json::json!({"days": ["sat"], "start": "04:00", "end": "06:00", "time_zone": "Europe/Berlin"}),
        ));
        assert_eq!(ScheduleName::Backup.eligible(&windowed, at), Err(HeldBack::OutsideWindow), "02:00 UTC");
        assert_eq!(ScheduleName::Backup.eligible(&windowed, utc(2026, 12, 5, 3, 0)), Ok(()));
        windowed.backup_window =
            Some(window(serde_json::json!({"start": "01:00", "end": "02:00", "time_zone": "UTC"})));
        assert_eq!(ScheduleName::Backup.eligible(&windowed, utc(2026, 12, 5, 3, 0)), Err(HeldBack::OutsideWindow));
        assert_eq!(ScheduleName::Backup.eligible(&windowed, utc(2026, 12, 7, 1, 30)), Ok(()), "its backup window wins");
    }
}
