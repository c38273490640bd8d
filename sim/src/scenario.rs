//! What the simulated world holds: which indicators are malicious, who works here, and which
//! vendor hiccups to stage.

use std::time::Duration;

/// The simulated world. [`Scenario::seed`] is the seed story's; change fields to stage others.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// VirusTotal's verdicts and hiccups.
    pub virustotal: VirusTotalScenario,
    /// GreyNoise's classifications.
    pub greynoise: GreyNoiseScenario,
    /// The people in Okta and Slack.
    pub people: Vec<Person>,
    /// Slack channels (besides DMs) a bot may post to.
    pub slack_channels: Vec<SlackChannel>,
    /// Okta's per-minute request budget, as sent in `X-Rate-Limit-Limit` (one bucket for all
    /// endpoints; real Okta has one per endpoint family).
    pub okta_rate_limit: u32,
    /// The `number` TheHive gives the first case.
    pub thehive_first_case_number: u64,
    /// How many case creations, counting from the first, store the case but answer 500, as when
    /// the response is lost on the way back.
    pub thehive_lost_create_responses: u32,
}

/// VirusTotal's answers. Every valid IP and domain has a report (clean unless listed); a file
/// hash has one only when listed as malicious.
#[derive(Debug, Clone, Default)]
pub struct VirusTotalScenario {
    /// IPs, domains and file hashes five engines flag (the malicious fixture's stats).
    pub malicious: Vec<String>,
    /// Indicators answered with 404 `NotFoundError`.
    pub not_found: Vec<String>,
    /// How many lookups, counting from the first, get 429 `QuotaExceededError` before any
    /// succeeds.
    pub quota_exceeded_first: u32,
    /// The `Retry-After` sent with those 429s (whole seconds); `None` sends none, the other
    /// variant the spec asks mocks to serve.
    pub retry_after: Option<Duration>,
}

/// GreyNoise community answers: listed IPs are malicious scanners or benign RIOT services, and
/// every other routable IPv4 address is 404 "not observed".
#[derive(Debug, Clone, Default)]
pub struct GreyNoiseScenario {
    /// IPs classified `malicious` (noise).
    pub malicious: Vec<String>,
    /// IPs in RIOT, classified `benign`.
    pub benign: Vec<String>,
    /// Lookups allowed before the daily-quota 429; `None` for no limit.
    pub daily_quota: Option<u32>,
}

/// Someone with an Okta account, a Slack account, or both.
#[derive(Debug, Clone)]
pub struct Person {
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Email: the Okta login and the Slack profile email.
    pub email: String,
    /// Okta user id (`00u…`), when the person is in Okta.
    pub okta_id: Option<String>,
    /// Okta status at the start.
    pub okta_status: OktaStatus,
    /// Slack user id (`U…`), when the person is in Slack.
    pub slack_id: Option<String>,
}

impl Person {
    /// A person in neither system yet, `ACTIVE` once added to Okta.
    pub fn new(first_name: &str, last_name: &str, email: &str) -> Person {
        Person {
            first_name: first_name.into(),
            last_name: last_name.into(),
            email: email.into(),
            okta_id: None,
            okta_status: OktaStatus::Active,
            slack_id: None,
        }
    }

    /// Adds an Okta account with this id.
    pub fn in_okta(mut self, id: &str) -> Person {
        self.okta_id = Some(id.into());
        self
    }

    /// Sets the Okta status at the start.
    pub fn with_okta_status(mut self, status: OktaStatus) -> Person {
        self.okta_status = status;
        self
    }

    /// Adds a Slack account with this user id.
    pub fn in_slack(mut self, id: &str) -> Person {
        self.slack_id = Some(id.into());
        self
    }

    /// "First Last".
    pub fn display_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }
}

/// A Slack channel that is not a DM.
#[derive(Debug, Clone)]
pub struct SlackChannel {
    /// `C…` or `G…`.
    pub id: String,
    /// Name without `#`.
    pub name: String,
}

/// An Okta user's `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OktaStatus {
    /// `ACTIVE`.
    Active,
    /// `DEPROVISIONED`.
    Deprovisioned,
    /// `LOCKED_OUT`.
    LockedOut,
    /// `PASSWORD_EXPIRED`.
    PasswordExpired,
    /// `PROVISIONED`.
    Provisioned,
    /// `RECOVERY`.
    Recovery,
    /// `STAGED`.
    Staged,
    /// `SUSPENDED`.
    Suspended,
}

impl OktaStatus {
    /// Okta's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OktaStatus::Active => "ACTIVE",
            OktaStatus::Deprovisioned => "DEPROVISIONED",
            OktaStatus::LockedOut => "LOCKED_OUT",
            OktaStatus::PasswordExpired => "PASSWORD_EXPIRED",
            OktaStatus::Provisioned => "PROVISIONED",
            OktaStatus::Recovery => "RECOVERY",
            OktaStatus::Staged => "STAGED",
            OktaStatus::Suspended => "SUSPENDED",
        }
    }
}

