# Customer notifications (issue 21; functions/notifications): the outbox-driven mailer's queues.
#
#   writers --(notice in their own transaction)--> mail outbox (NOTE#<REF>, MAILQ partition of open_payments)
#   notification-relay (every minute) --> mail queue --> notification-mailer --> SES (configuration set portal)
#   SES events (bounce, complaint, ...) --> SNS ses_feedback (ses.tf) --raw--> SES events queue --> the mailer
#
# The mail queue carries `{reference, notices: [notice id, ...]}` (no address, no content); the mailer reads the
# notices and claims a send record per recipient before it calls SES, so a redelivered message sends nothing
# twice. The SES events queue carries the SES event JSON itself (raw delivery). A message that still fails after
# 5 receives is parked in its dead-letter queue (alarmed in alarms.tf) for a person to look at and redrive.

locals {
  # Six times the mailer's timeout (AWS's advice for Lambda consumers), so a slow batch is not redelivered while
  # it still runs. A literal: local.functions names the mail queue's URL, so reading the mailer's timeout here
  # would be a cycle (infra/tests check the two agree).
  notification_mailer_visibility_seconds = 6 * 60
}

resource "aws_sqs_queue" "mail_dlq" {
  name                              = "${local.prefix}-mail-dlq"
  message_retention_seconds         = 1209600
  kms_master_key_id                 = aws_kms_key.portal.arn
  kms_data_key_reuse_period_seconds = 3600
}

resource "aws_sqs_queue" "mail" {
  name                       = "${local.prefix}-mail"
  visibility_timeout_seconds = local.notification_mailer_visibility_seconds
  # The notice is marked relayed once its message is here: a message that expired would be an email never
  # sent, so it is kept as long as the documents queue's (4 days; the DLQ alarm fires long before).
  message_retention_seconds         = 345600
  kms_master_key_id                 = aws_kms_key.portal.arn
  kms_data_key_reuse_period_seconds = 3600
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.mail_dlq.arn
    maxReceiveCount     = 5
  })
}

resource "aws_sqs_queue" "ses_events_dlq" {
  name                              = "${local.prefix}-ses-events-dlq"
  message_retention_seconds         = 1209600
  kms_master_key_id                 = aws_kms_key.portal.arn
  kms_data_key_reuse_period_seconds = 3600
}

resource "aws_sqs_queue" "ses_events" {
  name                              = "${local.prefix}-ses-events"
  visibility_timeout_seconds        = local.notification_mailer_visibility_seconds
  message_retention_seconds         = 345600
  kms_master_key_id                 = aws_kms_key.portal.arn
  kms_data_key_reuse_period_seconds = 3600
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.ses_events_dlq.arn
    maxReceiveCount     = 5
  })
}

# The configuration set's events (BOUNCE, COMPLAINT, REJECT, RENDERING_FAILURE: ses.tf) to the SES events queue.
# Raw delivery: the queue body is the SES event JSON ({"eventType": "Bounce", "bounce": {..}, "mail": {..}}),
# not an SNS envelope around it. The mailer records bounces and complaints and ignores the other types.
resource "aws_sns_topic_subscription" "ses_events" {
  topic_arn            = aws_sns_topic.ses_feedback.arn
  protocol             = "sqs"
  endpoint             = aws_sqs_queue.ses_events.arn
  raw_message_delivery = true
}

# Only the SES feedback topic may send to the SES events queue (the queue is encrypted with the portal key, which
# lets SNS use it: kms.tf).
data "aws_iam_policy_document" "ses_events_queue" {
  statement {
    sid       = "SesFeedbackTopicSends"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.ses_events.arn]
    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_sns_topic.ses_feedback.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "ses_events" {
  queue_url = aws_sqs_queue.ses_events.id
  policy    = data.aws_iam_policy_document.ses_events_queue.json
}

# The mailer reports per-message failures (SqsBatchResponse), so only failed messages are retried. The two
# mappings share the mailer's reserved concurrency (functions.tf): their maximum_concurrency adds up to it, so
# the poller never invokes past it (a throttled batch would count a receive against its messages and could send
# them to the dead-letter queue without ever running). No batching window: the relay already digests.
resource "aws_lambda_event_source_mapping" "notification_mailer" {
  event_source_arn        = aws_sqs_queue.mail.arn
  function_name           = aws_lambda_function.function["notification-mailer"].arn
  batch_size              = 10
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = local.functions["notification-mailer"].reserved_concurrency - 2
  }

  lifecycle {
    precondition {
      condition     = coalesce(local.functions["notification-mailer"].reserved_concurrency, 0) >= 4
      error_message = "notification-mailer needs a reserved_concurrency of at least 4: 2 or more for the mail queue and 2 for the SES events queue (a mapping's maximum_concurrency is at least 2)."
    }
  }
}

resource "aws_lambda_event_source_mapping" "notification_mailer_ses_events" {
  event_source_arn        = aws_sqs_queue.ses_events.arn
  function_name           = aws_lambda_function.function["notification-mailer"].arn
  batch_size              = 10
  function_response_types = ["ReportBatchItemFailures"]

  # The least a mapping may have; bounces and complaints are few and never urgent.
  scaling_config {
    maximum_concurrency = 2
  }
}

# What Lambda's poller needs on the mailer's role (the mailer's code itself never calls SQS).
data "aws_iam_policy_document" "notification_mailer_queues" {
  statement {
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
    resources = [aws_sqs_queue.mail.arn, aws_sqs_queue.ses_events.arn]
  }
}

resource "aws_iam_role_policy" "notification_mailer_queues" {
  name   = "queues"
  role   = aws_iam_role.function["notification-mailer"].id
  policy = data.aws_iam_policy_document.notification_mailer_queues.json
}
