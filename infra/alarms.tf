# Alarms to one SNS topic: per-function errors and throttles, dead-letter depth, and finance exporter lag
# (no successful exporter run for an hour means events are piling up in the outbox).

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
    schedule  = { queue = aws_sqs_queue.schedule_dlq.name, what = "A scheduled invocation failed after its retries" }
    documents = { queue = aws_sqs_queue.documents_dlq.name, what = "A document regeneration failed 5 times" }
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
