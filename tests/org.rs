//! The emulator as an organization (`--org`), checked with the AWS CLI as an independent client:
//! Organizations ListAccounts (paged), STS AssumeRole whose credentials act as the member and
//! expire, a member that refuses the role, and Account ListRegions with a disabled Region.

use std::time::Duration;

use serde_json::Value;

use trailq_emulator::generate::GeneratorConfig;
use trailq_emulator::limits::Limits;
use trailq_emulator::org::OrgConfig;
use trailq_emulator::{DataSource, Emulator, EmulatorConfig};

use crate::util::{aws_cli, aws_cli_as, stderr, stdout};

#[test]
fn the_aws_cli_gets_the_accounts_and_working_credentials_from_the_emulator_organization() {
    // 25 accounts: more than one ListAccounts page (20).
    let accounts: Vec<String> = (0..25)
        .map(|i| format!("{:012}", 210_000_000_000u64 + i))
        .collect();
    // The first is the management account, and the emulator's default for unknown keys.
    let (member, refusing) = (&accounts[1], &accounts[2]);
    let emulator = Emulator::spawn(EmulatorConfig {
        data: DataSource::Generated(GeneratorConfig {
            days: 2,
            events_per_day: 400,
            accounts: accounts.clone(),
            regions: vec!["us-east-1".into(), "eu-west-1".into()],
            ..GeneratorConfig::default()
        }),
        disabled_regions: vec![(member.clone(), "eu-west-1".into())],
        limits: Limits::OFF,
        org: Some(OrgConfig {
            deny_assume_role: vec![refusing.clone()],
            credential_lifetime: Duration::from_secs(4),
        }),
        ..EmulatorConfig::default()
    })
    .unwrap();
    let url = emulator.endpoint_url();
    let json = |o: &std::process::Output| -> Value {
        assert!(o.status.success(), "{}", stderr(o));
        serde_json::from_str(&stdout(o)).unwrap()
    };

    // The management account (the emulator's default for unknown keys) lists every account.
    let listed = json(&aws_cli(
        &url,
        "AKIAMANAGEMENT",
        "us-east-1",
        &["organizations", "list-accounts"],
    ));
    let ids: Vec<&str> = listed["Accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["Id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, accounts.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        listed["Accounts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["Status"] == "ACTIVE")
    );

    // AssumeRole into a member: its credentials act as the member.
    let role = |account: &str| format!("arn:aws:iam::{account}:role/OrganizationAccountAccessRole");
    let assumed = json(&aws_cli(
        &url,
        "AKIAMANAGEMENT",
        "us-east-1",
        &[
            "sts",
            "assume-role",
            "--role-arn",
            &role(member),
            "--role-session-name",
            "trailq-test",
        ],
    ));
    let creds = &assumed["Credentials"];
    let as_member = (
        creds["AccessKeyId"].as_str().unwrap(),
        creds["SecretAccessKey"].as_str().unwrap(),
        creds["SessionToken"].as_str(),
    );
    assert!(as_member.0.starts_with("ASIA"));
    assert_eq!(
        assumed["AssumedRoleUser"]["Arn"],
        format!("arn:aws:sts::{member}:assumed-role/OrganizationAccountAccessRole/trailq-test")
    );
    let events = json(&aws_cli_as(
        &url,
        as_member,
        "us-east-1",
        &["cloudtrail", "lookup-events", "--max-items", "5"],
    ));
    let events = events["Events"].as_array().unwrap();
    assert!(!events.is_empty());
    for e in events {
        let record: Value = serde_json::from_str(e["CloudTrailEvent"].as_str().unwrap()).unwrap();
        assert_eq!(record["recipientAccountId"], member.as_str());
    }
    // Its Regions: eu-west-1 is not enabled for it.
    let regions = json(&aws_cli_as(
        &url,
        as_member,
        "us-east-1",
        &["account", "list-regions"],
    ));
    assert_eq!(
        regions["Regions"],
        serde_json::json!([
            { "RegionName": "us-east-1", "RegionOptStatus": "ENABLED_BY_DEFAULT" },
            { "RegionName": "eu-west-1", "RegionOptStatus": "DISABLED" }
        ])
    );
    // A member cannot list the organization.
    let o = aws_cli_as(
        &url,
        as_member,
        "us-east-1",
        &["organizations", "list-accounts"],
    );
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("AccessDeniedException"),
        "{}",
        stderr(&o)
    );

    // The refusing member, named.
    let o = aws_cli(
        &url,
        "AKIAMANAGEMENT",
        "us-east-1",
        &[
            "sts",
            "assume-role",
            "--role-arn",
            &role(refusing),
            "--role-session-name",
            "trailq-test",
        ],
    );
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("(AccessDenied)") && stderr(&o).contains(refusing.as_str()),
        "{}",
        stderr(&o)
    );

    // After their lifetime the credentials are refused as expired.
    let expires =
        chrono::DateTime::parse_from_rfc3339(creds["Expiration"].as_str().unwrap()).unwrap();
    let now = chrono::DateTime::from_timestamp_micros(emulator.now_micros()).unwrap();
    assert!(
        (expires.timestamp() - now.timestamp()) <= 4,
        "{expires} vs {now}"
    );
    std::thread::sleep(Duration::from_millis(4_500));
    let o = aws_cli_as(
        &url,
        as_member,
        "us-east-1",
        &["cloudtrail", "lookup-events", "--max-items", "1"],
    );
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("ExpiredTokenException"),
        "{}",
        stderr(&o)
    );
}
