# Sign-in emails off the request path (functions/auth/src/mailer.rs): POST /auth/magic-links only puts
# `{reference, traveller_id, email_hash, requested_at}` on this queue (no address, no token); the sign-in-mailer
# Lambda consumes it, issues the link and sends the email. A message that still fails after 3 receives (SES or
# store trouble) is parked in the dead-letter queue (alarmed in alarms.tf).

resource "aws_sqs_queue" "sign_in_mail_dlq" {
  name = "${local.prefix}-sign-in-mail-dlq"
  # Kept a few days for a person to see why (the link it would have sent is long expired by then: the traveller
  # asks again; there is nothing to redrive).
  message_retention_seconds         = 345600
  kms_master_key_id                 = aws_kms_key.portal.arn
  kms_data_key_reuse_period_seconds = 3600
}

resource "aws_sqs_queue" "sign_in_mail" {
  name = "${local.prefix}-sign-in-mail"
  # Six times the mailer's timeout of 30 s (AWS's advice for Lambda consumers). A literal: local.functions
  # names this queue's URL, so reading its timeout here would be a cycle.
  visibility_timeout_seconds = 6 * 30
  # A sign-in link asked for more than an hour ago is useless (the mailer also drops a message older than a
  # link lives).
  message_retention_seconds         = 3600
  kms_master_key_id                 = aws_kms_key.portal.arn
  kms_data_key_reuse_period_seconds = 3600
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.sign_in_mail_dlq.arn
    maxReceiveCount     = 3
  })
}

# The mailer reports per-message failures (SqsBatchResponse), so only failed messages are retried. No batching
# window: a traveller is waiting for the email.
resource "aws_lambda_event_source_mapping" "sign_in_mailer" {
  event_source_arn        = aws_sqs_queue.sign_in_mail.arn
  function_name           = aws_lambda_function.function["sign-in-mailer"].arn
  batch_size              = 10
  function_response_types = ["ReportBatchItemFailures"]
}

# What Lambda's poller needs on the mailer's role (the mailer's code itself never calls SQS).
data "aws_iam_policy_document" "sign_in_mailer_queue" {
  statement {
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
    resources = [aws_sqs_queue.sign_in_mail.arn]
  }
}

resource "aws_iam_role_policy" "sign_in_mailer_queue" {
  name   = "queue"
  role   = aws_iam_role.function["sign-in-mailer"].id
  policy = data.aws_iam_policy_document.sign_in_mailer_queue.json
}