/// The seed Okta System Log event: an admin role granted from a malicious IP. `warden demo`
/// ingests it, and [`Scenario::seed`] stages the world it implies.
pub const SEED_OKTA_EVENT: &str =
    include_str!("../data/okta/user.account.privilege.grant.seed.json");
/// The seed event's client IP ([`SEED_OKTA_EVENT`]).
pub const SEED_CLIENT_IP: &str = "194.88.246.242";
/// The spec's example malicious IP (a Tor exit).
pub const SPEC_MALICIOUS_IP: &str = "185.220.101.4";
/// A phishing domain VirusTotal flags (the phishing story's example report links to it). Under
/// `.example` (RFC 2606), so it names nobody's real site.
pub const PHISHING_DOMAIN: &str = "login-micros0ft-support.example";
/// A domain VirusTotal knows and no engine flags (every domain not listed is clean; this one
/// is named so tests and the example reports can say so).
pub const CLEAN_DOMAIN: &str = "www.example.com";
/// The seed world's SOC channel (`#soc-alerts`), where stories post for the team.
pub const SOC_CHANNEL: &str = "C0123SOC";

impl Scenario {
    /// The seed story's world: the grant's client IP is malicious in VirusTotal and GreyNoise,
    /// and the people of the seed events (the grant's actor and target, the "Bypass MFA Group"
    /// member) are `ACTIVE` in Okta and present in Slack, with the ids the fixtures use.
    /// VirusTotal answers the first lookup with a 429 (`Retry-After: 1`) so the demo shows a
    /// durable retry; set `virustotal.quota_exceeded_first` to 0 to skip it. VirusTotal also
    /// flags [`PHISHING_DOMAIN`], for the phishing story.
    pub fn seed() -> Scenario {
        let malicious = vec![SEED_CLIENT_IP.to_string(), SPEC_MALICIOUS_IP.to_string()];
        let mut flagged = malicious.clone();
        flagged.push(PHISHING_DOMAIN.to_string());
        Scenario {
            virustotal: VirusTotalScenario {
                malicious: flagged,
                not_found: Vec::new(),
                quota_exceeded_first: 1,
                retry_after: Some(Duration::from_secs(1)),
            },
            greynoise: GreyNoiseScenario {
                malicious,
                benign: vec!["1.1.1.1".into(), "1.2.3.4".into()],
                daily_quota: None,
            },
            people: vec![
                Person::new("Thomas", "Kinsella", "thomaskinsella@tines.io")
                    .in_okta("00u6eup97mAJZWYmP357")
                    .in_slack("U01AZ88AQQ4"),
                Person::new("Jack", "Naglieri", "jack.naglieri@runpanther.io")
                    .in_okta("00uu1uuuuIlllaaaa356")
                    .in_slack("U01JACKN4GL"),
                Person::new("Alice", "Example", "alice@example.com")
                    .in_okta("00u6eup97mAJZWYmP999")
                    .in_slack("U01ALICE0EX"),
            ],
            slack_channels: vec![SlackChannel {
                id: SOC_CHANNEL.into(),
                name: "soc-alerts".into(),
            }],
            okta_rate_limit: 600,
            thehive_first_case_number: 1,
            thehive_lost_create_responses: 0,
        }
    }
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario::seed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_event_comes_from_the_seed_client_ip() {
        let event: serde_json::Value = serde_json::from_str(SEED_OKTA_EVENT).unwrap();
        assert_eq!(event["client"]["ipAddress"], SEED_CLIENT_IP);
    }

    #[test]
    fn the_seed_world_flags_the_phishing_domain_for_virustotal_only() {
        let seed = Scenario::seed();
        assert!(seed
            .virustotal
            .malicious
            .iter()
            .any(|d| d == PHISHING_DOMAIN));
        assert!(!seed.virustotal.malicious.iter().any(|d| d == CLEAN_DOMAIN));
        assert!(!seed
            .greynoise
            .malicious
            .iter()
            .any(|d| d == PHISHING_DOMAIN));
        assert!(seed.slack_channels.iter().any(|c| c.id == SOC_CHANNEL));
    }

    #[test]
    fn the_seed_event_targets_a_person_of_the_seed_world() {
        let event: serde_json::Value = serde_json::from_str(SEED_OKTA_EVENT).unwrap();
        let target = event["target"][0]["id"].as_str().unwrap();
        let seed = Scenario::seed();
        assert!(
            seed.people
                .iter()
                .any(|p| p.okta_id.as_deref() == Some(target)),
            "{target}"
        );
    }
}
