# One role per function, with exactly the statements of its entry in functions.tf (placeholders expanded below)
# plus its own log group and X-Ray. infra/tests/consistency.py checks each statement list against the AWS calls
# the function's code can reach. Every DynamoDB statement carries the entry's leading_keys as a
# dynamodb:LeadingKeys condition (functions.tf header), so a role reaches only the partitions its code builds.
# A statement on {details_key} carries the sealing encryption-context condition (kms.tf), and the same actions
# are what the details key's own policy grants that role: a role without such a statement cannot use the key.

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "function" {
  for_each           = local.functions
  name               = "${local.prefix}-${each.key}"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

locals {
  # Queues a function may name as {queue:<key>}.
  queue_arns = {
    documents    = aws_sqs_queue.documents.arn
    sign_in_mail = aws_sqs_queue.sign_in_mail.arn
    mail         = aws_sqs_queue.mail.arn
    ses_events   = aws_sqs_queue.ses_events.arn
  }

  # Expand a placeholder resource of functions.tf into ARNs.
  function_statements = {
    for name, f in local.functions : name => [
      for s in f.permissions : {
        actions = s.actions
        # DynamoDB statements only (consistency.py keeps dynamodb:* apart from other services' actions).
        leading_keys = anytrue([for a in s.actions : startswith(a, "dynamodb:")]) ? f.leading_keys : []
        # {details_key}: only with the sealing encryption context (kms.tf), like the key policy's statement.
        key_conditions = contains(s.resources, "{details_key}") ? local.details_key_conditions : []
        resources = flatten([
          for r in s.resources : (
            r == "{ses_identities}" ? local.ses_sending_arns :
            r == "{details_key}" ? [aws_kms_key.details.arn] :
            startswith(r, "{secret:") ? [local.secret_arns[trimsuffix(trimprefix(r, "{secret:"), "}")]] :
            startswith(r, "{queue:") ? [local.queue_arns[trimsuffix(trimprefix(r, "{queue:"), "}")]] :
            [replace(replace(replace(r,
              "{table}", aws_dynamodb_table.portal.arn),
              "{exports_bucket}", aws_s3_bucket.portal["exports"].arn),
            "{documents_bucket}", aws_s3_bucket.portal["documents"].arn)]
          )
        ])
      }
    ]
  }
}

data "aws_iam_policy_document" "function" {
  for_each = local.functions

  statement {
    sid       = "OwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function[each.key].arn}:*"]
  }

  statement {
    # checkov:skip=CKV_AWS_111:X-Ray trace submission has no resource-level permissions.
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }

  statement {
    sid       = "DecryptPortalKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.portal.arn]
  }

  # The secrets of the entry's `secrets` map, read once at cold start (shared/secrets).
  dynamic "statement" {
    for_each = length(each.value.secrets) > 0 ? [1] : []
    content {
      sid       = "ReadOwnSecrets"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = distinct([for key in values(each.value.secrets) : local.secret_arns[key]])
    }
  }

  dynamic "statement" {
    for_each = local.function_statements[each.key]
    content {
      actions   = statement.value.actions
      resources = statement.value.resources

      # Only items whose partition key (for an index Query: the index's hash key value) matches one of the
      # entry's leading_keys.
      dynamic "condition" {
        for_each = length(statement.value.leading_keys) > 0 ? [1] : []
        content {
          test     = "ForAllValues:StringLike"
          variable = "dynamodb:LeadingKeys"
          values   = statement.value.leading_keys
        }
      }

      dynamic "condition" {
        for_each = statement.value.key_conditions
        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }
}

resource "aws_iam_role_policy" "function" {
  for_each = local.functions
  name     = "${local.prefix}-${each.key}"
  role     = aws_iam_role.function[each.key].id
  policy   = data.aws_iam_policy_document.function[each.key].json
}
