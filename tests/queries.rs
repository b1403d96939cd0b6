//! The saved query library (`trailq queries`, `trailq query NAME`): every query on the
//! emulator's Lake and on an export of the same events, the two answers equal, each query finding
//! what it exists to find (checked against the generated records, read here independently), and
//! the README's DuckDB versions giving the same answers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use trailq_emulator::generate::{
    FOREIGN_ACCOUNT, Generator, GeneratorConfig, INSPECTOR_CLASSIC, INSPECTOR_SCAN,
    INSPECTOR_SOURCES, INSPECTOR2,
};
use trailq_emulator::lake::LakeTiming;
use trailq_emulator::limits::Limits;
use trailq_emulator::server::KeyAccess;
use trailq_emulator::{DataSource, Emulator, EmulatorConfig};
use trailq_events::time::format_micros;

use crate::util::{dataset_sql, duckdb, stderr, stdout, trailq, trailq_command};

pub(crate) const ACCOUNTS: [&str; 3] = ["111122223333", "444455556666", "777788889999"];
pub(crate) const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];
pub(crate) const DAY: i64 = 86_400_000_000;

pub(crate) fn generator(now: i64) -> GeneratorConfig {
    GeneratorConfig {
        seed: 6,
        now_micros: now,
        days: 30,
        events_per_day: 500,
        accounts: ACCOUNTS.map(String::from).to_vec(),
        regions: REGIONS.map(String::from).to_vec(),
        noise: 0.3,
    }
}

/// A generated record, parsed here with serde_json: the oracle the queries are checked against.
pub(crate) struct Event {
    pub(crate) time: i64,
    pub(crate) json: Value,
}

impl Event {
    fn str(&self, path: &[&str]) -> Option<&str> {
        let mut v = &self.json;
        for p in path {
            v = v.get(p)?;
        }
        v.as_str()
    }
    pub(crate) fn name(&self) -> &str {
        self.str(&["eventName"]).unwrap()
    }
    pub(crate) fn id(&self) -> String {
        self.str(&["eventID"]).unwrap().to_owned()
    }
    fn param(&self, key: &str) -> Option<&Value> {
        self.json.get("requestParameters")?.get(key)
    }
    /// What the queries call the principal.
    pub(crate) fn principal(&self) -> String {
        ["arn", "invokedBy"]
            .iter()
            .find_map(|k| self.str(&["userIdentity", k]))
            .or_else(|| self.str(&["userIdentity", "onBehalfOf", "userId"]))
            .or_else(|| self.str(&["userIdentity", "principalId"]))
            .unwrap()
            .to_owned()
    }
    fn read_only(&self) -> bool {
        self.json["readOnly"].as_bool().unwrap()
    }
    fn error(&self) -> Option<&str> {
        self.str(&["errorCode"])
    }
}

pub(crate) fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

/// An AWS configuration with one profile per account.
fn aws_config(dir: &Path) {
    let mut config = String::new();
    let mut credentials = String::new();
    for (i, _) in ACCOUNTS.iter().enumerate() {
        config.push_str(&format!("[profile p{i}]\nregion = us-east-1\n"));
        credentials.push_str(&format!(
            "[p{i}]\naws_access_key_id = AKIAQUERIES00000000{i}\naws_secret_access_key = x\n"
        ));
    }
    std::fs::write(dir.join("config"), config).unwrap();
    std::fs::write(dir.join("credentials"), credentials).unwrap();
}

pub(crate) fn with_aws(cmd: &mut Command, home: &Path, emulator: &Emulator) {
    cmd.args(["--endpoint-url", &emulator.endpoint_url()])
        .env("AWS_CONFIG_FILE", home.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"))
        .env("AWS_PROFILE", "p0");
}

pub(crate) fn jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn ids(rows: &[Value]) -> BTreeSet<String> {
    rows.iter()
        .map(|r| r["eventID"].as_str().unwrap().to_owned())
        .collect()
}

fn s<'a>(row: &'a Value, column: &str) -> &'a str {
    row[column].as_str().unwrap_or_default()
}

