# One Lambda per entry of local.functions (functions.tf): provided.al2023 on arm64, the bootstrap zip from
# `cargo lambda build --release --arm64 --output-format zip`, JSON logs with retention, X-Ray tracing.

locals {
  artifacts_dir = startswith(var.lambda_artifacts_dir, "/") ? var.lambda_artifacts_dir : "${path.module}/${var.lambda_artifacts_dir}"
}

resource "aws_cloudwatch_log_group" "function" {
  for_each          = local.functions
  name              = "/aws/lambda/${local.prefix}-${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.portal.arn
}

resource "aws_lambda_function" "function" {
  # checkov:skip=CKV_AWS_117:No VPC: the functions reach only AWS public endpoints (DynamoDB, S3, SES, Secrets Manager) and the payment gateway; a VPC would add NAT cost and nothing private to reach.
  # checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile in the release pipeline; the artifact is built from the reviewed repository by CI.
  # checkov:skip=CKV_AWS_116:HTTP functions are invoked synchronously (the caller gets the error); scheduled ones get retries and a DLQ on the schedule target (schedules.tf).
  # checkov:skip=CKV_AWS_115:Reserved concurrency is set per function in functions.tf where it protects a downstream (SES, the payment gateway, the exporter lease); customer routes use the account pool behind API throttling.
  for_each = local.functions

  function_name    = "${local.prefix}-${each.key}"
  role             = aws_iam_role.function[each.key].arn
  runtime          = "provided.al2023"
  architectures    = ["arm64"]
  handler          = "bootstrap"
  filename         = "${local.artifacts_dir}/${each.key}/bootstrap.zip"
  source_code_hash = filebase64sha256("${local.artifacts_dir}/${each.key}/bootstrap.zip")
  memory_size      = each.value.memory
  timeout          = each.value.timeout
  kms_key_arn      = aws_kms_key.portal.arn

  reserved_concurrent_executions = each.value.reserved_concurrency == null ? -1 : each.value.reserved_concurrency

  environment {
    variables = merge(
      local.common_env,
      each.value.env,
      # Only the ARN: the function reads the value at cold start (shared/secrets), so it is in neither the
      # environment nor the Terraform state.
      { for var_name, secret in each.value.secrets : "${var_name}_SECRET_ARN" => local.secret_arns[secret] },
    )
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.function[each.key].name
    application_log_level = "INFO"
    system_log_level      = "WARN"
  }

  tracing_config {
    mode = "Active"
  }

  # The alias: DETAILS_KMS_KEY_ID names it (kms.tf).
  depends_on = [aws_iam_role_policy.function, aws_cloudwatch_log_group.function, aws_kms_alias.details]
}
