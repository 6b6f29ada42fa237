# EventBridge Scheduler invokes every function whose functions.tf entry has schedules, each schedule with its own
# input, with retries and a dead-letter queue for invocations that still fail.

locals {
  # "<function>" (the `default` schedule) or "<function>-<id>" => { function, expression, input }. The `default`
  # id keeps a function's only schedule named after the function.
  schedules = merge([
    for name, f in local.functions : {
      for id, s in f.schedules : (id == "default" ? name : "${name}-${id}") => {
        function   = name
        expression = s.expression
        input      = s.input
      }
    }
  ]...)
}

resource "aws_sqs_queue" "schedule_dlq" {
  name                              = "${local.prefix}-schedule-dlq"
  message_retention_seconds         = 1209600
  kms_master_key_id                 = aws_kms_key.portal.arn
  kms_data_key_reuse_period_seconds = 3600
}

data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  count              = length(local.scheduled_functions) > 0 ? 1 : 0
  name               = "${local.prefix}-scheduler"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    actions   = ["lambda:InvokeFunction"]
    resources = [for name, _ in local.scheduled_functions : aws_lambda_function.function[name].arn]
  }
  statement {
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.schedule_dlq.arn]
  }
  statement {
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.portal.arn]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  count  = length(local.scheduled_functions) > 0 ? 1 : 0
  name   = "${local.prefix}-scheduler"
  role   = aws_iam_role.scheduler[0].id
  policy = data.aws_iam_policy_document.scheduler.json
}

resource "aws_scheduler_schedule" "function" {
  for_each                     = local.schedules
  name                         = "${local.prefix}-${each.key}"
  schedule_expression          = each.value.expression
  schedule_expression_timezone = "UTC"
  kms_key_arn                  = aws_kms_key.portal.arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.function[each.value.function].arn
    role_arn = aws_iam_role.scheduler[0].arn
    input    = each.value.input

    retry_policy {
      maximum_retry_attempts       = 2
      maximum_event_age_in_seconds = 3600
    }

    dead_letter_config {
      arn = aws_sqs_queue.schedule_dlq.arn
    }
  }
}
