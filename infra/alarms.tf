# Alarms to one SNS topic: per-function errors and throttles, dead-letter depth, finance exporter lag (no
# successful exporter run for an hour means events are piling up in the outbox), details-retention lag (no
# successful daily run for 26 hours means details are kept past their retention), log lines the code marks for a
# person (`alarm=...`), operator sign-in links returned instead of emailed, amendment-request emails not sent, and
# the customer mailer's emails of unknown outcome, repeated failures and relay lag.

resource "aws_sns_topic" "alarms" {
  name              = "${local.prefix}-alarms"
  kms_master_key_id = aws_kms_key.portal.arn
}

resource "aws_sns_topic_subscription" "alarm_email" {
  count     = var.alarm_email == "" ? 0 : 1
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

resource "aws_cloudwatch_metric_alarm" "function_errors" {
  for_each            = local.functions
  alarm_name          = "${local.prefix}-${each.key}-errors"
  alarm_description   = "${each.key}: invocations failed (a panic, a timeout or a start-up configuration error)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.function[each.key].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "function_throttles" {
  for_each            = local.functions
  alarm_name          = "${local.prefix}-${each.key}-throttles"
  alarm_description   = "${each.key}: invocations throttled (reserved concurrency or account limit reached)."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = aws_lambda_function.function[each.key].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
}

# Every dead-letter queue: one message there is work that failed all its retries and waits for a person.
locals {
  dead_letter_queues = {
    schedule     = { queue = aws_sqs_queue.schedule_dlq.name, what = "A scheduled invocation failed after its retries" }
    documents    = { queue = aws_sqs_queue.documents_dlq.name, what = "A document regeneration failed 5 times" }
    sign_in_mail = { queue = aws_sqs_queue.sign_in_mail_dlq.name, what = "A sign-in email failed 3 times" }
    mail         = { queue = aws_sqs_queue.mail_dlq.name, what = "A customer notice message (notification-mailer) failed 5 times: its emails were not sent" }
    ses_events   = { queue = aws_sqs_queue.ses_events_dlq.name, what = "An SES bounce or complaint event (notification-mailer) failed 5 times: the address is not suppressed" }
  }
}

resource "aws_cloudwatch_metric_alarm" "dlq_depth" {
  for_each            = local.dead_letter_queues
  alarm_name          = "${local.prefix}-${each.key}-dlq-depth"
  alarm_description   = "${each.value.what}; its message is in ${each.value.queue}."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value.queue }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "exporter_lag" {
  alarm_name          = "${local.prefix}-finance-exporter-lag"
  alarm_description   = "No successful finance export run in the last hour: outbox events are not reaching the exports bucket."
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  evaluation_periods  = 1
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  metric_query {
    id          = "ok_runs"
    expression  = "invocations - errors"
    label       = "successful runs"
    return_data = true
  }

  metric_query {
    id = "invocations"
    metric {
      namespace   = "AWS/Lambda"
      metric_name = "Invocations"
      dimensions  = { FunctionName = aws_lambda_function.function["finance-exporter"].function_name }
      period      = 3600
      stat        = "Sum"
    }
  }

  metric_query {
    id = "errors"
    metric {
      namespace   = "AWS/Lambda"
      metric_name = "Errors"
      dimensions  = { FunctionName = aws_lambda_function.function["finance-exporter"].function_name }
      period      = 3600
      stat        = "Sum"
    }
  }
}

# The daily details-retention job (03:30 UTC) had no successful run for 26 hours: traveller details past their
# retention are being kept (a failing run also fires its -errors alarm; this one also catches a run that never
# started, e.g. a broken schedule). Hours without a run are missing data, so "breaching"; one successful run in
# the 26 hourly windows keeps it OK.
resource "aws_cloudwatch_metric_alarm" "details_retention_lag" {
  alarm_name          = "${local.prefix}-details-retention-lag"
  alarm_description   = "No successful details-retention run in the last 26 hours: traveller details past their retention are not being erased (docs/traveller-details.md, Retention)."
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  evaluation_periods  = 26
  datapoints_to_alarm = 26
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  metric_query {
    id          = "ok_runs"
    expression  = "invocations - errors"
    label       = "successful runs"
    return_data = true
  }

  metric_query {
    id = "invocations"
    metric {
      namespace   = "AWS/Lambda"
      metric_name = "Invocations"
      dimensions  = { FunctionName = aws_lambda_function.function["details-retention"].function_name }
      period      = 3600
      stat        = "Sum"
    }
  }

  metric_query {
    id = "errors"
    metric {
      namespace   = "AWS/Lambda"
      metric_name = "Errors"
      dimensions  = { FunctionName = aws_lambda_function.function["details-retention"].function_name }
      period      = 3600
      stat        = "Sum"
    }
  }
}

# Log lines (tracing JSON, `{"level": .., "fields": {"message": .., "alarm": "excess_refund_failed", ..}}`) that
# the code logs with an `alarm` field: something a person must look at (a refund that failed, a payment not
# reconciled, a booking under sign-in guessing, an address at its daily sign-in email cap). One metric per
# function, in namespace <prefix>/<function>.
resource "aws_cloudwatch_log_metric_filter" "portal_alarms" {
  for_each       = local.functions
  name           = "${local.prefix}-${each.key}-portal-alarms"
  log_group_name = aws_cloudwatch_log_group.function[each.key].name
  pattern        = "{ $.fields.alarm = * }"

  metric_transformation {
    name          = "PortalAlarms"
    namespace     = "${local.prefix}/${each.key}"
    value         = "1"
    default_value = "0"
  }
}

resource "aws_cloudwatch_metric_alarm" "portal_alarms" {
  for_each            = local.functions
  alarm_name          = "${local.prefix}-${each.key}-portal-alarms"
  alarm_description   = "${each.key} logged a line with an `alarm` field (fields.alarm names what happened): search its log group for it."
  namespace           = "${local.prefix}/${each.key}"
  metric_name         = "PortalAlarms"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  depends_on          = [aws_cloudwatch_log_metric_filter.portal_alarms]
}

# An operator-issued sign-in link returned in the API response instead of emailed (the one way around the email
# check; functions/auth logs `metric=operator_link_returned` for each). Many in an hour is worth a look.
resource "aws_cloudwatch_log_metric_filter" "operator_links_returned" {
  name           = "${local.prefix}-auth-operator-links-returned"
  log_group_name = aws_cloudwatch_log_group.function["auth"].name
  pattern        = "{ $.fields.metric = \"operator_link_returned\" }"

  metric_transformation {
    name          = "OperatorLinksReturned"
    namespace     = "${local.prefix}/auth"
    value         = "1"
    default_value = "0"
  }
}

resource "aws_cloudwatch_metric_alarm" "operator_links_returned" {
  alarm_name          = "${local.prefix}-auth-operator-links-returned"
  alarm_description   = "Operators had ${var.returned_links_alarm_threshold} or more sign-in links returned to them (not emailed) in an hour: check who (the log lines name the operator principal and booking)."
  namespace           = "${local.prefix}/auth"
  metric_name         = "OperatorLinksReturned"
  statistic           = "Sum"
  period              = 3600
  evaluation_periods  = 1
  threshold           = var.returned_links_alarm_threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  depends_on          = [aws_cloudwatch_log_metric_filter.operator_links_returned]
}

# An amendment-request email (to the role's team, or to the customer) that SES refused or that failed to send:
# functions/requests/src/mail.rs logs `request email not sent` (error level, with the booking, which email and the
# masked recipient) after the change committed, and does not retry (issue 21 moves emails to an outbox-driven
# mailer). Until then a team may not know about a new request or a customer about a reply: one is worth a look.
resource "aws_cloudwatch_log_metric_filter" "request_emails_not_sent" {
  name           = "${local.prefix}-requests-emails-not-sent"
  log_group_name = aws_cloudwatch_log_group.function["requests"].name
  pattern        = "{ $.fields.message = \"request email not sent\" }"

  metric_transformation {
    name          = "RequestEmailsNotSent"
    namespace     = "${local.prefix}/requests"
    value         = "1"
    default_value = "0"
  }
}

resource "aws_cloudwatch_metric_alarm" "request_emails_not_sent" {
  alarm_name          = "${local.prefix}-requests-emails-not-sent"
  alarm_description   = "The requests function could not send an amendment-request email (team notification or customer update) in the last 5 minutes; the change itself is saved. Search its log group for \"request email not sent\" (booking, which email, masked recipient, SES error) and tell the team or the customer by hand."
  namespace           = "${local.prefix}/requests"
  metric_name         = "RequestEmailsNotSent"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  depends_on          = [aws_cloudwatch_log_metric_filter.request_emails_not_sent]
}

# Customer notifications (infra/notifications.tf). The mailer logs `notice email outcome unknown` (error level,
# with the booking, notice and masked recipient) when a worker stopped between claiming a send and recording SES's
# answer, or SES's answer was lost: the email may or may not have gone, and it is never retried (a duplicate is
# worse than a gap). One is worth a look: the operator view (GET /operator/bookings/{reference}/emails) shows it
# as `unknown`; tell the customer by hand if it matters.
resource "aws_cloudwatch_log_metric_filter" "notice_emails_unknown" {
  name           = "${local.prefix}-notification-mailer-emails-unknown"
  log_group_name = aws_cloudwatch_log_group.function["notification-mailer"].name
  pattern        = "{ $.fields.message = \"notice email outcome unknown\" }"

  metric_transformation {
    name          = "NoticeEmailsUnknown"
    namespace     = "${local.prefix}/notification-mailer"
    value         = "1"
    default_value = "0"
  }
}

resource "aws_cloudwatch_metric_alarm" "notice_emails_unknown" {
  alarm_name          = "${local.prefix}-notification-mailer-emails-unknown"
  alarm_description   = "The notification-mailer could not tell whether a customer email was sent (it is never retried). Search its log group for \"notice email outcome unknown\" (booking, notice, masked recipient) and check GET /operator/bookings/{reference}/emails."
  namespace           = "${local.prefix}/notification-mailer"
  metric_name         = "NoticeEmailsUnknown"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  depends_on          = [aws_cloudwatch_log_metric_filter.notice_emails_unknown]
}

# `notice email failed`: SES refused or could not be reached, and the message goes back to the queue to be
# retried (5 receives, then the mail dead-letter queue). One is a blip; many in a quarter of an hour are SES
# trouble (sending paused, quota, an identity unverified) that delays every customer email.
resource "aws_cloudwatch_log_metric_filter" "notice_emails_failed" {
  name           = "${local.prefix}-notification-mailer-emails-failed"
  log_group_name = aws_cloudwatch_log_group.function["notification-mailer"].name
  pattern        = "{ $.fields.message = \"notice email failed\" }"

  metric_transformation {
    name          = "NoticeEmailsFailed"
    namespace     = "${local.prefix}/notification-mailer"
    value         = "1"
    default_value = "0"
  }
}

resource "aws_cloudwatch_metric_alarm" "notice_emails_failed" {
  alarm_name          = "${local.prefix}-notification-mailer-emails-failed"
  alarm_description   = "The notification-mailer failed to send customer emails 5 or more times in 15 minutes (they are retried, then parked in the mail dead-letter queue). Search its log group for \"notice email failed\" (the SES error) and check SES sending in the account."
  namespace           = "${local.prefix}/notification-mailer"
  metric_name         = "NoticeEmailsFailed"
  statistic           = "Sum"
  period              = 900
  evaluation_periods  = 1
  threshold           = 5
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  depends_on          = [aws_cloudwatch_log_metric_filter.notice_emails_failed]
}

# The relay runs every minute: no successful run in 15 minutes means notices are piling up in the mail outbox and
# no customer email goes out (a failing run also fires its -errors alarm; this one also catches a schedule that
# never fires). Minutes without a run are missing data, so "breaching".
resource "aws_cloudwatch_metric_alarm" "notification_relay_lag" {
  alarm_name          = "${local.prefix}-notification-relay-lag"
  alarm_description   = "No successful notification-relay run in the last 15 minutes: customer emails are waiting in the mail outbox (the MAILQ partition of open_payments)."
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  evaluation_periods  = 1
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  metric_query {
    id          = "ok_runs"
    expression  = "invocations - errors"
    label       = "successful runs"
    return_data = true
  }

  metric_query {
    id = "invocations"
    metric {
      namespace   = "AWS/Lambda"
      metric_name = "Invocations"
      dimensions  = { FunctionName = aws_lambda_function.function["notification-relay"].function_name }
      period      = 900
      stat        = "Sum"
    }
  }

  metric_query {
    id = "errors"
    metric {
      namespace   = "AWS/Lambda"
      metric_name = "Errors"
      dimensions  = { FunctionName = aws_lambda_function.function["notification-relay"].function_name }
      period      = 900
      stat        = "Sum"
    }
  }
}