/// A value as text, whether it was typed as a string or a number (digits-only columns such as
/// account IDs that are not event-schema columns are typed as integers).
fn t(row: &Value, column: &str) -> String {
    match &row[column] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn n(row: &Value, column: &str) -> u64 {
    row[column]
        .as_u64()
        .unwrap_or_else(|| panic!("{column} in {row}"))
}

/// The emulator serving [`generator`]'s data (Lake included, limits off) and an export of its
/// Event history between `start` and `end` into `home/export`.
pub(crate) fn exported(
    now: i64,
    start: i64,
    end: i64,
) -> (Emulator, tempfile::TempDir, std::path::PathBuf) {
    let emulator = Emulator::spawn(EmulatorConfig {
        data: DataSource::Generated(generator(now)),
        keys: ACCOUNTS
            .iter()
            .enumerate()
            .map(|(i, a)| {
                (
                    format!("AKIAQUERIES00000000{i}"),
                    KeyAccess::Account((*a).into()),
                )
            })
            .collect(),
        limits: Limits::OFF,
        lake: LakeTiming {
            queued: Duration::from_millis(5),
            running: Duration::from_millis(5),
            timeout: Duration::from_secs(120),
        },
        ..EmulatorConfig::default()
    })
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    aws_config(home.path());
    let data = home.path().join("export");

    // The export: Event history of every account and Region (the emulator's limits are off, so
    // the pace can be too).
    let mut export = trailq_command();
    export.args([
        "export",
        "--out",
        data.to_str().unwrap(),
        "--rate",
        "100",
        "--quiet",
    ]);
    export.args([
        "--start",
        &format_micros(start),
        "--end",
        &format_micros(end),
    ]);
    for i in 0..ACCOUNTS.len() {
        export.args(["--profile", &format!("p{i}")]);
    }
    for r in REGIONS {
        export.args(["--region", r]);
    }
    with_aws(&mut export, home.path(), &emulator);
    let o = run(&mut export);
    assert!(o.status.success(), "{}", stderr(&o));

    (emulator, home, data)
}

#[test]
fn every_saved_query_gives_the_same_answer_on_lake_and_on_the_export_and_finds_its_rows() {
    let now = {
        let t = chrono::Utc::now().timestamp_micros();
        t - t.rem_euclid(1_000_000)
    };
    let (start, end) = (now - 29 * DAY, now);
    let (emulator, home, data) = exported(now, start, end);

    // The oracle: the same records, generated again and read with serde_json.
    let g = Generator::new(generator(now));
    let events: Vec<Event> = (0..g.day_count())
        .flat_map(|d| g.day(d))
        .filter(|e| INSPECTOR_SOURCES.contains(&e.event_source))
        .filter(|e| (start..end).contains(&e.time_micros))
        .map(|e| Event {
            time: e.time_micros,
            json: serde_json::from_str(&e.json).unwrap(),
        })
        .collect();
    let of = |source: &str, names: &[&str]| -> Vec<&Event> {
        events
            .iter()
            .filter(|e| e.str(&["eventSource"]) == Some(source) && names.contains(&e.name()))
            .collect()
    };
    let id_set =
        |events: &[&Event]| -> BTreeSet<String> { events.iter().map(|e| e.id()).collect() };
    let mallory = events
        .iter()
        .filter(|e| e.principal().ends_with(":user/mallory"))
        .collect::<Vec<_>>();
    assert!(mallory.len() >= 15, "the planted story is in the window");

    let eds = emulator.event_data_stores()[0].id.clone();
    let window = [
        format!("start={}", format_micros(start)),
        format!("end={}", format_micros(end)),
    ];
    let library = trailq::library::Library::load(&[]).unwrap();
    assert!(library.queries().len() >= 15);
    let mut answers: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for query in library.queries() {
        let mut params: Vec<String> = window.to_vec();
        match query.name.as_str() {
            "principal-write-timeline" => params.push("principal=Mallory".into()),
            "first-seen-principals" => {
                params.push(format!("since={}", format_micros(now - 20 * DAY)))
            }
            "top-callers" => params.push("limit=100".into()),
            _ => {}
        }
        let param_args: Vec<String> = params
            .iter()
            .flat_map(|p| ["--param".to_owned(), p.clone()])
            .collect();
        let lake_out = home.path().join(format!("{}.lake.jsonl", query.name));
        let mut lake = trailq_command();
        lake.args([
            "queries",
            "run",
            &query.name,
            "--engine",
            "lake",
            "--eds",
            &eds,
            "--quiet",
        ])
        .args(["--out", lake_out.to_str().unwrap()])
        .args(&param_args);
        with_aws(&mut lake, home.path(), &emulator);
        let o = run(&mut lake);
        assert!(o.status.success(), "{} on Lake: {}", query.name, stderr(&o));

        let local_out = home.path().join(format!("{}.local.jsonl", query.name));
        let o = trailq(
            [
                "queries",
                "run",
                &query.name,
                "--data",
                data.to_str().unwrap(),
                "--quiet",
            ]
            .into_iter()
            .map(String::from)
            .chain(["--out".into(), local_out.display().to_string()])
            .chain(param_args.iter().cloned()),
        );
        assert!(o.status.success(), "{} locally: {}", query.name, stderr(&o));
        let (on_lake, locally) = (jsonl(&lake_out), jsonl(&local_out));
        // Every saved query orders its rows completely, so the answers compare in order.
        assert_eq!(
            on_lake, locally,
            "{}: Lake and the export disagree",
            query.name
        );
        answers.insert(query.name.clone(), locally);
    }

    let answer = |name: &str| -> &Vec<Value> { &answers[name] };
    let mallory_row = |name: &str, event: &str| -> Value {
        answer(name)
            .iter()
            // A query about one operation has no eventName column.
            .find(|r| {
                s(r, "principal").ends_with(":user/mallory")
                    && r.get("eventName").is_none_or(|n| n == event)
            })
            .unwrap_or_else(|| panic!("{name}: mallory's {event} in {:#?}", answer(name)))
            .clone()
    };

    // Change queries list exactly the calls they are about.
    let lists: [(&str, &[&str]); 11] = [
        (
            "inspector-disabled",
            &["Disable", "DisableDelegatedAdminAccount"],
        ),
        (
            "org-auto-enable-changes",
            &["UpdateOrganizationConfiguration"],
        ),
        (
            "scan-configuration-changes",
            &["UpdateConfiguration", "Enable"],
        ),
        (
            "deep-inspection-changes",
            &[
                "UpdateEc2DeepInspectionConfiguration",
                "UpdateOrgEc2DeepInspectionConfiguration",
                "BatchUpdateMemberEc2DeepInspectionStatus",
            ],
        ),
        ("filter-deletions", &["DeleteFilter"]),
        (
            "delegated-admin-changes",
            &[
                "EnableDelegatedAdminAccount",
                "DisableDelegatedAdminAccount",
            ],
        ),
        ("member-changes", &["AssociateMember", "DisassociateMember"]),
        (
            "report-and-sbom-destinations",
            &["CreateFindingsReport", "CreateSbomExport"],
        ),
        (
            "encryption-key-changes",
            &["UpdateEncryptionKey", "ResetEncryptionKey"],
        ),
        (
            "cis-scan-configuration-changes",
            &[
                "CreateCisScanConfiguration",
                "UpdateCisScanConfiguration",
                "DeleteCisScanConfiguration",
            ],
        ),
        (
            "code-security-integrations",
            &[
                "CreateCodeSecurityIntegration",
                "UpdateCodeSecurityIntegration",
                "DeleteCodeSecurityIntegration",
                "CreateCodeSecurityScanConfiguration",
                "UpdateCodeSecurityScanConfiguration",
                "DeleteCodeSecurityScanConfiguration",
                "BatchAssociateCodeSecurityScanConfiguration",
                "BatchDisassociateCodeSecurityScanConfiguration",
            ],
        ),
    ];
    for (name, names) in lists {
        let expected = id_set(&of(INSPECTOR2, names));
        assert!(!expected.is_empty(), "{name}: the data has such calls");
        assert_eq!(ids(answer(name)), expected, "{name}");
    }
    let suppress: Vec<&Event> = of(INSPECTOR2, &["CreateFilter", "UpdateFilter"])
        .into_iter()
        .filter(|e| e.param("action").and_then(Value::as_str) == Some("SUPPRESS"))
        .collect();
    assert_eq!(ids(answer("suppression-filters")), id_set(&suppress));

    // …and show what makes the planted ones suspicious.
    let disable = mallory_row("inspector-disabled", "Disable");
    assert_eq!(s(&disable, "recipientAccountId"), ACCOUNTS[1]);
    assert_eq!(s(&disable, "resource_types"), r#"["EC2","ECR","LAMBDA"]"#);
    let org = mallory_row("org-auto-enable-changes", "UpdateOrganizationConfiguration");
    for column in [
        "ec2",
        "ecr",
        "lambda_functions",
        "lambda_code",
        "code_repository",
    ] {
        assert_eq!(org[column], Value::Bool(false), "{column}");
    }
    let deep = mallory_row(
        "deep-inspection-changes",
        "UpdateEc2DeepInspectionConfiguration",
    );
    assert_eq!(deep["activate"], Value::Bool(false));
    let filter = mallory_row("suppression-filters", "CreateFilter");
    assert_eq!(s(&filter, "filter_name"), "hide-critical-ec2");
    assert!(s(&filter, "filter_criteria").contains("CRITICAL"));
    assert_eq!(s(&filter, "sourceIPAddress"), "185.220.101.45");
    assert!(
        s(
            &mallory_row("filter-deletions", "DeleteFilter"),
            "filter_arn"
        )
        .ends_with("hide-critical-ec2")
    );
    let admin = answer("delegated-admin-changes")
        .iter()
        .find(|r| t(r, "delegated_admin") == FOREIGN_ACCOUNT)
        .expect("the delegated administrator outside the organization");
    assert_eq!(s(admin, "identity_type"), "Root");
    assert_eq!(
        t(
            &mallory_row("member-changes", "DisassociateMember"),
            "member_account"
        ),
        ACCOUNTS[2]
    );
    for event in ["CreateFindingsReport", "CreateSbomExport"] {
        let row = mallory_row("report-and-sbom-destinations", event);
        assert!(s(&row, "bucket").ends_with(FOREIGN_ACCOUNT), "{row}");
        assert_eq!(t(&row, "key_account"), FOREIGN_ACCOUNT);
    }
    let key = mallory_row("encryption-key-changes", "UpdateEncryptionKey");
    assert_eq!(t(&key, "key_account"), FOREIGN_ACCOUNT);
    let cis = mallory_row(
        "cis-scan-configuration-changes",
        "DeleteCisScanConfiguration",
    );
    assert!(s(&cis, "configuration_arn").contains("cis-configuration"));
    let gitlab = mallory_row(
        "code-security-integrations",
        "CreateCodeSecurityIntegration",
    );
    assert_eq!(s(&gitlab, "integration_type"), "GITLAB_SELF_MANAGED");
    assert_eq!(s(&gitlab, "instance_url"), "https://git.attacker.example");

    // Detections without a listing query of their own: each finds its planted rows and only
    // what it is about.
    let recon = mallory_row("denied-reconnaissance", "");
    let denied: Vec<&&Event> = mallory
        .iter()
        .filter(|e| e.error() == Some("AccessDeniedException"))
        .collect();
    assert_eq!(n(&recon, "denied_operations"), 3);
    let mut denied_ids: Vec<String> = denied.iter().map(|e| e.id()).collect();
    denied_ids.sort();
    assert_eq!(s(&recon, "event_ids"), denied_ids.join(","));
    assert_eq!(
        answer("denied-reconnaissance").len(),
        1,
        "ordinary callers fail on one thing at a time"
    );
    let classic_names = [
        "DeleteAssessmentRun",
        "DeleteAssessmentTarget",
        "DeleteAssessmentTemplate",
        "StopAssessmentRun",
        "UnsubscribeFromEvent",
        "UpdateAssessmentTarget",
    ];
    assert_eq!(
        ids(answer("classic-inspector-weakening")),
        id_set(&of(INSPECTOR_CLASSIC, &classic_names))
    );
    for event in ["DeleteAssessmentTemplate", "UnsubscribeFromEvent"] {
        let row = mallory_row("classic-inspector-weakening", event);
        assert_eq!(s(&row, "severity"), "medium");
    }
    let by_people: Vec<&Event> = of(INSPECTOR_SCAN, &["ScanSbom"])
        .into_iter()
        .filter(|e| matches!(e.str(&["userIdentity", "type"]), Some("IAMUser" | "Root")))
        .collect();
    assert_eq!(ids(answer("sbom-scans-by-people")), id_set(&by_people));
    assert_eq!(
        s(
            &mallory_row("sbom-scans-by-people", "ScanSbom"),
            "identity_type"
        ),
        "IAMUser"
    );

    // The timeline of one principal: every change or failure of mallory's, in order.
    let timeline: Vec<&Event> = mallory
        .iter()
        .copied()
        .filter(|e| !e.read_only() || e.error().is_some())
        .collect();
    let mut expected_order: Vec<&Event> = timeline.clone();
    expected_order.sort_by_key(|e| (e.time, e.id()));
    assert_eq!(
        answer("principal-write-timeline")
            .iter()
            .map(|r| s(r, "eventID").to_owned())
            .collect::<Vec<_>>(),
        expected_order.iter().map(|e| e.id()).collect::<Vec<_>>()
    );

    // Aggregates, recomputed from the records.
    let sbom = answer("scan-sbom-by-principal");
    let scan_calls = of(INSPECTOR_SCAN, &["ScanSbom"]);
    assert_eq!(
        sbom.iter().map(|r| n(r, "calls")).sum::<u64>(),
        scan_calls.len() as u64
    );
    let row = sbom
        .iter()
        .find(|r| s(r, "principal").ends_with(":user/mallory"))
        .expect("mallory's ScanSbom");
    assert_eq!(n(row, "calls"), 1);

    let errors = answer("errors-by-principal");
    let row = errors
        .iter()
        .find(|r| {
            s(r, "principal").ends_with(":user/mallory")
                && s(r, "errorCode") == "AccessDeniedException"
        })
        .expect("mallory's denied reconnaissance");
    assert_eq!((n(row, "errors"), n(row, "operations")), (3, 3));
    assert_eq!(
        errors.iter().map(|r| n(r, "errors")).sum::<u64>(),
        events.iter().filter(|e| e.error().is_some()).count() as u64
    );

    let mut calls_by_principal: BTreeMap<String, u64> = BTreeMap::new();
    for e in &events {
        *calls_by_principal.entry(e.principal()).or_default() += 1;
    }
    let top = answer("top-callers");
    assert_eq!(
        top.len(),
        calls_by_principal.len(),
        "limit=100 keeps every principal"
    );
    for r in top {
        assert_eq!(n(r, "calls"), calls_by_principal[s(r, "principal")], "{r}");
    }
    // A narrow window reads only its days, and still counts every call in it.
    let out = home.path().join("pruned.jsonl");
    let o = trailq([
        "queries".to_owned(),
        "run".into(),
        "top-callers".into(),
        "--data".into(),
        data.display().to_string(),
        "--quiet".into(),
        "--json".into(),
        "--out".into(),
        out.display().to_string(),
        "--param".into(),
        format!("start={}", format_micros(now - 3 * DAY)),
        "--param".into(),
        format!("end={}", format_micros(now)),
        "--param".into(),
        "limit=100".into(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(summary["partitionsRead"], 4, "{summary}");
    assert!(
        summary["partitionsTotal"].as_u64().unwrap() >= 29,
        "{summary}"
    );
    let mut recent: BTreeMap<String, u64> = BTreeMap::new();
    for e in events.iter().filter(|e| e.time >= now - 3 * DAY) {
        *recent.entry(e.principal()).or_default() += 1;
    }
    let pruned: BTreeMap<String, u64> = jsonl(&out)
        .iter()
        .map(|r| (s(r, "principal").to_owned(), n(r, "calls")))
        .collect();
    assert_eq!(pruned, recent);

    let first = answer("first-seen-principals");
    let row = first
        .iter()
        .find(|r| s(r, "principal").ends_with(":user/mallory"))
        .expect("mallory is new");
    assert_eq!(
        n(row, "calls"),
        mallory
            .iter()
            .filter(|e| e.principal() == s(row, "principal"))
            .count() as u64
    );
    assert!(
        first
            .iter()
            .all(|r| s(r, "first_call") >= format_micros(now - 20 * DAY).as_str())
    );

    let ips = answer("source-ips");
    let row = ips
        .iter()
        .find(|r| {
            s(r, "source_ip") == "185.220.101.45"
                && s(r, "principal").ends_with(&format!("{}:user/mallory", ACCOUNTS[0]))
        })
        .expect("mallory's address");
    assert!(n(row, "changes") >= 8, "{row}");
    assert_eq!(
        ips.iter().map(|r| n(r, "calls")).sum::<u64>(),
        events.len() as u64
    );

    let agents = answer("user-agents");
    assert_eq!(
        agents.iter().map(|r| n(r, "calls")).sum::<u64>(),
        events.len() as u64
    );

    for account in ACCOUNTS {
        let mine: Vec<&Event> = events
            .iter()
            .filter(|e| e.str(&["recipientAccountId"]) == Some(account))
            .collect();
        let channel = |c: &str| {
            answer("console-api-service")
                .iter()
                .find(|r| s(r, "recipientAccountId") == account && s(r, "channel") == c)
                .map_or(0, |r| n(r, "calls"))
        };
        let console = mine
            .iter()
            .filter(|e| e.str(&["sessionCredentialFromConsole"]) == Some("true"))
            .count();
        let service = mine
            .iter()
            .filter(|e| e.str(&["userIdentity", "type"]) == Some("AWSService"))
            .count();
        assert_eq!(channel("console"), console as u64, "{account}");
        assert_eq!(channel("aws-service"), service as u64, "{account}");
        assert_eq!(
            channel("api"),
            (mine.len() - console - service) as u64,
            "{account}"
        );
    }

    let mut per_place: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    for e in &events {
        let day = format_micros(e.time - e.time.rem_euclid(DAY));
        let key = (
            day,
            e.str(&["recipientAccountId"]).unwrap().to_owned(),
            e.str(&["awsRegion"]).unwrap().to_owned(),
        );
        *per_place.entry(key).or_default() += 1;
    }
    let activity: BTreeMap<(String, String, String), u64> = answer("activity-by-account-region")
        .iter()
        .map(|r| {
            (
                (
                    s(r, "day").to_owned(),
                    s(r, "recipientAccountId").to_owned(),
                    s(r, "awsRegion").to_owned(),
                ),
                n(r, "calls"),
            )
        })
        .collect();
    assert_eq!(activity, per_place);

    let classic = answer("classic-inspector-activity");
    assert_eq!(
        classic.iter().map(|r| n(r, "calls")).sum::<u64>(),
        events
            .iter()
            .filter(|e| e.str(&["eventSource"]) == Some(INSPECTOR_CLASSIC))
            .count() as u64
    );

    // `trailq query NAME` is the same saved query through the Lake client.
    let out = home.path().join("by-name.jsonl");
    let mut by_name = trailq_command();
    by_name
        .args([
            "query",
            "suppression-filters",
            "--eds",
            "trailq-emulator",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ])
        .args(window.iter().flat_map(|p| ["--param", p.as_str()]));
    with_aws(&mut by_name, home.path(), &emulator);
    let o = run(&mut by_name);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(&jsonl(&out), answer("suppression-filters"));

    readme_duckdb_examples_agree(&data, home.path());
}

/// The README's DuckDB versions of three saved queries, run by the DuckDB CLI on the export,
/// give the answers the local engine gives for the whole export.
fn readme_duckdb_examples_agree(data: &Path, dir: &Path) {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let mut examples = Vec::new();
    for block in readme.split("```sql\n").skip(1) {
        let sql = block.split("```").next().unwrap();
        if let Some(name) = sql
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("-- "))
            .and_then(|l| l.strip_suffix(", in DuckDB"))
        {
            examples.push((name.to_owned(), sql.to_owned()));
        }
    }
    let names: Vec<&str> = examples.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["suppression-filters", "errors-by-principal", "top-callers"],
        "the README's DuckDB examples"
    );
    for (name, sql) in examples {
        let sql = sql.replace(
            "read_parquet('events/**/*.parquet', hive_partitioning = true)",
            &dataset_sql(data),
        );
        assert!(
            sql.contains(&dataset_sql(data)),
            "{name} reads the export as the README says"
        );
        let theirs = duckdb(&sql);
        let out = dir.join(format!("{name}.all.jsonl"));
        let mut args = vec![
            "queries",
            "run",
            &name,
            "--data",
            data.to_str().unwrap(),
            "--quiet",
            "--out",
            out.to_str().unwrap(),
            "--param",
            "start=2000-01-01",
            "--param",
            "end=2100-01-01",
        ];
        if name == "top-callers" {
            args.extend(["--param", "limit=10"]);
        }
        let o = trailq(args);
        assert!(o.status.success(), "{}", stderr(&o));
        let ours = jsonl(&out);
        let key = |r: &Value| -> String {
            match name.as_str() {
                "suppression-filters" => s(r, "eventID").to_owned(),
                "errors-by-principal" => format!(
                    "{} {} {}",
                    s(r, "principal"),
                    s(r, "errorCode"),
                    r["errors"]
                ),
                _ => format!("{} {}", s(r, "principal"), r["calls"]),
            }
        };
        assert!(!ours.is_empty(), "{name}");
        assert_eq!(
            theirs.iter().map(key).collect::<Vec<_>>(),
            ours.iter().map(key).collect::<Vec<_>>(),
            "{name}: DuckDB and trailq disagree"
        );
    }
}

#[test]
fn the_library_lists_shows_and_checks_parameters() {
    let o = trailq(["queries", "list"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let list = stdout(&o);
    for name in [
        "suppression-filters",
        "inspector-disabled",
        "report-and-sbom-destinations",
    ] {
        assert!(list.contains(name), "{list}");
    }
    let o = trailq(["queries", "list", "--json"]);
    let listed: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(listed.len() >= 15);
    assert!(
        listed.iter().all(|q| !q["why"].as_str().unwrap().is_empty()
            && !q["sources"].as_array().unwrap().is_empty())
    );

    let o = trailq([
        "queries",
        "show",
        "top-callers",
        "--now",
        "2026-11-20T00:00:00Z",
        "--param",
        "limit=5",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let shown = stdout(&o);
    assert!(shown.contains("-- title: Top callers of Inspector"));
    assert!(
        shown.contains("eventTime >= '2026-08-22 00:00:00' AND eventTime < '2026-11-20 00:00:00'"),
        "{shown}"
    );
    assert!(
        shown.contains("FROM {{eds}}") && shown.contains("LIMIT 5"),
        "{shown}"
    );

    // Values are checked for their kind and cannot change the statement.
    let bad = |args: &[&str]| -> String {
        let o = trailq(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        stderr(&o)
    };
    assert!(
        bad(&[
            "queries",
            "show",
            "top-callers",
            "--param",
            "limit=5; DROP TABLE x"
        ])
        .contains("is not a valid integer for parameter `limit`")
    );
    assert!(
        bad(&[
            "queries",
            "show",
            "top-callers",
            "--param",
            "start=last tuesday"
        ])
        .contains("is not a valid time")
    );
    assert!(bad(&["queries", "show", "top-callers", "--param", "region=us-east-1"]).contains("has no parameter `region`; its parameters: start (timestamp = -90d), end (timestamp = now), limit (integer = 25)"));
    assert!(
        bad(&["queries", "show", "principal-write-timeline"])
            .contains("parameter `principal` has no value")
    );
    assert!(
        bad(&["queries", "show", "no-such-query"])
            .contains("no saved query is named `no-such-query`")
    );
    let o = trailq([
        "queries",
        "show",
        "principal-write-timeline",
        "--param",
        "principal=x') OR 1=1 --",
    ]);
    assert!(o.status.success());
    assert!(
        stdout(&o).contains("lower('x'') OR 1=1 --')"),
        "quoted: {}",
        stdout(&o)
    );
    assert!(bad(&["queries", "run", "top-callers"]).contains("pass --eds ID"));
    let dir = tempfile::tempdir().unwrap();
    assert!(
        bad(&[
            "queries",
            "run",
            "top-callers",
            "--data",
            dir.path().to_str().unwrap()
        ])
        .contains("is not a trailq dataset")
    );
}

#[test]
fn users_add_their_own_queries_from_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let queries = dir.path().join("mine");
    std::fs::create_dir(&queries).unwrap();
    std::fs::write(
        queries.join("by-region.sql"),
        "-- title: Events per Region for one account\n-- description: counts\n-- why: a baseline\n-- sources: inspector2.amazonaws.com\n\
         -- param account: account_id; the account\n-- param regions: string_list = us-east-1,eu-west-1; Regions\n\
         SELECT awsRegion AS region, count(*) AS events FROM {{eds}}\nWHERE recipientAccountId = {{account}} AND awsRegion IN {{regions}}\nGROUP BY awsRegion ORDER BY region\n",
    )
    .unwrap();
    // A small export to run it on: the corpus' real trail files, converted.
    let data = dir.path().join("data");
    let corpus = crate::util::corpus();
    let (code, _, err) = crate::util::convert(&[&corpus.join("real-records.jsonl")], &data);
    assert!(code == 0 || code == 1, "{err}");
    let account = duckdb(&format!(
        "SELECT recipientAccountId AS a, count(*) AS n FROM {} WHERE recipientAccountId IS NOT NULL GROUP BY 1 ORDER BY n DESC, a LIMIT 1",
        dataset_sql(&data)
    ))[0]["a"]
        .as_str()
        .unwrap()
        .to_owned();
    let dir_arg = queries.to_str().unwrap();
    let o = trailq(["queries", "list", "--queries-dir", dir_arg]);
    assert!(
        stdout(&o).contains("by-region") && stdout(&o).contains("[yours]"),
        "{}",
        stdout(&o)
    );
    let out = dir.path().join("r.csv");
    let o = trailq([
        "queries",
        "run",
        "by-region",
        "--queries-dir",
        dir_arg,
        "--data",
        data.to_str().unwrap(),
        "--param",
        &format!("account={account}"),
        "--param",
        "regions=us-east-1, us-west-2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let theirs = duckdb(&format!(
        "SELECT awsRegion AS region, count(*) AS events FROM {} WHERE recipientAccountId = '{account}' AND awsRegion IN ('us-east-1', 'us-west-2') GROUP BY awsRegion ORDER BY region",
        dataset_sql(&data)
    ));
    let expected: String = std::iter::once("region,events".to_owned())
        .chain(
            theirs
                .iter()
                .map(|r| format!("{},{}", s(r, "region"), r["events"])),
        )
        .map(|l| l + "\n")
        .collect();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), expected);
    assert!(stderr(&o).contains("day partitions"), "{}", stderr(&o));
    let o = trailq([
        "queries",
        "run",
        "by-region",
        "--queries-dir",
        dir_arg,
        "--data",
        data.to_str().unwrap(),
        "--param",
        "account=12345",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o)
            .contains("`12345` is not a valid AWS account ID (12 digits) for parameter `account`"),
        "{}",
        stderr(&o)
    );
    // A broken file in the folder is named, with its line.
    std::fs::write(queries.join("broken.sql"), "-- title: x\nSELECT 1\n").unwrap();
    let o = trailq(["queries", "list", "--queries-dir", dir_arg]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("broken.sql"), "{}", stderr(&o));
}
